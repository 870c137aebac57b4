"""Plan my pipeline through a real Celery worker pool: the same deals as one process, as one lane on
the pool, and as two lanes side by side, against the naive approach in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h1_bench_plans .venv/bin/python -m bench.plans.pool

Needs the data of `python -m bench.plans` in the same database (run it first; BENCH_REUSE is
implied) and Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/12: a database of its own,
purged first). Starts `celery -A config worker --pool=prefork -c BENCH_CONCURRENCY` (default 2, the
machine's CPUs) on a queue of its own, then for BENCH_BULK deals (default 10,000), each run with a
new campaign context so every plan is written:
  a. `plan_bulk.plan_many` in this process (what `sales_action recommend-all` does);
  b. a PlanRun of one lane sent to the pool: one task plans every deal in turn;
  c. a PlanRun of BENCH_CONCURRENCY lanes: one task a lane, side by side;
wall time from sending the task to the run marked done (the run's own started/finished times
beside it), deals/s, and the naive approach on BENCH_NAIVE_BULK deals (rate extrapolated).
Target (issue 12): >= 500 deals/s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "2"))
BULK = int(os.environ.get("BENCH_BULK", "10000"))
NAIVE_BULK = int(os.environ.get("BENCH_NAIVE_BULK", "300"))
os.environ["REDIS_URL"] = REDIS  # before Django reads its settings: tasks go to this broker

from django.core.management import call_command  # noqa: E402

from bench.plans.__main__ import clear_plans, load, naive_plan, verdict  # noqa: E402 - sets Django up
from config.celery import app as celery_app  # noqa: E402
from crm.models import Deal  # noqa: E402
from nudges import plan_bulk  # noqa: E402
from nudges.models import Plan, PlanRun  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def start_worker(queue: str) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=prefork", f"--concurrency={CONCURRENCY}",
         "-Q", queue, "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "warning"],
        cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL,
    )  # fmt: skip


def pool_run(queue: str, team_id: int, ids: list[int], lanes: int, campaign: str) -> tuple[float, PlanRun]:
    """Send a run to the pool and wait for it: (seconds from sending to done, the run)."""
    run = PlanRun.objects.create(team_id=team_id, deal_ids=ids, deals=len(ids), lanes=lanes, campaign_context=campaign)
    t0 = time.perf_counter()
    celery_app.send_task("nudges.tasks.plan_run_task", args=[run.pk], queue=queue)
    while True:
        run.refresh_from_db()
        if run.status not in PlanRun.ACTIVE:
            break
        time.sleep(0.02)
    seconds = time.perf_counter() - t0
    if run.status != PlanRun.Status.DONE:
        sys.exit(f"run {run.pk} {run.status}: {run.error}")
    return seconds, run


def main() -> None:
    call_command("migrate", verbosity=0)
    if not Deal.objects.exists():
        sys.exit("No deals: run `python -m bench.plans` on this database first.")
    ids = list(Deal.objects.order_by("pk").values_list("pk", flat=True)[:BULK])
    team_id = Deal.objects.filter(pk=ids[0]).values_list("team_id", flat=True).get()
    PlanRun.objects.filter(status__in=PlanRun.ACTIVE).update(status=PlanRun.Status.FAILED)
    clear_plans()
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    celery_app.control.purge()
    worker = start_worker(queue)
    try:
        # Warm-up: every pool process loads the code and opens its connection.
        pool_run(queue, team_id, ids[: CONCURRENCY * 2], CONCURRENCY, "warm-up")
        print(f"Plan my pipeline, {len(ids):,} deals, offline writer, a worker of {CONCURRENCY} processes [{load()}]")

        t0 = time.perf_counter()
        stats = plan_bulk.plan_many(deal_ids=ids, campaign_context="one process")
        one_s = time.perf_counter() - t0
        print(f"   a. one process (plan_bulk.plan_many, as the command): {stats.written:,} in {one_s:.1f} s = "
              f"{len(ids) / one_s:,.0f} deals/s [{load()}]")  # fmt: skip

        results = {}
        for lanes in sorted({1, CONCURRENCY}):
            seconds, run = pool_run(queue, team_id, ids, lanes, f"pool {lanes}")
            results[lanes] = len(ids) / seconds
            inside = (run.finished_at - run.started_at).total_seconds()
            print(f"   {'b' if lanes == 1 else 'c'}. a run of {lanes} lane{'s' if lanes > 1 else ''} on the pool: "
                  f"{run.written:,} written in {seconds:.1f} s from sending to done = {results[lanes]:,.0f} deals/s "
                  f"(started to finished {inside:.1f} s) [{load()}]")  # fmt: skip
    finally:
        worker.terminate()
        worker.wait(timeout=60)

    t0 = time.perf_counter()
    for pk in ids[:NAIVE_BULK]:
        naive_plan(pk, "naive pool")
    naive_rate = NAIVE_BULK / (time.perf_counter() - t0)
    best = results[CONCURRENCY]
    print(f"   naive in a loop: {naive_rate:,.0f} deals/s [{load()}]")
    print(f"   {CONCURRENCY} lanes / one lane: {best / results[1]:.2f}x; / one process: {best * one_s / len(ids):.2f}x; "
          f"/ naive: {best / naive_rate:.0f}x; >= 500 deals/s: {verdict(best >= 500)}")  # fmt: skip
    print(f"   plans stored: {Plan.objects.count():,}")


if __name__ == "__main__":
    main()
