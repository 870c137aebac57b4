"""One account timeline merged from several sources (activities, orders, and any app that registers).

Apps add a source with `register_source(name, fetch)`; `fetch(account, before, limit)` returns up to
`limit` entries older than `before` (a `(at, pk)` pair, or None for the newest), newest first.
Pagination is keyset per source: the cursor remembers the last entry shown from each source, so a
page costs one indexed query per source however deep the reader scrolls.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q

from crm.models import Account, Activity, Order


@dataclass(frozen=True)
class TimelineEntry:
    source: str
    pk: int
    at: datetime
    kind: str
    title: str
    body: str = ""
    meta: dict = field(default_factory=dict)
    url: str = ""

    @property
    def key(self) -> tuple[datetime, int]:
        return (self.at, self.pk)


Fetch = Callable[[Account, "tuple[datetime, int] | None", int], list[TimelineEntry]]
_SOURCES: dict[str, Fetch] = {}


def register_source(name: str, fetch: Fetch) -> None:
    _SOURCES[name] = fetch


def older_than(field_name: str, before: tuple[datetime, int] | None) -> Q:
    if before is None:
        return Q()
    at, pk = before
    return Q(**{f"{field_name}__lt": at}) | Q(**{field_name: at, "pk__lt": pk})


def _activities(account, before, limit):
    rows = (
        Activity.objects.filter(account=account)
        .filter(older_than("occurred_at", before))
        .select_related("contact", "actor")
        .order_by("-occurred_at", "-pk")[:limit]
    )
    entries = []
    for a in rows:
        meta = {"direction": a.get_direction_display()}
        if a.contact:
            meta["contact"] = a.contact.name
        if a.kind == Activity.Kind.EMAIL:
            meta["from"] = a.from_addr
            meta["to"] = a.to_addr
        if a.sentiment is not None:
            meta["sentiment"] = f"{a.sentiment:+.2f}"
        entries.append(
            TimelineEntry(
                "activity", a.pk, a.occurred_at, a.get_kind_display(), a.subject or a.get_kind_display(), a.body, meta
            )
        )
    return entries


def _orders(account, before, limit):
    rows = (
        Order.objects.filter(account=account)
        .filter(older_than("placed_at", before))
        .order_by("-placed_at", "-pk")[:limit]
    )
    return [
        TimelineEntry(
            "order",
            o.pk,
            o.placed_at,
            "Order",
            f"Order #{o.number}: {o.amount} {o.currency}",
            "",
            {"status": o.get_status_display(), "tracking": o.tracking_status},
        )
        for o in rows
    ]


register_source("activity", _activities)
register_source("order", _orders)


def entries(account: Account, source: str, *, limit: int = 20) -> list[TimelineEntry]:
    """The newest entries of one source (e.g. "ticket"), for a reader that wants only that kind."""
    fetch = _SOURCES.get(source)
    return fetch(account, None, limit) if fetch else []


def encode_cursor(positions: dict[str, tuple[datetime, int]]) -> str:
    data = {name: [at.isoformat(), pk] for name, (at, pk) in positions.items()}
    return base64.urlsafe_b64encode(json.dumps(data, sort_keys=True).encode()).decode()


def decode_cursor(cursor: str | None) -> dict[str, tuple[datetime, int]]:
    """A malformed cursor is treated as the first page rather than an error."""
    if not cursor:
        return {}
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return {str(name): (datetime.fromisoformat(at), int(pk)) for name, (at, pk) in data.items()}
    except (ValueError, TypeError, AttributeError):
        return {}


@dataclass
class TimelinePage:
    entries: list[TimelineEntry]
    next_cursor: str | None


def page(account: Account, *, cursor: str | None = None, size: int = 25) -> TimelinePage:
    positions = decode_cursor(cursor)
    candidates: list[TimelineEntry] = []
    for name, fetch in _SOURCES.items():
        # One extra row per source tells us whether anything is left after this page.
        candidates.extend(fetch(account, positions.get(name), size + 1))
    candidates.sort(key=lambda e: (e.at, e.source, e.pk), reverse=True)
    shown = candidates[:size]
    for entry in shown:
        positions[entry.source] = entry.key
    has_more = len(candidates) > size
    return TimelinePage(shown, encode_cursor(positions) if has_more else None)
