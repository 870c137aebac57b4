"""Thin tasks: ids in, domain code out."""

from celery import shared_task

from notifications import runs


@shared_task
def analyse_segment_task(run_id: int) -> str:
    """Idempotent: a finished run returns at once; a rerun skips customers whose inputs are unchanged."""
    run = runs.run_analysis(run_id)
    return run.status if run else "gone"


@shared_task
def refine_segments_task(team_id: int) -> dict:
    """Idempotent: customers whose refinement was made from their current data are skipped."""
    from crm.models import Team
    from notifications.segment_refinement import refine_segments

    team = Team.objects.filter(pk=team_id).first()
    if team is None:
        return {}
    stats = refine_segments(team)
    return {"asked": stats.asked, "unchanged": stats.unchanged, "batched": stats.batched}
