import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.models import Activity, AuditEvent, Deal
from nudges import services, tasks
from nudges.models import Nudge, NudgeSettings
from nudges.tests.conftest import add_email


def test_stale_deal_gets_one_nudge_with_warnings_why_now_and_offline_text(stale_deal):
    summary = services.refresh_nudges(deal_ids=[stale_deal.pk])
    assert summary.created == 1
    nudge = Nudge.objects.get(deal=stale_deal)
    assert nudge.status == Nudge.Status.OPEN
    assert nudge.warning_list == ["no_activity"]
    assert nudge.why_now == "Idle 12 days in Proposal where this stage expects 7"
    assert nudge.urgency == 12 * 5000
    assert nudge.offline is True
    assert "Dana" in nudge.text
    assert "Did the revised pricing reach procurement?" in nudge.text
    assert nudge.tone == "formal"


def test_fresh_deal_gets_no_nudge(fresh_deal):
    assert services.refresh_nudges(deal_ids=[fresh_deal.pk]).created == 0
    assert not Nudge.objects.exists()


def test_refresh_task_is_idempotent_and_rewrites_only_when_inputs_change(stale_deal):
    first = tasks.refresh_nudges_task([stale_deal.pk])
    second = tasks.refresh_nudges_task([stale_deal.pk])
    assert (first["created"], second["created"], second["updated"], second["unchanged"]) == (1, 0, 0, 1)
    assert Nudge.objects.count() == 1
    Deal.objects.filter(pk=stale_deal.pk).update(amount=6000)
    third = tasks.refresh_nudges_task([stale_deal.pk])
    assert third["updated"] == 1
    assert Nudge.objects.get().urgency == 12 * 6000


def test_database_allows_one_open_nudge_per_deal(stale_deal):
    services.refresh_nudges(deal_ids=[stale_deal.pk])
    existing = Nudge.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Nudge.objects.create(team=existing.team, deal=stale_deal, why_now="x", text="y", input_hash="z")
    existing.close(status=Nudge.Status.DONE, actor=None)
    Nudge.objects.create(team=existing.team, deal=stale_deal, why_now="x", text="y", input_hash="z")
    assert Nudge.objects.filter(deal=stale_deal).count() == 2


def test_nudge_expires_when_the_deal_is_touched(stale_deal, agent):
    services.refresh_nudges(deal_ids=[stale_deal.pk])
    stale_deal.record_touch(timezone.now())
    summary = services.refresh_nudges(deal_ids=[stale_deal.pk])
    assert summary.expired == 1
    assert Nudge.objects.get().status == Nudge.Status.EXPIRED


def test_done_logs_a_touch_that_resets_the_idle_clock(stale_deal, agent):
    services.refresh_nudges(deal_ids=[stale_deal.pk])
    nudge = Nudge.objects.get()
    services.act_on_nudge(nudge=nudge, actor=agent, action="done", kind="call", note="Called Dana")
    nudge.refresh_from_db()
    stale_deal.refresh_from_db()
    assert nudge.status == Nudge.Status.DONE
    assert nudge.acted_by == agent
    call = Activity.objects.get(kind="call")
    assert (call.deal, call.body, call.actor) == (stale_deal, "Called Dana", agent)
    assert stale_deal.last_activity_at == call.occurred_at
    assert services.refresh_nudges(deal_ids=[stale_deal.pk]).created == 0
    assert AuditEvent.objects.filter(object_id=str(nudge.pk), action="update").exists()


def test_snooze_sets_the_deal_snooze_and_suppresses_nudges_until_then(stale_deal, agent):
    services.refresh_nudges(deal_ids=[stale_deal.pk])
    until = timezone.now().date() + timedelta(days=30)
    services.act_on_nudge(
        nudge=Nudge.objects.get(), actor=agent, action="snooze", until=until, reason="budget freeze until January"
    )
    stale_deal.refresh_from_db()
    assert (stale_deal.snoozed_until, stale_deal.snooze_reason) == (until, "budget freeze until January")
    assert services.refresh_nudges(deal_ids=[stale_deal.pk]).created == 0
    assert Nudge.objects.get().status == Nudge.Status.SNOOZED


