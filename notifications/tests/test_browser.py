"""A retention manager's five steps in a real browser: import, the page, analyse, expand, edit and
send, then bulk approve."""

import pytest

from conftest import browser_login
from notifications.models import Notification
from notifications.tests.conftest import SAMPLE
from outbound.models import Delivery


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_manager_imports_analyses_edits_sends_and_bulk_approves(browser_page, live_server, manager, team):
    # The live server answers in its own threads, where Celery's `current_app` is a bare default app
    # unless ours is the default (outbound looks its task up through `current_app`).
    from config.celery import app

    app.set_default()
    page = browser_page
    page.set_default_timeout(90_000)  # the import and the analysis run inside the request here
    browser_login(page, live_server, manager)

    # 1. Import the five files in one upload.
    page.goto(f"{live_server.url}/notifications/import/")
    page.set_input_files("input[name=files]", sorted(str(p) for p in SAMPLE.glob("*.csv")))
    page.click("form[enctype] button[type=submit]")
    page.wait_for_selector("#import-report")
    assert "Imported" in page.inner_text("#import-report")

    # 2. The page: statistics, risk by segment, the churn check.
    page.click("text=← Notifications")
    assert page.locator("#segment-chart svg rect").count() >= 3
    assert "riskiest 30 %" in page.inner_text("#risk-check")

    # 3. Analyse the focus segment in the background; the panel reports when it is done.
    page.click("#analyse-button")
    page.wait_for_selector("#run-done")
    page.click("#run-panel >> text=Refresh the list")
    page.wait_for_selector("#queue article.ncard")
    total = Notification.objects.filter(team=team).count()
    assert page.inner_text("[data-stat=total]") == str(total)
    assert page.locator("#queue article.ncard").count() == min(total, 20)

    # 4. Expand a customer: reason, trigger factors linked to their records, strategy.
    first = (
        # By email: the test settings have no webhook for the other channels, so an SMS would fail.
        Notification.objects.filter(
            team=team, channel="email", record__marketing_consent=True, account__contacts__opted_out=False
        )
        .order_by("priority_rank", "-risk_score", "pk")
        .first()
    )
    page.goto(f"{live_server.url}{first.get_absolute_url()}")
    card = page.locator(f"#notification-{first.pk}")
    assert first.analysis["contact_reason"] in card.inner_text()
    assert "Conversation starters" in card.inner_text()

    # 5a. Edit and send; the card shows exactly what was sent.
    card.locator("textarea[name=message]").fill(
        "Dear customer,\n\nWe would like to check your account is as you expect.\n\nKind regards,\nCustomer Care Team"
    )
    card.locator("button:has-text('Send')").click()
    page.wait_for_selector(f"#notification-{first.pk} .sent-body")
    assert "We would like to check your account is as you expect." in page.inner_text(
        f"#notification-{first.pk} .sent-body"
    )
    assert Delivery.objects.filter(source_id=first.pk).count() == 1

    # A trigger factor opens its record.
    page.goto(f"{live_server.url}/notifications/")
    page.locator("#queue article.ncard summary:has-text('Customer service insights')").first.click()
    page.locator("#queue a.factor").first.click()
    page.wait_for_url("**/notifications/records/**")
    assert page.locator("h1").inner_text()

    # 5b. Bulk approve two selected drafts, then everything matching the filter across pages.
    page.goto(f"{live_server.url}/notifications/")
    boxes = page.locator("#queue input[name=ids]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.click("button[name=selected]")
    page.wait_for_selector("#approved-count")
    approved_two = Notification.objects.filter(team=team, status__in=("approved", "needs_edit")).count()
    assert approved_two == 2
    approved_first = Notification.objects.filter(team=team, status="approved").count()
    page.goto(f"{live_server.url}/notifications/")
    page.click("button[name=all_matching]")
    page.wait_for_selector("#approved-count")
    refused = Notification.objects.filter(team=team, status="needs_edit")
    approved = Notification.objects.filter(team=team, status="approved")
    assert approved.count() + refused.count() == total - 1  # all but the one sent
    assert page.inner_text("#approved-count").startswith(str(approved.count() - approved_first))
    if refused.exists():
        assert refused.first().record.customer_id in page.inner_text("#refused")
