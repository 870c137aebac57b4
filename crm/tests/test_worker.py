"""A real Celery worker process, a real Redis broker, a real PostgreSQL database."""

import time

import pytest

from config.celery import app as celery_app
from crm.models import Activity


@pytest.mark.worker
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
@pytest.mark.django_db(transaction=True)
def test_real_worker_runs_a_task_from_redis_and_writes_the_row(deal, account, real_worker):
    Activity.objects.create(account=account, deal=deal, kind="email", body="hi", occurred_at="2026-11-01T09:00:00Z")
    assert deal.last_activity_at is None
    worker, queue = real_worker()
    celery_app.send_task("crm.tasks.refresh_deal_last_activity_task", args=[deal.pk], queue=queue)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        deal.refresh_from_db()
        if deal.last_activity_at is not None or worker.poll() is not None:
            break
        time.sleep(0.2)
    assert deal.last_activity_at is not None, worker.poll()
    assert deal.last_activity_at.isoformat().startswith("2026-11-01T09:00")
