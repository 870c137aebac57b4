"""Analysis runs: "Analyse & generate" in the console, `POST refresh/` and `manage.py analyse_customers`.

One run at a time per team. A small run (or a provider without batches) answers as it goes, 25
customers a step, so results appear on the page as they complete. A big run goes through the
gateway's batch path: every customer in one Message Batch per feature (half price), the run waits,
and resumes from the reply cache when the last answer is in. Unchanged customers cost nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from crm.validators import parse_id
from llm import bulk_handler
from llm.registry import get_provider
from notifications import ai
from notifications.models import AnalysisRun, CustomerRecord, NotificationSettings
from notifications.services import CHUNK, Step, analyse_records


def start_analysis(*, team, segment: str, actor=None, force_refresh: bool = False) -> AnalysisRun:
    """One run at a time per team: a second click while one runs returns the running one."""
    with transaction.atomic():
        running = (
            AnalysisRun.objects.select_for_update()
            .filter(
                team=team,
                status__in=(AnalysisRun.Status.QUEUED, AnalysisRun.Status.RUNNING, AnalysisRun.Status.WAITING),
            )
            .first()
        )
        if running:
            return running
        total = CustomerRecord.objects.filter(team=team, segment=segment).count()
        run = AnalysisRun.objects.create(
            team=team,
            segment=segment,
            started_by=actor,
            total=total,
            force_refresh=force_refresh,
            batch=use_batch(total),
        )
        from notifications.tasks import analyse_segment_task

        analyse_segment_task.delay_on_commit(run.pk)
    return run


def use_batch(customers: int) -> bool:
    """Big runs go through the gateway's batch path when the provider has one (Message Batches: half
    price, answered within 24 hours); small ones, and providers without batches, answer as they go."""
    return get_provider().supports_batches and customers >= settings.LLM_BATCH_MIN_ITEMS


def run_analysis(run_id: int, *, limit: int | None = None, progress=None) -> AnalysisRun | None:
    """Carry out a run; idempotent: a finished run returns at once, a rerun skips customers whose
    inputs did not change (the stored hash) and costs nothing for them.

    A batch run (`run.batch`) asks for every customer at once through the Message Batches API and
    waits; `batch_answer_arrived` counts the answers and queues the run again when the last one is
    in, and the rerun finds them in the reply cache (analysis, then the messages the same way)."""
    claimed = AnalysisRun.objects.filter(
        pk=run_id, status__in=(AnalysisRun.Status.QUEUED, AnalysisRun.Status.RUNNING)
    ).update(status=AnalysisRun.Status.RUNNING)
    if not claimed:
        return AnalysisRun.objects.filter(pk=run_id).first()
    run = AnalysisRun.objects.select_related("team").get(pk=run_id)
    conf = NotificationSettings.for_team(run.team)
    ids = list(
        CustomerRecord.objects.filter(team=run.team, segment=run.segment)
        .order_by("-risk_score", "-risk_raw", "pk")
        .values_list("pk", flat=True)
    )
    limit = run.limit if limit is None else limit
    if limit is not None:
        ids = ids[:limit]
    AnalysisRun.objects.filter(pk=run.pk).update(total=len(ids), done=0)
    stats = Step()
    try:
        if run.batch:
            step = analyse_records(
                ids, conf=conf, run=run, force_refresh=run.force_refresh, mode="auto", batched=run.batches
            )
            stats.add(step)
            if step.pending:
                AnalysisRun.objects.filter(pk=run.pk).update(
                    status=AnalysisRun.Status.WAITING,
                    waiting=step.batched,
                    batches={**run.batches, **step.pending},
                    stats={**stats.as_dict(), "batched": run.stats.get("batched", 0) + step.batched},
                )
                run.refresh_from_db()
                return run
            stats.batched += run.stats.get("batched", 0)
            if progress:
                progress(len(ids), len(ids))
        else:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                stats.add(analyse_records(chunk, conf=conf, run=run, force_refresh=run.force_refresh))
                AnalysisRun.objects.filter(pk=run.pk).update(done=start + len(chunk))
                if progress:
                    progress(start + len(chunk), len(ids))
    except Exception as exc:  # the page shows why the run stopped, with a retry button
        AnalysisRun.objects.filter(pk=run.pk).update(status="failed", error=str(exc)[:500], finished_at=timezone.now())
        raise
    AnalysisRun.objects.filter(pk=run.pk).update(
        status=AnalysisRun.Status.DONE, done=len(ids), stats=stats.as_dict(), finished_at=timezone.now()
    )
    run.refresh_from_db()
    return run


@bulk_handler(ai.ANALYSIS)
@bulk_handler(ai.MESSAGE)
def batch_answer_arrived(key: str, result) -> None:
    """One answer of a batch run's Message Batch ("<run id>:<record id>"): the gateway has cached it;
    count it, and queue the run again when it was the last one."""
    run_id = parse_id(key.partition(":")[0])
    if run_id is None:
        return
    counted = AnalysisRun.objects.filter(pk=run_id, status=AnalysisRun.Status.WAITING, waiting__gt=0).update(
        waiting=F("waiting") - 1
    )
    if counted and AnalysisRun.objects.filter(pk=run_id, status=AnalysisRun.Status.WAITING, waiting=0).update(
        status=AnalysisRun.Status.QUEUED
    ):
        from notifications.tasks import analyse_segment_task

        analyse_segment_task.delay_on_commit(run_id)
