from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from crm.models import Activity, Deal
from nudges import services
from nudges.models import Nudge


def add_email(deal, *, direction, days_ago, body="Hello", hours=0, now=None):
    """An email `days_ago` (+ `hours`) before `now`; pass one `now` for gaps that must be exact."""
    contact = deal.primary_contact
    return Activity.objects.create(
        account=deal.account,
        deal=deal,
        contact=contact,
        kind=Activity.Kind.EMAIL,
        direction=direction,
        occurred_at=(now or timezone.now()) - timedelta(days=days_ago, hours=hours),
        body=body,
        thread_id=f"t-{deal.pk}",
        from_addr="seller@us.example" if direction == "out" else contact.email,
        to_addr=contact.email if direction == "out" else "seller@us.example",
    )


@pytest.fixture
def stale_deal(deal):
    """Proposal stage (expects a touch every 7 days), idle 12 days, 5,000 EUR."""
    add_email(deal, direction="out", days_ago=13, body="Dear Dana,\nDid the revised pricing reach procurement?")
    add_email(deal, direction="in", days_ago=12, body="Kind regards, we are reviewing it.")
    Deal.objects.filter(pk=deal.pk).update(last_activity_at=timezone.now() - timedelta(days=12))
    deal.refresh_from_db()
    return deal


@pytest.fixture
def fresh_deal(account, contact, agent, stages):
    return Deal.objects.create(
        team=account.team,
        account=account,
        primary_contact=contact,
        owner=agent,
        name="Fresh expansion",
        stage=stages["proposal"],
        amount=9000,
        last_activity_at=timezone.now() - timedelta(days=1),
    )


@pytest.fixture
def foreign_stale_deal(foreign_account, stages):
    return Deal.objects.create(
        team=foreign_account.team,
        account=foreign_account,
        name="Secret deal",
        stage=stages["proposal"],
        amount=80000,
        last_activity_at=timezone.now() - timedelta(days=30),
    )


@pytest.fixture
def nudge(stale_deal):
    services.refresh_nudges(deal_ids=[stale_deal.pk])
    return Nudge.objects.get(deal=stale_deal)


@pytest.fixture
def foreign_nudge(foreign_stale_deal):
    services.refresh_nudges(deal_ids=[foreign_stale_deal.pk])
    return Nudge.objects.get(deal=foreign_stale_deal)


@pytest.fixture
def manager_api(manager):
    c = APIClient()
    c.force_authenticate(manager)
    return c


@pytest.fixture
def pipeline(account, contact, agent, teammate, stages):
    """Five open deals: three of the agent's (one stale, in negotiation), two of the teammate's."""
    out = []
    for i, (owner, stage) in enumerate(
        [(agent, "proposal"), (agent, "proposal"), (agent, "negotiation"), (teammate, "proposal"), (teammate, "lead")]
    ):
        d = Deal.objects.create(team=account.team, account=account, primary_contact=contact, owner=owner,
                                name=f"Deal {i}", stage=stages[stage], amount=1000 * (i + 1))  # fmt: skip
        add_email(d, direction="out", days_ago=10 + i, body="Did the pricing reach procurement?")
        out.append(d)
    Deal.objects.filter(pk=out[2].pk).update(last_activity_at=timezone.now() - timedelta(days=30))
    services.refresh_nudges(deal_ids=[out[2].pk])
    return out
