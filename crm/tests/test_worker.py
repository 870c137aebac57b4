"""A real Celery worker process, a real Redis broker, a real PostgreSQL database."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app
from crm.models import Activity

ROOT = Path(__file__).resolve().parents[2]


def _services_available() -> str | None:
    if not settings.REDIS_URL:
        return "REDIS_URL is not set"
    if connection.vendor != "postgresql":
        return "the worker needs a database shared across processes (PostgreSQL)"
    return None


@pytest.mark.worker
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
@pytest.mark.django_db(transaction=True)
def test_real_worker_runs_a_task_from_redis_and_writes_the_row(deal, account):
    reason = _services_available()
    if reason:
        if os.environ.get("REQUIRE_WORKER"):
            pytest.fail(f"REQUIRE_WORKER is set but {reason}")
        pytest.skip(reason)
    Activity.objects.create(account=account, deal=deal, kind="email", body="hi", occurred_at="2026-11-01T09:00:00Z")
    assert deal.last_activity_at is None

    db = connection.settings_dict
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        celery_app.send_task("crm.tasks.refresh_deal_last_activity_task", args=[deal.pk], queue=queue)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            deal.refresh_from_db()
            if deal.last_activity_at is not None or worker.poll() is not None:
                break
            time.sleep(0.2)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    assert deal.last_activity_at is not None, output
    assert deal.last_activity_at.isoformat().startswith("2026-11-01T09:00")
