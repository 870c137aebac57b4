"""Settings -> AI quality in Chromium, under the real Content-Security-Policy: the chart is drawn,
the failing cases are listed, and nothing is blocked."""

import pytest

from conftest import _browser_page, browser_login
from llm.tests.test_quality_page import make_run


@pytest.fixture
def browser_page(live_server, monkeypatch):
    yield from _browser_page(live_server, monkeypatch, strict_csp=True)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_manager_sees_the_quality_chart_and_failing_cases_with_no_policy_violation(browser_page, live_server, manager):
    make_run(days_ago=1, scores={"channel_limit": 1.0}, cases=[("draft-01-sms-vip", {})])
    make_run(
        scores={"channel_limit": 0.5},
        failed=["channel_limit"],
        cases=[("draft-01-sms-vip", {"channel_limit": ["sms: 362 characters, limit 160"]}), ("ok-case", {})],
    )
    page = browser_page
    violations = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    browser_login(page, live_server, manager)

    response = page.goto(f"{live_server.url}/settings/ai/quality/")

    assert response.status == 200
    chart = page.locator("#feature-ticketsdraft svg")
    assert chart.locator("polyline").count() == 1 and chart.locator("circle").count() == 2
    box = chart.bounding_box()
    assert box["width"] > 200 and box["height"] > 40  # drawn, not collapsed
    failing = page.locator("#feature-ticketsdraft details", has_text="failing case")
    assert failing.get_attribute("open") is not None  # open because the run is below a threshold
    assert "sms: 362 characters, limit 160" in failing.inner_text()
    assert "1 worse" in page.locator("#since-ticketsdraft").inner_text()
    assert violations == []
