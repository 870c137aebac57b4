"""An answer as Server-Sent Events: the steps as they happen, then the rendered answer.

    event: step     data: {"kind": "tool", "text": "Looked up client “TechGiant”", "at_ms": 12}
    event: answer   data: {"message_id": 7, "html": "<article ...>"}   (autoescaped server-side)
    event: error    data: {"message": "..."}

The loop runs in a worker thread and hands each event over a queue, so the browser sees a step the
moment it happens. Only one stream runs a given answer (a claim in the shared cache); a second tab or
a reconnect waits for the row and gets the stored answer. Under ASGI the response is an async
generator (no thread held while waiting); under WSGI (runserver, the test live server) a plain one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
import time

from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.db import connections
from django.template.loader import render_to_string

from assistant import services
from assistant.models import Message

logger = logging.getLogger(__name__)
DONE = object()
WAIT_SECONDS = 240  # as long as a Celery task may take: the loop's model calls sit inside it
POLL_SECONDS = 0.25


def sse(event: str, payload: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(payload, ensure_ascii=False, separators=(',', ':'))}\n\n"


def answer_html(message: Message) -> str:
    return render_to_string("assistant/index.html#answer", {"m": message})


def _claim(message_id: int) -> bool:
    return cache.add(f"assistant:running:{message_id}", 1, WAIT_SECONDS)


def _final_events(message_id: int) -> list[str]:
    message = Message.objects.select_related("rating").get(pk=message_id)
    if message.status == Message.Status.DONE:
        return [sse("answer", {"message_id": message.pk, "html": answer_html(message)})]
    if message.status == Message.Status.FAILED:
        return [sse("error", {"message": message.error or "The answer failed."})]
    return []


def _run(user, message_id: int, put) -> None:
    """Worker thread: run the loop, pushing each step to `put`; always ends with DONE."""
    try:
        message = Message.objects.select_related("conversation").get(pk=message_id)
        if _claim(message_id):
            try:
                services.answer(
                    user=user, message=message, emit=lambda e: put(sse("step", e)) if e["event"] == "step" else None
                )
            except Exception as exc:  # noqa: BLE001 - any failure is shown on the row, never a broken stream
                logger.exception("assistant answer %s failed", message_id)
                services.fail(message, f"{exc.__class__.__name__}: the answer could not be completed.")
        else:
            deadline = time.monotonic() + WAIT_SECONDS
            while time.monotonic() < deadline:
                if Message.objects.filter(pk=message_id).exclude(status=Message.Status.PENDING).exists():
                    break
                time.sleep(POLL_SECONDS)
        for event in _final_events(message_id):
            put(event)
    finally:
        connections.close_all()  # this worker thread's own connections, never the request's
        put(DONE)


def events(user, message_id: int):
    q: queue.Queue = queue.Queue()
    threading.Thread(target=_run, args=(user, message_id, q.put), daemon=True).start()
    yield "retry: 3000\n\n"
    while (item := q.get(timeout=WAIT_SECONDS + 10)) is not DONE:
        yield item


async def aevents(user, message_id: int):
    q: asyncio.Queue = asyncio.Queue()
    loop = asyncio.get_running_loop()
    run = sync_to_async(_run, thread_sensitive=False)
    task = asyncio.ensure_future(run(user, message_id, lambda item: loop.call_soon_threadsafe(q.put_nowait, item)))
    try:
        yield "retry: 3000\n\n"
        while (item := await q.get()) is not DONE:
            yield item
    finally:
        if not task.done():
            # The browser left: the answer still completes and is stored (the loop is not interrupted
            # half-way through writing), it just is not streamed.
            task.add_done_callback(lambda t: t.exception())
