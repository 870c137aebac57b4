from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import browser_login
from crm.models import Account, Activity


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_agent_logs_in_searches_opens_account_and_pages_timeline(browser_page, live_server, agent, team, settings):
    settings.CONSOLE_PAGE_SIZE = 5
    target = Account.objects.create(team=team, name="TechGiant", industry="Electronics")
    Account.objects.create(team=team, name="Harbor Foods")
    now = timezone.now()
    Activity.objects.bulk_create(
        Activity(account=target, kind="note", subject=f"Touch {i}", occurred_at=now - timedelta(hours=i))
        for i in range(12)
    )
    page = browser_page
    browser_login(page, live_server, agent)

    page.click("text=Accounts")
    page.fill("#account-search", "Tech")
    # htmx swaps the results in place as the agent types.
    page.wait_for_function("!document.querySelector('#account-results').textContent.includes('Harbor Foods')")
    page.click("#account-results >> text=TechGiant")
    page.wait_for_selector("h1:has-text('TechGiant')")

    entries = page.locator("#timeline .timeline-entry")
    assert entries.count() == 5
    assert "Touch 0" in entries.first.inner_text()
    page.click("#timeline-more a")
    page.wait_for_function("document.querySelectorAll('#timeline .timeline-entry').length === 10")
    page.click("#timeline-more a")
    page.wait_for_function("document.querySelectorAll('#timeline .timeline-entry').length === 12")
    assert page.locator("#timeline-more").count() == 0
    assert "Touch 11" in entries.last.inner_text()
