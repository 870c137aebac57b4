"""Thin Celery tasks: load by id, guard, call the service, store. Idempotent by construction."""

from __future__ import annotations

from celery import shared_task

from tickets import services
from tickets.models import WeightSet


@shared_task
def triage_ticket_task(ticket_id: int) -> str:
    return services.triage_and_draft(ticket_id=ticket_id)


@shared_task
def generate_draft_task(draft_id: int) -> str:
    return services.generate_draft(draft_id=draft_id)


@shared_task
def rescore_open_tickets_task(version: int) -> int:
    """After a weights change. A newer version supersedes this one (it queues its own rescore)."""
    latest = WeightSet.current()
    if latest.version != version:
        return 0
    return services.rescore_open_tickets(weights=latest.as_weights())


@shared_task
def refresh_open_tickets_task() -> dict:
    return services.refresh_open_tickets()
