"""The rep's path in a real browser: Deals → Nudges, stream, then done and snooze.

The pytest-django live server is threaded WSGI, so the stream view serves its synchronous
generator there (the same events as the async one under uvicorn).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import browser_login
from crm.models import Deal
from nudges.models import Nudge


@pytest.fixture
def two_stale_deals(account, contact, agent, stages):
    deals = []
    for name, amount in (("Big renewal", 40000), ("Small pilot", 3000)):
        deals.append(
            Deal.objects.create(
                team=account.team,
                account=account,
                primary_contact=contact,
                owner=agent,
                name=name,
                stage=stages["proposal"],
                amount=amount,
                last_activity_at=timezone.now() - timedelta(days=14),
            )
        )
    return deals


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_rep_streams_nudges_then_marks_one_done_and_snoozes_another(
    browser_page, live_server, agent, two_stale_deals, settings
):
    settings.NUDGES_STREAM_MAX_SECONDS = 20
    settings.NUDGES_STREAM_HEARTBEAT_SECONDS = 0.2  # the server notices the browser leaving quickly
    page = browser_page
    browser_login(page, live_server, agent)
    page.goto(f"{live_server.url}/deals/")
    page.click("text=Follow-up nudges")
    page.wait_for_url(f"{live_server.url}/deals/nudges/")
    assert page.locator(".nudge-card").count() == 0

    page.click("#stream-nudges")
    page.wait_for_selector(".nudge-card >> nth=1")
    assert page.locator(".nudge-card").count() == 2
    assert "2 new nudges" in page.inner_text("#stream-status")
    big = Nudge.objects.get(deal__name="Big renewal")
    small = Nudge.objects.get(deal__name="Small pilot")
    card = page.locator(f"#nudge-{big.pk}")
    assert "offline draft" in card.inner_text()
    assert "Idle 14 days in Proposal where this stage expects 7" in card.inner_text()

    card.locator("button[name=done]").click()
    page.wait_for_selector(f"#nudge-{big.pk} .nudge-closed")
    assert "Done" in page.inner_text(f"#nudge-{big.pk}")

    other = page.locator(f"#nudge-{small.pk}")
    other.locator("summary", has_text="Snooze").click()
    until = (timezone.now().date() + timedelta(days=30)).isoformat()
    other.locator("input[name=until]").fill(until)
    other.locator("input[name=reason]").first.fill("budget freeze until January")
    other.locator("button", has_text="Snooze").click()
    page.wait_for_selector(f"#nudge-{small.pk} .nudge-closed")
    assert "budget freeze until January" in page.inner_text(f"#nudge-{small.pk}")

    big.refresh_from_db()
    small.refresh_from_db()
    assert (big.status, small.status) == (Nudge.Status.DONE, Nudge.Status.SNOOZED)
    deal = Deal.objects.get(name="Small pilot")
    assert deal.snooze_reason == "budget freeze until January"
    page.close()  # the browser disconnects; the next heartbeat write ends the stream server-side
