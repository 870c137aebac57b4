"""The AI usage chart: calls and estimated cost per feature per day, as plain numbers a template
draws as inline SVG (no chart library, no CDN, nothing to run in the browser).

Pure: takes the summary's rows and the chosen days, returns geometry. Each day is a stacked bar,
one segment per feature; features beyond the `MAX_SERIES` busiest share one "other" colour so the
legend stays readable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

# Colours with at least 3:1 contrast against the white page (WCAG 1.4.11 for graphics), told
# apart by hue and lightness; the legend table repeats every figure as text.
PALETTE = ("#0172ad", "#b3541e", "#2e7d32", "#6a1b9a", "#c62828", "#00695c", "#5d4037")
OTHER_COLOUR = "#546e7a"
MAX_SERIES = len(PALETTE)
# A bar per day stays at least ~4 px wide on a 1400-px screen up to this many days; longer ranges
# chart their last MAX_DAYS days (the table below keeps every day).
MAX_DAYS = 120
WIDTH, HEIGHT = 720, 180
LEFT, RIGHT, TOP, BOTTOM = 72, 8, 10, 24


@dataclass
class Segment:
    x: float
    y: float
    width: float
    height: float
    colour: str
    label: str  # the segment's own text alternative (a <title> in the SVG)


@dataclass
class Panel:
    metric: str  # "calls" or "cost"
    title: str
    top_label: str  # the value at the top of the axis
    segments: list[Segment] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)


@dataclass
class Series:
    feature: str
    colour: str
    calls: int = 0
    cost_usd: Decimal = Decimal("0")


@dataclass
class UsageChart:
    since: date
    until: date
    truncated: bool
    series: list[Series]
    panels: list[Panel]
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_bottom: int = HEIGHT - BOTTOM
    plot_right: int = WIDTH - RIGHT

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    @property
    def description(self) -> str:
        busiest = max(self.series, key=lambda s: s.calls)
        costliest = max(self.series, key=lambda s: s.cost_usd)
        shown = f"the last {(self.until - self.since).days + 1} days" if self.truncated else "each day"
        return (
            f"Stacked bars per day from {self.since:%-d %b %Y} to {self.until:%-d %b %Y}, one colour per "
            f"feature, for {shown}. Most calls: {busiest.feature} ({busiest.calls:,}); highest estimated "
            f"cost: {costliest.feature} (${costliest.cost_usd:.4f}). Every figure is in the tables below."
        )


def usage_chart(rows, *, since: date, until: date) -> UsageChart | None:
    """`rows`: objects with day, feature, calls, cost_usd (llm.usage.UsageRow). None when empty."""
    rows = [r for r in rows if r.day is not None and since <= r.day <= until]
    if not rows:
        return None
    truncated = (until - since).days + 1 > MAX_DAYS
    if truncated:
        until = max(r.day for r in rows)
        since = until - timedelta(days=MAX_DAYS - 1)
        rows = [r for r in rows if r.day >= since]
    totals: dict[str, Series] = {}
    for r in rows:
        s = totals.setdefault(r.feature, Series(feature=r.feature, colour=OTHER_COLOUR))
        s.calls += r.calls
        s.cost_usd += r.cost_usd
    ranked = sorted(totals.values(), key=lambda s: (-s.calls, -s.cost_usd, s.feature))
    named, rest = ranked[:MAX_SERIES], ranked[MAX_SERIES:]
    if len(rest) == 1:  # one leftover feature keeps its own name rather than "other"
        named, rest = ranked[: MAX_SERIES + 1], []
    series_of = {}
    for i, s in enumerate(named):
        s.colour = PALETTE[i] if i < len(PALETTE) else OTHER_COLOUR
        series_of[s.feature] = s
    if rest:
        other = Series(feature=f"{len(rest)} other features", colour=OTHER_COLOUR)
        for s in rest:
            other.calls += s.calls
            other.cost_usd += s.cost_usd
            series_of[s.feature] = other
        named.append(other)

    days = (until - since).days + 1
    per_day: dict[date, dict[str, list]] = {}
    for r in rows:
        bucket = per_day.setdefault(r.day, {})
        key = series_of[r.feature].feature
        calls_cost = bucket.setdefault(key, [0, Decimal("0")])
        calls_cost[0] += r.calls
        calls_cost[1] += r.cost_usd
    order = [s.feature for s in named]
    colour = {s.feature: s.colour for s in named}
    panels = []
    for metric, title in (("calls", "Calls per day"), ("cost", "Estimated cost per day (USD)")):
        index = 0 if metric == "calls" else 1
        peak = max(sum(v[index] for v in bucket.values()) for bucket in per_day.values())
        top = _nice_ceiling(float(peak))
        panel = Panel(metric=metric, title=title, top_label=_axis_label(metric, top))
        plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
        slot = plot_w / days
        bar_w = max(1.0, slot * 0.8)
        for day, bucket in per_day.items():
            x = LEFT + (day - since).days * slot + (slot - bar_w) / 2
            base = HEIGHT - BOTTOM
            for feature in order:
                if feature not in bucket:
                    continue
                value = bucket[feature][index]
                h = float(value) / top * plot_h if top else 0
                if h <= 0:
                    continue
                base -= h
                label = f"{day:%a %-d %b}, {feature}: {_fmt(metric, value)}"
                panel.segments.append(
                    Segment(round(x, 2), round(base, 2), round(bar_w, 2), round(h, 2), colour[feature], label)
                )
        step = max(1, days // 6)
        for i in range(0, days, step):
            day = since + timedelta(days=i)
            panel.x_labels.append((round(LEFT + i * slot + slot / 2, 2), f"{day:%-d %b}"))
        panels.append(panel)
    return UsageChart(since=since, until=until, truncated=truncated, series=named, panels=panels)


def _nice_ceiling(value: float) -> float:
    """The next 1, 2 or 5 x 10^n at or above `value`, so the axis top reads as a round number."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 5):
        if value <= factor * magnitude * (1 + 1e-9):
            return factor * magnitude
    return 10 * magnitude


def _axis_label(metric: str, top: float) -> str:
    """Short enough for the left margin: "20 calls", "$500", "$0.05"."""
    if metric == "calls":
        return _fmt(metric, top)
    return f"${top:,.0f}" if top >= 1 else f"${top:.4g}"


def _fmt(metric: str, value) -> str:
    if metric == "calls":
        return f"{int(value):,} call{'s' if int(value) != 1 else ''}"
    return f"${float(value):,.4f}"
