"""Thin tasks: ids in, domain code out. Scans fan out in chunks of deal ids, not one task per deal."""

from celery import shared_task

from nudges import services


@shared_task
def refresh_nudges_task(deal_ids: list[int]) -> dict:
    """Idempotent: a rerun on unchanged deals writes nothing (input hash per nudge)."""
    summary = services.refresh_nudges(deal_ids=[int(i) for i in deal_ids])
    return summary.__dict__


@shared_task
def scan_nudges_task(team_ids: list[int] | None = None) -> int:
    return services.scan_nudges(team_ids=team_ids)


@shared_task
def rebuild_signals_task() -> dict:
    """Nightly full rebuild of the stored conversation signals (catches edits that bypassed the
    ORM's signals); idempotent."""
    from nudges import signals

    return signals.rebuild().__dict__
