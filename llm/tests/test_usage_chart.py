"""The usage chart: calls and cost per feature per day as server-side SVG, with a text alternative."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from llm.charts import MAX_DAYS, MAX_SERIES, PALETTE, _nice_ceiling, usage_chart
from llm.models import LLMCall, Outcome
from llm.usage import UsageRow

D = date(2026, 3, 10)


def r(day, feature, calls, cost):
    return UsageRow(day=day, feature=feature, calls=calls, cost_usd=Decimal(cost))


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (1, 1), (3, 5), (7, 10), (12, 20), (0.034, 0.05), (0.0004, 0.0005), (100, 100)]
)
def test_axis_top_is_the_next_round_number(value, top):
    assert _nice_ceiling(value) == pytest.approx(top)


def test_no_rows_no_chart():
    assert usage_chart([], since=D, until=D) is None


def test_bars_stack_features_per_day_scaled_to_the_busiest_day():
    rows = [
        r(D, "tickets.draft", 6, "0.06"),
        r(D, "nudges.nudge", 4, "0.01"),
        r(D + timedelta(days=2), "tickets.draft", 5, "0.02"),
    ]
    chart = usage_chart(rows, since=D, until=D + timedelta(days=2))
    calls, cost = chart.panels
    assert [s.feature for s in chart.series] == ["tickets.draft", "nudges.nudge"]
    assert [s.calls for s in chart.series] == [11, 4] and chart.series[0].cost_usd == Decimal("0.08")
    assert calls.top_label == "10 calls" and cost.top_label == "$0.1"
    first_day = [s for s in calls.segments if s.label.startswith("Tue 10 Mar")]
    plot_h = chart.plot_bottom - 10
    assert [s.height for s in first_day] == [pytest.approx(plot_h * 0.6), pytest.approx(plot_h * 0.4)]
    assert first_day[1].y + first_day[1].height == pytest.approx(first_day[0].y)  # stacked, not overlapping
    assert first_day[0].label == "Tue 10 Mar, tickets.draft: 6 calls"
    assert all(s.x >= chart.plot_left and s.x + s.width <= chart.plot_right + 0.01 for s in calls.segments)
    assert "Most calls: tickets.draft (11)" in chart.description


def test_features_past_the_palette_share_one_other_colour():
    rows = [r(D, f"feature.{i:02}", 100 - i, "0.01") for i in range(MAX_SERIES + 3)]
    chart = usage_chart(rows, since=D, until=D)
    assert len(chart.series) == MAX_SERIES + 1 and chart.series[-1].feature == "3 other features"
    assert chart.series[-1].calls == sum(100 - i for i in range(MAX_SERIES, MAX_SERIES + 3))
    assert [s.colour for s in chart.series[:MAX_SERIES]] == list(PALETTE)


def test_a_long_range_charts_its_last_days_only():
    rows = [r(D - timedelta(days=400), "old", 1, "0"), r(D, "new", 2, "0")]
    chart = usage_chart(rows, since=D - timedelta(days=500), until=D + timedelta(days=5))
    assert chart.truncated and chart.until == D and chart.days == MAX_DAYS
    assert [s.feature for s in chart.series] == ["new"]


@pytest.mark.django_db
def test_the_page_draws_an_accessible_svg_and_escapes_feature_names(client, admin_user):
    LLMCall.objects.create(
        feature='<script>alert("x")</script>',
        provider="anthropic",
        model="m",
        outcome=Outcome.OK,
        cost_usd=Decimal("0.5"),
    )
    client.force_login(admin_user)
    html = client.get(reverse("llm:usage")).content.decode()
    assert html.count('<svg role="img"') == 2 and '<title id="usage-chart-calls-title">Calls per day</title>' in html
    assert 'aria-labelledby="usage-chart-cost-title usage-chart-cost-desc"' in html and "<desc id=" in html
    assert "<caption>Chart legend and totals per feature</caption>" in html
    assert "<script>alert" not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "cdn" not in html.lower()
