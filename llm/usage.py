"""The usage summary shown by the settings page, the admin, the API and `manage.py llm_usage`.

Per feature and per local day: calls, cache hits, tokens in/out, cache-read tokens, estimated cost,
failures, fallbacks and latency p50/p95. Latency percentiles are over calls that were not cache
hits (a hit costs well under a millisecond and would hide what users wait for), nearest-rank, so
PostgreSQL's percentile_disc and the Python fallback used on SQLite give identical figures.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import Aggregate, Count, FloatField, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from llm.ledger import budget_status
from llm.models import FAILURE_KINDS, LLMCall, Outcome
from llm.scopes import register_scope_resolver, visible_scopes

__all__ = ["register_scope_resolver", "visible_scopes", "summarize", "budget_rows", "default_range"]


@dataclass
class UsageRow:
    day: date | None
    feature: str
    calls: int = 0
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: Decimal = Decimal("0")
    failures: int = 0
    fallbacks: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None

    @property
    def hit_rate(self) -> float:
        return self.cache_hits / self.calls if self.calls else 0.0

    def as_dict(self) -> dict:
        data = asdict(self)
        data["day"] = self.day.isoformat() if self.day else None
        data["cost_usd"] = str(self.cost_usd.quantize(Decimal("0.000001")))
        data["hit_rate"] = round(self.hit_rate, 4)
        return data


@dataclass
class UsageSummary:
    since: date
    until: date
    rows: list[UsageRow] = field(default_factory=list)
    totals: UsageRow = field(default_factory=lambda: UsageRow(day=None, feature="all"))

    def as_dict(self) -> dict:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "rows": [r.as_dict() for r in self.rows],
            "totals": self.totals.as_dict(),
        }


def nearest_rank(values: list[float], p: float) -> float | None:
    """The smallest value with at least p of the values at or below it (percentile_disc)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


class PercentileDisc(Aggregate):
    function = "PERCENTILE_DISC"
    template = "%(function)s(%(percentile)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, percentile: float, **extra):
        super().__init__(expression, percentile=float(percentile), **extra)


def default_range(today: date | None = None, days: int = 14) -> tuple[date, date]:
    today = today or timezone.localdate()
    return today - timedelta(days=days - 1), today


def summarize(*, since: date, until: date, features=None, queryset=None) -> UsageSummary:
    """One row per (day, feature), newest day first, plus totals. `queryset` narrows the ledger
    further (the admin passes its filtered changelist)."""
    base = (queryset if queryset is not None else LLMCall.objects.all()).between(since, until)
    base = base.for_features(features)
    counters = {
        "calls": Count("id"),
        "cache_hits": Count("id", filter=Q(cache_hit=True)),
        "input_tokens": Sum("input_tokens"),
        "output_tokens": Sum("output_tokens"),
        "cache_read_tokens": Sum("cache_read_tokens"),
        "cost_usd": Sum("cost_usd"),
        "failures": Count("id", filter=Q(error_kind__in=FAILURE_KINDS)),
        "fallbacks": Count("id", filter=Q(outcome=Outcome.FALLBACK)),
    }
    uncached = Q(cache_hit=False)
    postgres = connection.vendor == "postgresql"
    if postgres:
        counters["p50_ms"] = PercentileDisc("latency_ms", 0.5, filter=uncached)
        counters["p95_ms"] = PercentileDisc("latency_ms", 0.95, filter=uncached)
    grouped = (
        base.annotate(day=TruncDate("created_at"))
        .values("day", "feature")
        .annotate(**counters)
        .order_by("-day", "feature")
    )
    summary = UsageSummary(since=since, until=until)
    for values in grouped:
        summary.rows.append(UsageRow(**{k: (v if v is not None else _zero(k)) for k, v in values.items()}))
    totals = base.aggregate(**counters)
    summary.totals = UsageRow(
        day=None, feature="all", **{k: (v if v is not None else _zero(k)) for k, v in totals.items()}
    )
    if not postgres:
        latencies: dict[tuple, list[float]] = defaultdict(list)
        everything: list[float] = []
        for day, feature, latency in (
            base.filter(uncached).annotate(day=TruncDate("created_at")).values_list("day", "feature", "latency_ms")
        ).iterator(chunk_size=5000):
            latencies[(day, feature)].append(latency)
            everything.append(latency)
        for row in summary.rows:
            values = latencies.get((row.day, row.feature), [])
            row.p50_ms, row.p95_ms = nearest_rank(values, 0.5), nearest_rank(values, 0.95)
        summary.totals.p50_ms, summary.totals.p95_ms = nearest_rank(everything, 0.5), nearest_rank(everything, 0.95)
    return summary


def _zero(name: str):
    if name in ("p50_ms", "p95_ms"):
        return None
    if name == "cost_usd":
        return Decimal("0")
    return 0


def budget_rows(*, with_figures: bool = True) -> list[dict]:
    """Today's consumption of every configured budget (a "*" budget applies to each feature seen).
    Budgets are shared by every scope: `with_figures=False` (a manager who sees only their own
    teams) keeps whether each is used up and drops the amounts, which are everyone's spend."""
    features = set(settings.LLM_BUDGETS) - {"*"}
    if "*" in settings.LLM_BUDGETS:
        features |= set(LLMCall.objects.values_list("feature", flat=True).distinct())
    rows = []
    for feature in sorted(features):
        budget, used = budget_status(feature)
        rows.append(
            {
                "feature": feature,
                "describe": budget.describe(used) if with_figures else "shared by every team",
                "percent": (min(100, int(used * 100 / budget.limit)) if budget.limit else 100)
                if with_figures
                else None,
                "exhausted": used >= budget.limit,
            }
        )
    return rows
