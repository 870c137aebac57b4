"""The AI refinement of rule segments: it may reassign and explains itself; the rule stands whenever the
model fails or answers a segment not in use; statistics, console and API use the effective segment."""

import pytest
from django.urls import reverse

from llm import use_provider
from llm.errors import PermanentLLMError
from llm.models import LLMCall
from llm.providers import BatchOutcome
from llm.tasks import collect_batches_task
from llm.testing import FakeProvider, reply
from notifications import segment_refinement, segments
from notifications.models import CustomerRecord
from notifications.tasks import refine_segments_task

RULES = segments.parse_rules(segments.DEFAULT_RULES)


@pytest.mark.parametrize(
    ("facts", "segment", "says"),
    [
        # One tariff enquiry makes a Value Seeker by rule; a missed payment and complaints say otherwise.
        (
            {"price_enquiries": 1, "payment_status": "missed", "complaints": 2},
            "Support Needed",
            "Support Needed rather than Value Seekers: payment status missed, 2 complaints outweigh 1 price enquiry.",
        ),
        # Several enquiries outweigh a late payment: the rule's segment stands, explained.
        (
            {"price_enquiries": 3, "payment_status": "late"},
            "Value Seekers",
            "Agrees with the rule: 3 price enquiries.",
        ),
        ({"tenure_months": 70}, "Loyal Traditionalists", "Agrees with the rule: nothing in the data"),
    ],
)
def test_offline_refinement_reassigns_only_when_the_data_speaks_clearly_and_says_why(facts, segment, says):
    rule = segments.classify(facts, RULES)
    result = segments.refine(facts, segments.matching_segments(facts, RULES), rule.segment)
    assert result.segment == segment
    assert result.reason.startswith(says)


def _support_case(team):
    """A sample customer who is a Value Seeker by rule and whose data says Support Needed."""
    for rec in CustomerRecord.objects.filter(team=team, rule_segment=segments.VALUE_SEEKERS):
        if rec.segment == "Support Needed":
            return rec
    raise AssertionError("the sample holds no Value Seeker with missed payments and complaints")


def test_refinement_reassigns_explains_and_the_statistics_follow(imported, team, agent, client):
    stats = segment_refinement.refine_segments(team)
    assert stats.asked == stats.customers == CustomerRecord.objects.filter(team=team).count()
    assert stats.reassigned > 0 and stats.rejected == 0
    rec = _support_case(team)
    assert rec.segment_source == "ai" and rec.account.segment == "Support Needed"
    assert rec.segment_reason.startswith("Support Needed rather than Value Seekers:")
    # A rerun on the same data asks nothing.
    again = segment_refinement.refine_segments(team)
    assert again.asked == 0 and again.unchanged == stats.customers

    client.force_login(agent)
    api = client.get(reverse("notifications-api-segments") + f"?team={team.slug}").json()
    by_name = {s["segment"]: s for s in api["segments"]}
    assert (
        by_name["Support Needed"]["customers"]
        == CustomerRecord.objects.filter(team=team, segment="Support Needed").count()
    )
    assert by_name["Support Needed"]["reassigned_by_ai"] >= 1
    customers = client.get(reverse("notifications-api-customers") + f"?team={team.slug}&segment=Support+Needed").json()
    row = next(c for c in customers["results"] if c["customer_id"] == rec.customer_id)
    assert row["segment_source"] == "ai" and row["rule_segment"] == segments.VALUE_SEEKERS
    assert row["segment_reason"] == rec.segment_reason
    page = client.get(reverse("notifications:record", args=["profile", rec.customer_id]) + f"?team={team.slug}")
    assert rec.segment_reason in page.content.decode()


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ({"segment": "Platinum Whales", "reason": "Spends a lot."}, "answered a segment not in use"),
        ({"segment": "Support Needed", "reason": "  "}, "gave no explanation"),
    ],
)
def test_an_invalid_answer_leaves_the_rule_segment(imported, team, answer, why):
    rec = CustomerRecord.objects.filter(team=team, rule_segment=segments.VALUE_SEEKERS).first()
    with use_provider(FakeProvider([reply(data=answer)])):
        stats = segment_refinement.refine_segments(team, [rec.pk])
    rec.refresh_from_db()
    assert stats.rejected == 1
    assert rec.segment == segments.VALUE_SEEKERS and rec.segment_source == "rule"
    assert rec.refinement["rejected"].startswith(why)
    assert rec.segment_reason.startswith("rule: ")


