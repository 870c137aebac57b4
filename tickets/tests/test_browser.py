"""The five agent steps of issue 4 in a real browser (Debian chromium through Playwright)."""

import pytest
from django.urls import reverse

from conftest import browser_login
from crm.models import Account, Contact, Order
from outbound.models import Delivery
from tickets import services
from tickets.models import Draft, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _ticket(account, name, body, **kw):
    contact = Contact.objects.create(account=account, name=name, email=f"{name.split()[0].lower()}@example.com")
    return services.create_ticket(actor=None, account=account, contact=contact, subject=body[:40], body=body, **kw)


def test_agent_works_the_inbox_end_to_end(browser_page, live_server, agent, manager, account, team):
    page = browser_page
    Order.objects.create(
        account=account, number="54321", amount=156.99, status="in_transit", tracking_status="No updates for 5 days"
    )
    small = Account.objects.create(team=team, name="Corner Shop", lifetime_value=200, churn_risk=0.1)
    vip = _ticket(
        account, "Jane Doe", "My order #54321 hasn't arrived, I am furious!!", channel="email", priority="urgent"
    )
    fraud = _ticket(small, "Sam Lee", "There is an unauthorized charge on my card", channel="email", priority="low")
    _ticket(small, "Kim Park", "Do you ship to Canada?", channel="chat", priority="low")

    # 1. The inbox in smart order, with score, channel, customer, waiting time and SLA state.
    browser_login(page, live_server, agent)
    page.goto(live_server.url + reverse("tickets:inbox"))
    rows = page.locator("tr.ticket-row")
    assert rows.count() == 3
    assert rows.first.get_attribute("data-ticket") == str(vip.pk)
    assert "Email" in rows.first.inner_text() and "TechGiant" in rows.first.inner_text()
    assert page.locator("tr.ticket-row .badge.sla-ok").count() >= 1
    assert "escalated" in rows.first.inner_text()  # high churn, high value, angry: auto-escalated
    assert page.locator("#inbox-list[hx-trigger^='every']").count() == 1

    # 2. A topic alert lifts the matching ticket and shows the count.
    page.click("#topic-alerts summary") if not page.locator("#id_text").is_visible() else None
    page.fill("#id_text", "chargeback, fraud, unauthorized")
    page.click("button[name=save-alert]")
    page.wait_for_selector(".match-count")
    assert page.locator(".match-count").inner_text() == "1"
    flagged = page.locator("tr.alert-match")
    assert flagged.count() == 1 and flagged.get_attribute("data-ticket") == str(fraud.pk)
    assert "⚡" in flagged.inner_text()

    # 3. The ticket page: conversation, customer panel, orders, triage with confidence, why this score.
    page.click(f"tr[data-ticket='{vip.pk}'] a")
    page.wait_for_selector("#customer-panel")
    assert "hasn't arrived" in page.locator("#conversation").inner_text()
    assert "3,500.00" in page.locator("#customer-panel").inner_text()
    assert "No updates for 5 days" in page.locator("#orders-panel").inner_text()
    assert "confidence" in page.locator("#triage-panel").inner_text()
    assert "Weights v1" in page.locator("#score-panel").inner_text()

    # 4. The draft is already there (offline); a pending draft polls until ready; regenerate; edit; send.
    assert page.locator("#offline-badge").is_visible()
    Draft.objects.filter(ticket=vip, status="pending").delete()
    pending = Draft.objects.create(ticket=vip, channel="email", previous=vip.drafts.filter(status="ready").first())
    page.reload()
    page.wait_for_selector("#draft-status:has-text('drafting')")
    services.generate_draft(draft_id=pending.pk)
    page.wait_for_selector("#draft-status:has-text('draft ready')", timeout=8000)
    page.fill("#id_instruction", "shorter")
    page.click("#regenerate-form button")
    page.wait_for_selector("#draft-panel:has-text('“shorter”')")
    body = page.locator("#id_body").input_value()
    assert "54321" in body
    # The agent edits before sending (the "shorter" draft has no "Thank you" line to replace).
    page.fill("#id_body", body.replace("Kind regards,", "Thanks for your patience.\n\nKind regards,"))
    page.click("#send-reply")
    page.wait_for_selector(".message-success")
    assert Delivery.objects.get(source="tickets.message", meta__ticket=vip.pk).status == "sent"
    assert Draft.objects.filter(ticket=vip, edit_distance__gt=0).exists()

    # 5. Follow-up and escalation.
    page.fill("#follow-up-form input[name=days]", "2")
    page.click("#follow-up-form button")
    page.wait_for_selector("#follow-up-badge")
    page.fill("#escalate-form input[name=reason]", "Customer asked for a manager")
    page.click("#escalate-form button")
    page.wait_for_selector("text=already escalated")  # the rule escalated it on arrival
    vip.refresh_from_db()
    assert vip.status == Ticket.Status.PENDING and vip.follow_up_at and vip.escalated_at
    page.goto(live_server.url + reverse("tickets:detail", args=[fraud.pk]))
    page.fill("#escalate-form input[name=reason]", "Possible fraud ring")
    page.click("#escalate-form button")
    page.wait_for_selector("#escalated-badge")
    assert manager.ticket_notices.filter(ticket=fraud).exists()
