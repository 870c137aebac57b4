"""Plan my pipeline on a real worker pool: a run of two lanes, planned side by side by two worker
processes (Redis broker, PostgreSQL)."""

import time

import pytest

from config.celery import app as celery_app
from nudges import plan_runs
from nudges.models import Plan, PlanRun


@pytest.mark.worker
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_each_plan_a_lane_and_the_run_finishes_once(team, manager, pipeline, real_worker):
    worker, queue = real_worker(concurrency=2)
    run = plan_runs.start_run(team=team, actor=manager, enqueue=False, lanes=2)
    celery_app.send_task("nudges.tasks.plan_run_task", args=[run.pk], queue=queue)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and worker.poll() is None:
        run.refresh_from_db()
        if run.status not in PlanRun.ACTIVE:
            break
        time.sleep(0.2)
    assert run.status == "done", (run.status, run.error, worker.poll())
    assert run.lane_done == [3, 2] and (run.done, run.written, run.cached, run.failed) == (5, 5, 0, 0)
    # Each lane was held by its own task (queued by the first one, on the queue it came from).
    assert len(set(run.lane_tasks)) == 2 and all(run.lane_tasks)
    assert Plan.objects.filter(status="ready").count() == 5
