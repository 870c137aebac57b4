"""Bulk plans: the same plans and cache keys as one at a time, and a rerun saves every model call."""

import pytest

from crm.models import Deal
from llm import use_provider
from llm.testing import FakeProvider, reply
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
    for plan in Plan.objects.all():
        counts = {p: len(v) for p, v in plan.items_by_priority().items()}
        assert 1 <= counts["P0"] <= 2 and 2 <= counts["P1"] <= 3 and 1 <= counts["P2"] <= 3
    # The single path finds the bulk plan in the cache: same five hashes.
    single, cached = plans.plan_for_deal(deal=plans.resolve_deal(ids[0]))
    assert cached and single.deal_id == ids[0]
    with django_assert_max_num_queries(12):
        again = plan_bulk.plan_many(deal_ids=ids)
    assert again.cached == 4 and again.written == 0 and again.summaries_rebuilt == 0


def test_bulk_through_a_model_counts_calls_and_the_cache_saves_them(deals):
    data = {
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
    fake = FakeProvider([reply(data=data)])
    with use_provider(fake):
        first = plan_bulk.plan_many(deal_ids=[d.pk for d in deals])
        second = plan_bulk.plan_many(deal_ids=[d.pk for d in deals])
    assert first.model_calls == 4 and len(fake.requests) == 4
    assert second.cached == 4 and second.model_calls == 0 and len(fake.requests) == 4
