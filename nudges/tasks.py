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
    from nudges import plan_pending

    return plan_pending.complete_plan(int(plan_id)) is not None


@shared_task(bind=True)
def plan_run_task(self, run_id: int, lane: int | None = None) -> str:
    """Carry out (or resume) a "Plan my pipeline" run; idempotent (a finished run returns at once).
    A run of several lanes: this call (no `lane`) queues one task a lane, on the queue it came from,
    so the worker pool plans them side by side. Each gives its time back after half the soft time
    limit and queues its next leg."""
    from nudges import plan_runs
    from nudges.models import PlanRun

    queue = (self.request.delivery_info or {}).get("routing_key") or None
    if lane is None:
        lanes = PlanRun.objects.filter(pk=run_id).values_list("lanes", flat=True).first() or 1
        if lanes > 1:
            for k in range(lanes):
                plan_run_task.apply_async((run_id, k), queue=queue)
            return "running"
    holder = self.request.id or ""
    run, more = plan_runs.carry_out(int(run_id), lane=lane, holder=holder, budget=plan_runs.budget_seconds())
    if more:
        plan_run_task.apply_async((run.pk, lane), queue=queue)
    return run.status if run else "gone"
