"""Print the AI usage summary (the same figures as Settings -> AI usage and GET /api/llm/usage/)."""

import json
from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from llm import usage

COLUMNS = [
    ("day", "Day", 10),
    ("feature", "Feature", 24),
    ("calls", "Calls", 7),
    ("cache_hits", "Hits", 7),
    ("input_tokens", "Tok in", 10),
    ("output_tokens", "Tok out", 9),
    ("cache_read_tokens", "Cache rd", 9),
    ("cost_usd", "Cost $", 10),
    ("failures", "Fail", 5),
    ("fallbacks", "Fallbk", 6),
    ("p50_ms", "p50 ms", 8),
    ("p95_ms", "p95 ms", 8),
]


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = "AI usage per feature and per day: calls, cache hits, tokens, cost, failures, fallbacks, latency."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=7, help="Last N days including today (default 7).")
        parser.add_argument("--since", type=_day, help="First day, YYYY-MM-DD (overrides --days).")
        parser.add_argument("--until", type=_day, help="Last day, YYYY-MM-DD (default today).")
        parser.add_argument("--feature", action="append", help="Only this feature (repeatable).")
        parser.add_argument("--json", action="store_true", help="Print JSON instead of a table.")

    def handle(self, *args, days, since, until, feature, json: bool = False, **options):
        if days < 1:
            raise CommandError("--days must be at least 1")
        until = until or timezone.localdate()
        since = since or until - timedelta(days=days - 1)
        if since > until:
            raise CommandError("--since must be on or before --until")
        summary = usage.summarize(since=since, until=until, features=feature)
        if json:
            self.stdout.write(_json.dumps({**summary.as_dict(), "budgets": usage.budget_rows()}, indent=2))
            return
        self.stdout.write(f"AI usage {since} to {until}" + (f" for {', '.join(feature)}" if feature else ""))
        header = " ".join(
            f"{title:>{width}}" if i > 1 else f"{title:<{width}}" for i, (_, title, width) in enumerate(COLUMNS)
        )
        self.stdout.write(header)
        for row in [*summary.rows, summary.totals]:
            self.stdout.write(_line(row))
        if not summary.rows:
            self.stdout.write("(no calls)")
        budgets = usage.budget_rows()
        if budgets:
            self.stdout.write("Budgets today:")
            for b in budgets:
                state = "USED UP: offline until midnight" if b["exhausted"] else f"{b['percent']}%"
                self.stdout.write(f"  {b['feature']:<24} {b['describe']}  ({state})")


_json = json


def _line(row) -> str:
    cells = []
    for i, (name, _, width) in enumerate(COLUMNS):
        value = getattr(row, name)
        if name == "day":
            value = value.isoformat() if value else "TOTAL"
        elif name == "cost_usd":
            value = f"{value:.4f}"
        elif name in ("p50_ms", "p95_ms"):
            value = "-" if value is None else f"{value:.0f}"
        elif isinstance(value, int):
            value = f"{value:,}"
        cells.append(f"{str(value)[:width]:<{width}}" if i <= 1 else f"{value:>{width}}")
    return " ".join(cells)