def test_a_failing_model_leaves_the_rule_segment(imported, team):
    rec = _support_case_after_offline(team)
    with use_provider(FakeProvider([PermanentLLMError("model unavailable")])):
        segment_refinement.refine_segments(team, [rec.pk], force_refresh=True)
    rec.refresh_from_db()
    assert rec.segment == segments.VALUE_SEEKERS and rec.segment_source == "rule"
    assert rec.refinement["rejected"].startswith("the model failed")


def _support_case_after_offline(team):
    segment_refinement.refine_segments(team)
    return _support_case(team)


def test_recompute_keeps_a_fresh_refinement_and_refines_again_when_the_data_changes(
    imported, team, django_capture_on_commit_callbacks
):
    from notifications.facts import recompute

    rec = _support_case_after_offline(team)
    recompute(team)
    rec.refresh_from_db()
    assert rec.segment == "Support Needed"  # same data: the refinement still holds
    CustomerRecord.objects.filter(pk=rec.pk).update(payment_status="ok")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        recompute(team, [rec.pk])
    rec.refresh_from_db()
    assert len(callbacks) == 1  # the refinement task, queued after commit
    assert rec.rule_segment == segments.VALUE_SEEKERS
    assert rec.segment_source == "ai" and rec.refinement["hash"] and not rec.refinement["rejected"]
    assert refine_segments_task(team.pk)["asked"] == 0  # idempotent
    assert LLMCall.objects.filter(feature="notifications.segment").exists()


class SegmentBatchProvider(FakeProvider):
    """Message Batches that end at once; every customer answered "Support Needed"."""

    supports_batches = True

    def __init__(self):
        super().__init__([reply(data={"segment": "Support Needed", "reason": "Two missed payments."})])
        self.batches = {}

    def submit_batch(self, requests, *, timeout):
        self.batches["b1"] = [custom_id for custom_id, _ in requests]
        return "b1"

    def batch_ended(self, batch_id, *, timeout):
        return True

    def batch_results(self, batch_id, requests, *, timeout):
        for custom_id in self.batches[batch_id]:
            yield BatchOutcome(custom_id, reply=self.script[0])


def test_many_customers_are_refined_through_a_batch_and_stale_answers_are_dropped(imported, team, settings):
    settings.LLM_BATCH_MIN_ITEMS = 3
    ids = list(
        CustomerRecord.objects.filter(team=team, rule_segment=segments.VALUE_SEEKERS).values_list("pk", flat=True)[:4]
    )
    with use_provider(SegmentBatchProvider()):
        stats = segment_refinement.refine_segments(team, ids, force_refresh=True)
        assert stats.batched == 4 and stats.asked == 4
        assert set(CustomerRecord.objects.filter(pk__in=ids).values_list("segment", flat=True)) == {
            segments.VALUE_SEEKERS
        }
        moved = CustomerRecord.objects.get(pk=ids[0])
        moved.refinement = {**moved.refinement, "pending": "another inputs hash"}  # the data changed meanwhile
        moved.save(update_fields=["refinement"])
        assert collect_batches_task()["items"] == 4
    refined = CustomerRecord.objects.filter(pk__in=ids[1:])
    assert {(r.segment, r.segment_source, r.segment_reason) for r in refined} == {
        ("Support Needed", "ai", "Two missed payments.")
    }
    assert all(r.account.segment == "Support Needed" for r in refined)
    moved.refresh_from_db()
    assert moved.segment == segments.VALUE_SEEKERS and moved.segment_source == "rule"


def test_an_import_queues_the_refinement_after_commit_rather_than_running_it_inline(
    team, manager, django_capture_on_commit_callbacks
):
    from notifications import importing
    from notifications.tests.conftest import sample_files

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = importing.import_customers(sample_files(), team=team, actor=manager)
    assert run.status == "imported", run.report
    records = CustomerRecord.objects.filter(team=team)
    assert not records.filter(segment_source="ai").exists()  # the rule segments, until the task runs
    assert not LLMCall.objects.filter(feature="notifications.segment").exists()
    for callback in callbacks:  # what a worker (or, with no REDIS_URL, the process itself) does at commit
        callback()
    assert records.filter(segment_source="ai").exists()
