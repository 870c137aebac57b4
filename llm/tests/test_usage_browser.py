"""The AI usage page in Chromium at 1400 px: the table fits its column and the chart is drawn."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from conftest import browser_login
from llm.models import LLMCall, Outcome


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_usage_table_fits_a_1400px_screen_and_the_chart_is_drawn(browser_page, live_server, manager, team):
    now = timezone.now()
    features = [
        "tickets.draft",
        "tickets.triage",
        "nudges.nudge",
        "notifications.customer_analysis",
        "assistant.answer",
    ]
    LLMCall.objects.bulk_create(
        LLMCall(
            feature=feature,
            provider="anthropic",
            model="claude-sonnet-4-6",
            outcome=Outcome.OK,
            input_tokens=1_234_567,
            output_tokens=345_678,
            cache_read_tokens=2_345_678,
            cost_usd=Decimal("123.456789"),
            latency_ms=12_345,
            scope=team.pk,
            created_at=now - timedelta(days=day),
        )
        for day in range(14)
        for feature in features
    )
    page = browser_page
    page.set_viewport_size({"width": 1400, "height": 900})
    browser_login(page, live_server, manager)
    page.goto(f"{live_server.url}/settings/ai/")
    sizes = page.evaluate(
        """() => {
          const table = document.querySelector('#usage .usage-table table');
          const box = table.parentElement;
          return {table: table.scrollWidth, box: box.clientWidth, page: document.documentElement.scrollWidth,
                  viewport: document.documentElement.clientWidth,
                  bars: document.querySelectorAll('svg.usage-chart-panel rect').length};
        }"""
    )
    assert sizes["table"] <= sizes["box"], sizes
    assert sizes["page"] <= sizes["viewport"], sizes  # nothing else makes the page scroll sideways
    assert sizes["bars"] == 2 * 14 * len(features)
