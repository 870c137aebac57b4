from datetime import timedelta

import pytest
from django.utils import timezone

from llm.models import LLMCall
from notifications import checks, runs, services
from notifications.models import AnalysisRun, CustomerRecord, Notification, NotificationSettings
from notifications.spelling import american_words

pytestmark = pytest.mark.django_db


def _run(team, **kw):
    run = AnalysisRun.objects.create(team=team, segment="Value Seekers", **kw)
    return runs.run_analysis(run.pk)


def test_analysis_of_the_focus_segment_drafts_one_notification_per_customer(imported, team):
    run = _run(team)
    vs = CustomerRecord.objects.filter(team=team, segment="Value Seekers").count()
    assert run.status == "done" and run.done == run.total == vs > 0
    assert Notification.objects.filter(team=team).count() == vs
    n = Notification.objects.filter(team=team).order_by("priority_rank", "-risk_score").first()
    assert n.analysis["contact_reason"] and n.analysis["trigger_factors"] and n.analysis["conversation_starters"]
    assert n.provenance["offline"] is True
    assert n.message.strip() and len(n.message) <= checks.limit_for(n.channel)


def test_offline_drafts_are_british_within_limits_and_invent_nothing(imported, team):
    _run(team)
    for n in Notification.objects.filter(team=team).select_related("record"):
        assert not american_words(n.message)
        failed = {f["check"] for f in n.failed_checks}
        assert not failed & {"british_spelling", "channel_limit", "invented_fact", "offer"}, (
            n.pk,
            n.failed_checks,
            n.message,
        )


def test_running_the_task_twice_changes_nothing_and_costs_nothing(imported, team):
    from notifications.tasks import analyse_segment_task

    run = AnalysisRun.objects.create(team=team, segment="Value Seekers")
    analyse_segment_task(run.pk)
    before = list(Notification.objects.values_list("pk", "updated_at"))
    calls = LLMCall.objects.count()
    analyse_segment_task(run.pk)  # finished: nothing
    _run(team)  # a new run over unchanged inputs
    assert list(Notification.objects.values_list("pk", "updated_at")) == before
    assert LLMCall.objects.count() == calls


def test_a_customer_whose_data_changed_is_reanalysed_in_place(imported, team):
    run = _run(team)
    n = Notification.objects.filter(team=team).order_by("pk").first()
    before = (n.pk, n.input_hash, n.updated_at, n.analysis["insights"])
    CustomerRecord.objects.filter(pk=n.record_id).update(engagement_score=12)
    again = _run(team)
    n.refresh_from_db()
    assert again.stats["asked"] == 1 and again.stats["unchanged"] == run.stats["asked"] - 1
    assert n.pk == before[0] and n.run_id == again.pk and n.input_hash != before[1] and n.updated_at > before[2]
    assert "engagement score 12" in n.analysis["insights"] and n.status == Notification.Status.DRAFT
    assert Notification.objects.filter(record_id=n.record_id).count() == 1


def test_agent_edit_survives_reanalysis(imported, team, agent):
    _run(team)
    n = Notification.objects.filter(team=team).first()
    services.save_draft(
        notification=n, subject="Your tariff options", message="Dear customer, a hand-written note.", actor=agent
    )
    _run(team, force_refresh=True)
    n.refresh_from_db()
    assert n.message == "Dear customer, a hand-written note."


def test_empty_or_too_long_edits_are_refused(imported, team, agent):
    _run(team)
    n = Notification.objects.filter(team=team).first()
    with pytest.raises(services.ServiceError, match="empty"):
        services.save_draft(notification=n, subject="x", message="   ", actor=agent)
    with pytest.raises(services.ServiceError, match="allows"):
        services.save_draft(notification=n, subject="x", message="a" * 5000, actor=agent)


def test_bulk_approve_approves_only_drafts_passing_every_check(imported, team, agent):
    _run(team)
    qs = Notification.objects.filter(team=team)
    bad = qs.filter(record__marketing_consent=True).first()
    services.save_draft(
        notification=bad,
        subject=bad.subject,
        message="We realize you want a 20% discount. Call 020 7946 0999.",
        actor=agent,
    )
    approved, refused = services.approve(notifications=qs, actor=agent)
    assert bad in refused
    failed = {f["check"] for f in Notification.objects.get(pk=bad.pk).failed_checks}
    assert {"british_spelling", "offer", "invented_fact"} <= failed
    assert approved and all(n.status == "approved" for n in approved)
    no_consent = [n for n in refused if not n.record.marketing_consent]
    assert all("consent" in {f["check"] for f in n.failed_checks} for n in no_consent)


@pytest.mark.parametrize("days_ago, clash", [(0, True), (7, True), (8, False)])
def test_same_subject_within_seven_days_clashes_with_history(imported, team, agent, days_ago, clash):
    """Counted from the day the checks run (the data's as-of date, or today when that is later):
    the sample's as-of date is fixed, so a history row dated by it stops clashing a week later."""
    from notifications.models import PastNotification

    _run(team)
    n = Notification.objects.filter(team=team, record__marketing_consent=True).first()
    conf = NotificationSettings.objects.get(team=team)
    today = max(conf.as_of or timezone.localdate(), timezone.localdate())
    PastNotification.objects.create(
        team=team, account=n.account, external_id="X1", sent_on=today - timedelta(days=days_ago), subject=n.subject
    )
    failures = services.run_checks(n)
    assert ("history_clash" in {f.check for f in failures}) is clash
