"""The nudge stream (the seed's `GET /nudges`) as Server-Sent Events.

Each open nudge stored in one of the user's teams is sent once as

    id: <nudge id>
    event: nudge
    data: {"deal_id": ..., "nudge": ..., "urgency": ..., ...}

in id order. A reconnecting browser sends `Last-Event-ID` and gets only later nudges (the
console also passes `?last_event_id=` on first connect: the nudges already on the page). Idle
connections get a `: heartbeat` comment so proxies keep them open; after
NUDGES_STREAM_MAX_SECONDS the server ends the response and EventSource reconnects (resuming).

Under ASGI the response is an async generator: waiting costs no thread, and when the browser
disconnects Django cancels it, so the `finally` block runs and nothing is left polling. Under
WSGI (the test live server, `runserver` without ASGI) a plain generator does the same with
`time.sleep`, holding one thread per stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.template.loader import render_to_string

from crm.visibility import visible_team_ids
from nudges.models import Nudge
from nudges.services import nudge_payload

logger = logging.getLogger(__name__)
BATCH = 50  # events per poll: a backlog drains in a few round trips without one huge query
HEARTBEAT = ": heartbeat\n\n"
RETRY_MS = 2000


def team_ids_for(user) -> list[int] | None:
    """None means every team (admins)."""
    team_ids = visible_team_ids(user)
    return None if team_ids is None else sorted(team_ids)


def parse_last_event_id(request) -> int:
    raw = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id") or "0"
    try:
        value = int(str(raw).strip())
    except ValueError:
        return 0
    return max(0, min(value, 2**63 - 1))  # ids are bigints; larger is "nothing yet"


def format_event(payload: dict) -> str:
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    # JSON never contains a raw newline, so one data line per event.
    return f"id: {payload['id']}\nevent: nudge\ndata: {data}\n\n"


def fetch_after(team_ids: list[int] | None, after: int, *, html: bool = False) -> list[dict]:
    qs = Nudge.objects.open().filter(id__gt=after)
    if team_ids is not None:
        qs = qs.filter(team_id__in=team_ids)
    rows = list(qs.select_related("deal", "deal__account", "deal__stage", "deal__owner").order_by("id")[:BATCH])
    out = []
    for n in rows:
        payload = nudge_payload(n)
        if html:
            # Rendered (and autoescaped) here, so the page inserts it without building markup.
            payload["html"] = render_to_string("nudges/index.html#nudge-card", {"nudge": n, "streamed": True})
        out.append(payload)
    return out


def _settings():
    return (
        settings.NUDGES_STREAM_POLL_SECONDS,
        settings.NUDGES_STREAM_HEARTBEAT_SECONDS,
        settings.NUDGES_STREAM_MAX_SECONDS,
    )


async def aevents(team_ids, after: int, *, html: bool = False):
    poll, heartbeat, max_seconds = _settings()
    started = last_sent = time.monotonic()
    fetch = sync_to_async(fetch_after)
    sent = 0
    try:
        yield f"retry: {RETRY_MS}\n\n"
        while time.monotonic() - started < max_seconds:
            for payload in await fetch(team_ids, after, html=html):
                after = payload["id"]
                sent += 1
                last_sent = time.monotonic()
                yield format_event(payload)
            if time.monotonic() - last_sent >= heartbeat:
                last_sent = time.monotonic()
                yield HEARTBEAT
            await asyncio.sleep(poll)
    finally:
        logger.debug("nudge stream closed after %d events (last id %d)", sent, after)


def events(team_ids, after: int, *, html: bool = False):
    poll, heartbeat, max_seconds = _settings()
    started = last_sent = time.monotonic()
    sent = 0
    try:
        yield f"retry: {RETRY_MS}\n\n"
        while time.monotonic() - started < max_seconds:
            for payload in fetch_after(team_ids, after, html=html):
                after = payload["id"]
                sent += 1
                last_sent = time.monotonic()
                yield format_event(payload)
            if time.monotonic() - last_sent >= heartbeat:
                last_sent = time.monotonic()
                yield HEARTBEAT
            time.sleep(poll)
    finally:
        # The database connection is released by Django's request_finished handling when the
        # server closes the response (also on disconnect).
        logger.debug("nudge stream closed after %d events (last id %d)", sent, after)