@pytest.mark.parametrize(
    "action, kwargs, message",
    [
        ("snooze", {"reason": "x"}, "Snooze until a future date."),
        ("snooze", {"reason": "x", "until_days": 0}, "Snooze until a future date."),
        ("snooze", {"reason": " ", "until_days": 3}, "Say why the deal is paused."),
        ("dismiss", {"reason": ""}, "Say why the nudge is dismissed."),
        ("explode", {}, "Unknown action 'explode'."),
    ],
)
def test_invalid_actions_change_nothing(stale_deal, agent, action, kwargs, message):
    services.refresh_nudges(deal_ids=[stale_deal.pk])
    days = kwargs.pop("until_days", None)
    until = None if days is None else timezone.now().date() + timedelta(days=days)
    with pytest.raises(services.ActionError, match=message.replace("?", r"\?").replace("(", r"\(")):
        services.act_on_nudge(nudge=Nudge.objects.get(), actor=agent, action=action, until=until, **kwargs)
    assert Nudge.objects.get().status == Nudge.Status.OPEN


def test_acting_twice_is_refused(stale_deal, agent):
    services.refresh_nudges(deal_ids=[stale_deal.pk])
    nudge = Nudge.objects.get()
    services.act_on_nudge(nudge=nudge, actor=agent, action="dismiss", reason="wrong contact")
    with pytest.raises(services.ActionError, match="already dismissed"):
        services.act_on_nudge(nudge=nudge, actor=agent, action="done")
    assert Activity.objects.filter(kind="note").count() == 0


def test_dismissed_nudge_stays_dismissed_until_something_changes(stale_deal, agent):
    services.refresh_nudges(deal_ids=[stale_deal.pk])
    services.act_on_nudge(nudge=Nudge.objects.get(), actor=agent, action="dismiss", reason="customer on holiday")
    again = services.refresh_nudges(deal_ids=[stale_deal.pk])
    assert (again.created, again.suppressed) == (0, 1)
    # A new warning (their next step is overdue) is news: nudge again.
    Deal.objects.filter(pk=stale_deal.pk).update(
        next_step="Send order form", next_step_due=timezone.now().date() - timedelta(days=2)
    )
    assert services.refresh_nudges(deal_ids=[stale_deal.pk]).created == 1


def test_ghosted_contact_is_nudged_before_the_idle_threshold(deal):
    # Dana answers within ~2 hours; our last email is 4 days old and unanswered. Idle only 4 days.
    for days in (30, 20, 10):
        add_email(deal, direction="out", days_ago=days, hours=2)
        add_email(deal, direction="in", days_ago=days)
    add_email(deal, direction="out", days_ago=4, body="Hi Dana! Any news on the pilot?")
    Deal.objects.filter(pk=deal.pk).update(last_activity_at=timezone.now() - timedelta(days=4))
    services.refresh_nudges(deal_ids=[deal.pk])
    nudge = Nudge.objects.get()
    assert nudge.warning_list == ["ghosted"]
    assert nudge.why_now == "Dana usually answers within 2 hours and has been silent for 4 days"
    assert nudge.tone == "casual"
    assert nudge.text.startswith("Give Dana a call today")


def test_team_settings_switch_warnings_off(stale_deal):
    NudgeSettings.objects.create(team=stale_deal.team, no_activity_enabled=False)
    assert services.refresh_nudges(deal_ids=[stale_deal.pk]).created == 0


def test_settings_defaults_come_from_env_settings(team, settings):
    settings.NUDGES_MIN_IDLE_DAYS = 3
    settings.NUDGES_GHOST_FACTOR = 5.0
    obj = NudgeSettings.for_team(team.pk)
    assert (obj.min_idle_days, obj.ghost_factor) == (3, 5.0)


