"""Thin tasks: ids in, domain code out."""

from celery import shared_task

from notifications import services


@shared_task
def analyse_segment_task(run_id: int) -> str:
    """Idempotent: a finished run returns at once; a rerun skips customers whose inputs are unchanged."""
    run = services.run_analysis(run_id)
    return run.status if run else "gone"
