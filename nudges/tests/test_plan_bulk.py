"""Bulk plans: the same plans and cache keys as one at a time, and a rerun saves every model call."""

import pytest
from django.db import connection

from crm.models import Deal
from llm import use_provider
from llm.tasks import collect_batches_task as collect_batches
from llm.testing import FakeBatchProvider, FakeProvider, reply
from nudges import plan_bulk, plans
from nudges.models import DealSummary, Plan
from nudges.tests.conftest import add_email

pytestmark = pytest.mark.django_db


@pytest.fixture
def deals(account, contact, agent, stages):
    out = []
    for i in range(4):
        d = Deal.objects.create(team=account.team, account=account, primary_contact=contact, owner=agent,
                                name=f"Deal {i}", stage=stages["proposal"], amount=1000 * (i + 1))  # fmt: skip
        add_email(d, direction="out", days_ago=10 + i, body="Did the pricing reach procurement?")
        out.append(d)
    return out


def test_bulk_matches_single_and_reruns_from_cache(deals, django_assert_max_num_queries):
    ids = [d.pk for d in deals]
    stats = plan_bulk.plan_many(deal_ids=ids)
    assert stats.written == 4 and stats.cached == 0 and DealSummary.objects.count() == 4
    stored = DealSummary.objects.get(deal_id=ids[0])
    assert stored.data["touches"] == 1 and stored.data["key_themes"] == ["pricing", "contract"]
    for plan in Plan.objects.all():
        counts = {p: len(v) for p, v in plan.items_by_priority().items()}
        assert 1 <= counts["P0"] <= 2 and 2 <= counts["P1"] <= 3 and 1 <= counts["P2"] <= 3
    # The single path finds the bulk plan in the cache: same five hashes.
    single, cached = plans.plan_for_deal(deal=plans.resolve_deal(ids[0]))
    assert cached and single.deal_id == ids[0]
    with django_assert_max_num_queries(12):
        again = plan_bulk.plan_many(deal_ids=ids)
    assert again.cached == 4 and again.written == 0 and again.summaries_rebuilt == 0


MODEL_PLAN = {
        "situation": {"engagement_level": "low", "last_interaction": "email", "key_themes": [], "analysis": "Quiet."},
        "actions": [
            {"priority": "P0", "channel": "email", "action_type": "follow_up", "title": "Follow up", "contact": "Dana Smith",
             "timing": "Today 10:00–14:00", "prerequisites": ["Re-read"], "rationale": "Quiet",
             "content": {"subject": "Hello", "body": "Hi Dana"}},
            {"priority": "P1", "channel": "email", "action_type": "x", "title": "a", "contact": "Dana Smith", "timing": "t",
             "prerequisites": [], "rationale": "r", "outline": ["o"]},
            {"priority": "P1", "channel": "linkedin", "action_type": "x", "title": "b", "contact": "Dana Smith", "timing": "t",
             "prerequisites": [], "rationale": "r", "outline": ["o"]},
            {"priority": "P2", "channel": "email", "action_type": "x", "title": "c", "contact": "Dana Smith", "timing": "t",
             "prerequisites": [], "rationale": "r", "outline": ["o"]},
        ],
    }  # fmt: skip


def test_bulk_through_a_model_counts_calls_and_the_cache_saves_them(deals):
    fake = FakeProvider([reply(data=MODEL_PLAN)])
    with use_provider(fake):
        first = plan_bulk.plan_many(deal_ids=[d.pk for d in deals])
        second = plan_bulk.plan_many(deal_ids=[d.pk for d in deals])
    assert first.model_calls == 4 and len(fake.requests) == 4
    assert second.cached == 4 and second.model_calls == 0 and len(fake.requests) == 4


