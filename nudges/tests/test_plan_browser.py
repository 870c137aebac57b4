"""The rep's path through an action plan in a real browser: plan, expand, edit and mark done,
feedback; then the manager accepts the learning and the next plan follows it."""

import pytest

from conftest import browser_login
from nudges.models import Learning, PlanItem
from nudges.tests.conftest import add_email


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_rep_plans_a_deal_uses_a_p0_and_gives_feedback(browser_page, live_server, agent, deal):
    add_email(deal, direction="out", days_ago=13, body="Dear Dana, did the revised pricing reach procurement?")
    add_email(deal, direction="in", days_ago=12, body="We are reviewing the contract terms.")
    page = browser_page
    browser_login(page, live_server, agent)
    page.goto(f"{live_server.url}/deals/{deal.pk}/")
    page.fill("input[name=campaign_context]", "Q4 product launch")
    page.click("#plan-next-actions button[type=submit]")
    page.wait_for_selector("#situation")
    assert "Situation analysis" in page.inner_text("#situation")
    assert page.locator("#p0 .plan-item").count() >= 1
    assert 2 <= page.locator("#p1 .plan-item").count() <= 3

    # Expand a P1 outline into full content (htmx swaps the card in place).
    p1 = page.locator("#p1 .plan-item").first
    p1_id = p1.get_attribute("id")
    p1.locator("text=Expand into full content").click()
    page.wait_for_selector(f"#{p1_id} textarea")

    # Edit the first P0 and mark it done (no outbound integration in this test run).
    p0 = page.locator("#p0 .plan-item").first
    p0_id = p0.get_attribute("id")
    box = p0.locator("textarea")
    box.fill(box.input_value() + "\nPS: talk soon.")
    p0.locator("button[value=done]").click()
    page.wait_for_selector(f"#{p0_id} .item-used")
    assert "edited" in page.inner_text(f"#{p0_id} .item-used")
    item = PlanItem.objects.get(pk=int(p0_id.split("-")[1]))
    assert item.use == "done" and "PS: talk soon." in item.used_text

    # Feedback on the plan.
    page.check("#plan-feedback input[value=negative]")
    page.fill("#plan-feedback input[name=text]", "Email too long, keep under 150 words")
    page.click("#plan-feedback button[type=submit]")
    page.wait_for_selector("#plan-feedback .message-success")
    assert "under 150 words" in page.inner_text("#plan-feedback")
    assert Learning.objects.get().status == "proposed"
