"""The co-pilot in Chromium: ask, watch the steps stream in, read the cited answer, rate it, ask a
follow-up, find the conversation in the sidebar."""

import pytest

from assistant.models import Message
from conftest import browser_login

SEED_SPEND = "How much has TechGiant spent so far?"
SEED_PITCH = "I have a meeting with TechGiant. Based on their spending and industry, what product should I pitch?"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_rep_asks_watches_the_answer_stream_rates_it_and_follows_up(browser_page, live_server, agent, world):
    page = browser_page
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    browser_login(page, live_server, agent)
    page.goto(f"{live_server.url}/assistant/")
    assert "offline" in page.inner_text("#offline-notice")

    page.fill("#id_question", SEED_SPEND)
    page.click("#ask-button")
    page.wait_for_selector("article.answer .citations")
    answer = page.locator("article.answer").last
    assert "Looked up client “TechGiant”" in answer.locator(".steps").inner_text()
    assert "TechGiant has spent $120,000 so far this year." in answer.inner_text()
    citation = answer.locator(".citations a").first
    assert citation.inner_text() == "TechGiant · spend YTD"
    assert citation.get_attribute("href") == world["techgiant"].get_absolute_url()
    assert page.input_value("#id_question") == ""  # the form is ready for the next question

    answer.locator("input[name=reason]").fill("exactly what I needed")
    answer.locator("button[value='1']").click()
    page.wait_for_selector("text=You rated this helpful")

    page.fill("#id_question", SEED_PITCH)
    page.click("#ask-button")
    page.wait_for_function("document.querySelectorAll('article.answer .citations').length == 2")
    second = page.locator("article.answer").last
    assert "Mobile App Banners and Online Display Ads" in second.inner_text()
    assert "Searched the playbook" in second.locator(".steps").inner_text()
    assert "p. 2" in second.locator(".citations").inner_text()

    # The conversation is in the sidebar after a reload, with both turns stored.
    page.reload()
    assert SEED_SPEND in page.inner_text("#conversation-list")
    assert page.locator("article.answer").count() == 2
    assert Message.objects.filter(role="assistant", status="done").count() == 2
    assert errors == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_empty_question_is_refused_in_place(browser_page, live_server, agent):
    page = browser_page
    browser_login(page, live_server, agent)
    page.goto(f"{live_server.url}/assistant/")
    page.evaluate("document.getElementById('id_question').removeAttribute('required')")
    page.fill("#id_question", "   ")
    page.click("#ask-button")
    page.wait_for_selector("#ask-error:has-text('Ask a question first.')")
    assert page.locator("article.answer").count() == 0