def test_scan_fans_out_in_chunks_of_deal_ids(stale_deal, fresh_deal, foreign_stale_deal, settings, monkeypatch):
    seen = []
    monkeypatch.setattr(tasks.refresh_nudges_task, "delay_on_commit", lambda ids: seen.append(list(ids)))
    chunks = tasks.scan_nudges(chunk_size=2)
    assert chunks == 2
    assert sorted(sum(seen, [])) == sorted([stale_deal.pk, fresh_deal.pk, foreign_stale_deal.pk])
    assert all(len(c) <= 2 for c in seen)


def test_scan_task_generates_nudges_in_scope_and_twice_changes_nothing(
    stale_deal, foreign_stale_deal, team, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        tasks.scan_nudges_task([team.pk])
    with django_capture_on_commit_callbacks(execute=True):
        tasks.scan_nudges_task([team.pk])
    assert list(Nudge.objects.values_list("deal_id", flat=True)) == [stale_deal.pk]


def test_scan_skips_snoozed_and_scheduled_deals(stale_deal):
    Deal.objects.filter(pk=stale_deal.pk).update(next_step_due=timezone.now().date() + timedelta(days=2))
    assert services.candidate_deal_ids() == []


def test_generate_nudges_command_writes_the_batch_file(stale_deal, foreign_stale_deal, tmp_path, capsys):
    out = tmp_path / "out" / "nudges.json"
    call_command("generate_nudges", out=str(out))
    items = json.loads(out.read_text())
    assert [i["deal_id"] for i in items] == [str(foreign_stale_deal.pk), str(stale_deal.pk)]  # most urgent first
    assert {"deal_id", "nudge", "urgency", "warnings", "why_now"} <= set(items[0])
    summary = capsys.readouterr().out
    assert "2 new nudges" in summary and f"Wrote 2 open nudges to {out}" in summary
    call_command("generate_nudges", out=str(out), team=["blue"])
    assert [i["deal_id"] for i in json.loads(out.read_text())] == [str(stale_deal.pk)]


def test_demo_load_creates_nudges_for_the_demo_world(db):
    from crm.demo import load_demo
    from nudges import demo

    load_demo()
    line = demo.load()
    assert Nudge.objects.open().filter(team__slug="enterprise-sales").exists()
    count = Nudge.objects.count()
    assert demo.load().startswith("Nudges:")
    assert Nudge.objects.count() == count
    assert "open" in line


def test_usual_reply_time_pools_every_deal_of_the_contact(deal, account, contact, agent, stages):
    from nudges import scan

    other = Deal.objects.create(
        team=account.team,
        account=account,
        primary_contact=contact,
        owner=agent,
        name="Second deal",
        stage=stages["lead"],
        amount=100,
    )
    # deal: Dana answered after 1 h; other: after 9 h and 11 h -> pooled median 9 h
    add_email(deal, direction="out", days_ago=5, hours=1)
    add_email(deal, direction="in", days_ago=5)
    add_email(other, direction="out", days_ago=9, hours=9)
    add_email(other, direction="in", days_ago=9)
    add_email(other, direction="out", days_ago=4, hours=11)
    add_email(other, direction="in", days_ago=4)
    add_email(other, direction="out", days_ago=2, body="Any news?")
    facts = {f.deal_id: f for _, f in scan.collect_facts(deal_ids=[deal.pk, other.pk])}
    assert facts[deal.pk].usual_reply_hours == pytest.approx(9, abs=0.01)
    assert facts[other.pk].usual_reply_hours == pytest.approx(9, abs=0.01)
    assert facts[deal.pk].waiting_since is None
    assert facts[other.pk].waiting_since is not None
    assert facts[other.pk].contacts_engaged == 1


def test_whole_scan_finds_the_stale_deals_of_the_teams(stale_deal, fresh_deal, foreign_stale_deal, team):
    from nudges import scan

    stale, checked = scan.stale_verdicts(team_ids=[team.pk])
    assert checked == 2
    assert [v.deal_id for v in stale] == [stale_deal.pk]
    everything, checked = scan.stale_verdicts()
    assert checked == 3
    assert {v.deal_id for v in everything} == {stale_deal.pk, foreign_stale_deal.pk}
