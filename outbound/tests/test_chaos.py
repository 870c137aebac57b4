"""Chaos: a real Celery worker is SIGKILLed at random points of sends; nothing goes out twice and
nothing is lost silently.

Runs only with REDIS_URL and PostgreSQL (the worker is another process). Each trial queues one email,
starts a worker, and kills it with SIGKILL either at a random moment after the task was sent
(starting up, claiming, sending, done) or a random moment after the row was claimed (inside the
send: before the hand-off, while the SMTP sink holds the DATA, after it accepted). The sink answers
slowly so kills land inside sends. Then, as the beat pass would, recovery runs and a last worker
finishes what it can. Counted: every row ends sent, uncertain or failed with a reason; every sent row
arrived exactly once; no message arrived twice.

    DATABASE_URL=postgres://... REDIS_URL=redis://127.0.0.1:6379/N \\
        pytest outbound/tests/test_chaos.py -m worker -s   # CHAOS_TRIALS=24 CHAOS_SEED=...
"""

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection
from django.utils import timezone

from config.celery import app as celery_app
from outbound import services
from outbound.models import Delivery

ROOT = Path(__file__).resolve().parents[2]
TRIALS = int(os.environ.get("CHAOS_TRIALS", "24"))


class SlowSink:
    """An SMTP server that takes its time to answer DATA, and remembers every message it accepted."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.accepted: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.rng.uniform(0.05, 0.4))
        self.accepted.append(message_from_bytes(envelope.content)["X-NextTouch-Delivery"])
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _skip_reason() -> str | None:
    if not settings.REDIS_URL:
        return "REDIS_URL is not set"
    if connection.vendor != "postgresql":
        return "the worker needs a database shared across processes (PostgreSQL)"
    return None


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


@pytest.mark.worker
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
@pytest.mark.django_db(transaction=True)
def test_sigkilled_workers_never_send_twice_and_lose_nothing_silently(team):
    reason = _skip_reason()
    if reason:
        if os.environ.get("REQUIRE_WORKER"):
            pytest.fail(f"REQUIRE_WORKER is set but {reason}")
        pytest.skip(reason)
    seed = int(os.environ.get("CHAOS_SEED", str(random.SystemRandom().randrange(10**6))))
    rng = random.Random(seed)
    sink = SlowSink(random.Random(seed + 1))
    port = _free_port()
    smtp = Controller(sink, hostname="127.0.0.1", port=port)
    smtp.start()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "OUTBOUND_QUIET_HOURS_START": "0",
        "OUTBOUND_QUIET_HOURS_END": "0",
    }

    def start_worker():
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo",
             "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "warning"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def enqueue(pk: int) -> None:
        celery_app.send_task("outbound.tasks.deliver_task", args=[pk])

    # The default queue of this test's own Redis database: nothing left over from an earlier run.
    celery_app.control.purge()
    kills = Counter()
    worker = None
    try:
        for i in range(TRIALS):
            d = Delivery.objects.create(
                key=f"chaos-{seed}-{i}",
                team=team,
                channel="email",
                recipient=f"customer{i}@example.com",
                subject="Your order",
                body=f"Message {i}",
                is_reply=True,
                source="tests.chaos",
                source_id=i,
            )
            worker = start_worker()
            enqueue(d.pk)
            if rng.random() < 0.3:
                time.sleep(rng.uniform(0, 4.0))  # anywhere: starting up, claiming, sending, finished
            else:
                row = Delivery.objects.filter(pk=d.pk, claimed_at__isnull=False)
                claimed = _wait(row.exists, 60)
                assert claimed, "the worker never claimed the row"
                time.sleep(rng.uniform(0, 0.45))  # inside the send
            kills[Delivery.objects.get(pk=d.pk).status] += 1
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
        # Recovery, as the beat pass would run it once the lease is over; a last worker finishes.
        worker = start_worker()
        celery_app.conf.task_always_eager = False  # recovery enqueues through Redis, as in production
        try:
            recovered = services.recover_deliveries(now=timezone.now() + timedelta(hours=1))
        finally:
            celery_app.conf.task_always_eager = True
        unfinished = Delivery.objects.filter(source="tests.chaos", status__in=["queued", "sending", "held"])
        assert _wait(lambda: not unfinished.exists(), 120), list(unfinished.values("key", "status"))
        time.sleep(1.0)  # a send finishing right now would still reach the sink
    finally:
        if worker is not None and worker.poll() is None:
            worker.terminate()
            worker.wait(timeout=30)
        smtp.stop()
        celery_app.control.purge()

    arrived = Counter(sink.accepted)
    rows = list(Delivery.objects.filter(source="tests.chaos"))
    by_status = Counter(r.status for r in rows)
    figures = {
        "seed": seed,
        "trials": TRIALS,
        "status_when_killed": dict(kills),
        "recovery": recovered,
        "sent": by_status["sent"],
        "uncertain": by_status["uncertain"],
        "uncertain_that_arrived": sum(1 for r in rows if r.status == "uncertain" and arrived[r.key]),
        "failed": by_status["failed"],
        "duplicates": sum(1 for n in arrived.values() if n > 1),
        "lost_silently": sum(1 for r in rows if r.status == "sent" and not arrived[r.key]),
    }
    print("\nCHAOS " + json.dumps(figures))
    assert len(rows) == TRIALS >= 20
    assert figures["duplicates"] == 0, figures
    for r in rows:
        assert r.status in ("sent", "uncertain", "failed"), (r.key, r.status)
        if r.status == "sent":
            assert arrived[r.key] == 1, (r.key, arrived[r.key])
        else:
            assert r.last_error, (r.key, r.status)
    assert figures["lost_silently"] == 0
