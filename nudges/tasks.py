"""Thin tasks: ids in, domain code out. Scans fan out in chunks of deal ids, not one task per deal.

The fan-out (`scan_nudges`) lives here, beside the task it queues, so that `nudges.services` never
imports this module: tasks depend on services, not the other way round.
"""

from datetime import datetime

from celery import shared_task
from django.conf import settings

from nudges import services


@shared_task
def refresh_nudges_task(deal_ids: list[int]) -> dict:
    """Idempotent: a rerun on unchanged deals writes nothing (input hash per nudge)."""
    summary = services.refresh_nudges(deal_ids=[int(i) for i in deal_ids])
    return summary.__dict__


def scan_nudges(*, team_ids=None, now: datetime | None = None, chunk_size: int | None = None) -> int:
    """Fan the scan out over the task queue in chunks of deal ids; returns the number of chunks."""
    ids = services.candidate_deal_ids(team_ids=team_ids, now=now)
    n = 0
    for chunk in services.chunked(ids, chunk_size or settings.NUDGES_SCAN_CHUNK_SIZE):
        refresh_nudges_task.delay_on_commit(chunk)
        n += 1
    return n


@shared_task
def scan_nudges_task(team_ids: list[int] | None = None) -> int:
    return scan_nudges(team_ids=team_ids)


@shared_task
def rebuild_signals_task() -> dict:
    """Nightly full rebuild of the stored conversation signals (catches edits that bypassed the
    ORM's signals); idempotent."""
    from nudges import signals

    return signals.rebuild().__dict__


@shared_task
def generate_plan_task(plan_id: int) -> bool:
    """Write a pending action plan (console with a model configured); idempotent."""
    from nudges import plans

    return plans.complete_plan(int(plan_id)) is not None


@shared_task
def plan_run_task(run_id: int) -> str:
    """Carry out (or resume) a "Plan my pipeline" run; idempotent (a finished run returns at once).
    Gives its time back after half the soft time limit and queues the next leg."""
    from nudges import plan_runs

    run, more = plan_runs.carry_out(int(run_id), budget=plan_runs.budget_seconds())
    if more:
        plan_run_task.delay(run.pk)
    return run.status if run else "gone"