def test_bulk_goes_through_the_batch_path_and_the_handler_completes_the_plans(deals, settings):
    settings.LLM_BATCH_MIN_ITEMS = 2
    ids = [d.pk for d in deals]
    fake = FakeBatchProvider([reply(data=MODEL_PLAN)])
    with use_provider(fake):
        first = plan_bulk.plan_many(deal_ids=ids)
        assert first.submitted == 4 and first.written == 0 and fake.requests == [] and len(fake.batches) == 1
        assert Plan.objects.filter(status=Plan.Status.PENDING).count() == 4
        # A rerun while the batch runs submits nothing again.
        waiting = plan_bulk.plan_many(deal_ids=ids)
        assert waiting.in_flight == 4 and waiting.submitted == 0 and len(fake.batches) == 1
        assert collect_batches()["items"] == 4
        assert len(fake.requests) == 4
        ready = Plan.objects.filter(status=Plan.Status.READY)
        assert ready.count() == 4 and not Plan.objects.filter(status=Plan.Status.PENDING).exists()
        plan = ready.get(deal_id=ids[0])
        assert plan.items.get(priority="P0").content["subject"] == "Hello"
        assert plan.provenance["provider"] == "anthropic" and not plan.provenance["offline"]
        # Nothing changed: every deal is served from the five-input cache, no model call, no batch.
        again = plan_bulk.plan_many(deal_ids=ids)
        single, cached = plans.plan_for_deal(deal=plans.resolve_deal(ids[1]))
    assert again.cached == 4 and again.submitted == 0 and len(fake.requests) == 4 and len(fake.batches) == 1
    assert cached and single.pk == Plan.objects.get(deal_id=ids[1], status=Plan.Status.READY).pk
    assert collect_batches()["items"] == 0  # delivered once


def test_a_batch_result_for_a_deal_that_changed_keeps_the_hashes_the_model_saw(deals, settings):
    settings.LLM_BATCH_MIN_ITEMS = 2
    ids = [d.pk for d in deals]
    with use_provider(FakeBatchProvider([reply(data=MODEL_PLAN)])):
        plan_bulk.plan_many(deal_ids=ids)
        submitted = Plan.objects.get(deal_id=ids[0]).cache_key
        add_email(deals[0], direction="in", days_ago=0, body="Any news on pricing?")
        collect_batches()
        plan = Plan.objects.get(deal_id=ids[0])
        assert plan.status == Plan.Status.READY and plan.cache_key == submitted
        _, cached = plans.plan_for_deal(deal=plans.resolve_deal(ids[0]))
    assert not cached  # the deal changed after submission: its next plan is written anew


def test_a_batch_result_is_completed_from_the_inputs_kept_with_the_pending_plan(
    deals, settings, django_assert_max_num_queries
):
    settings.LLM_BATCH_MIN_ITEMS = 2
    ids = [d.pk for d in deals]
    with use_provider(FakeBatchProvider([reply(data=MODEL_PLAN)])):
        plan_bulk.plan_many(deal_ids=ids)
        pending = Plan.objects.get(deal_id=ids[0])
        assert pending.inputs["deal"]["name"] == "Deal 0" and pending.summary == pending.inputs["summary"]
        # The deal changes while the batch runs: the plan is what the model was given, not the new deal.
        Deal.objects.filter(pk=ids[0]).update(name="Renamed", next_step="Sign")
        add_email(deals[0], direction="in", days_ago=0, body="Any news on the contract?")
        result = fake_result()
        # The pending row, who opted out since, then claim and items (one statement on PostgreSQL;
        # savepoint, update, insert, release elsewhere). No deal, rows or summary read.
        with django_assert_max_num_queries(3 if connection.vendor == "postgresql" else 6):
            plan_bulk.on_batch_result(f"{ids[0]}:{pending.cache_key}", result)
    plan = Plan.objects.get(pk=pending.pk)
    assert plan.status == Plan.Status.READY and plan.inputs is None
    assert plan.summary == pending.summary and plan.cache_key == pending.cache_key
    assert plan.items.get(priority="P0").content["subject"] == "Hello"
    assert [i.priority for i in plan.items.order_by("pk")] == ["P0", "P1", "P1", "P2"]
    # Delivered twice (a crash between claim and commit): the second call changes nothing.
    plan_bulk.on_batch_result(f"{ids[0]}:{pending.cache_key}", result)
    assert plan.items.count() == 4


def test_a_contact_who_opted_out_while_the_batch_ran_gets_no_action(deals, contact, settings):
    settings.LLM_BATCH_MIN_ITEMS = 2
    with use_provider(FakeBatchProvider([reply(data=MODEL_PLAN)])):
        plan_bulk.plan_many(deal_ids=[d.pk for d in deals])
        assert all("Dana Smith" in str(p.inputs["contacts"]) for p in Plan.objects.all())
        contact.opted_out = True
        contact.save()
        collect_batches()
    for plan in Plan.objects.all():
        assert plan.status == Plan.Status.READY
        assert not plan.items.filter(contact_name="Dana Smith").exists()
        assert plan.items.filter(priority="P0").exists()
        assert any(f.startswith("dropped:P0") for f in plan.provenance["fixes"])


def fake_result():
    from llm.prepared import LLMResult

    return LLMResult(text="", data=MODEL_PLAN, provider="anthropic", model="claude")
