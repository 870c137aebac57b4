"""Thin Celery tasks: load by id, guard, call the service, store. Idempotent by construction."""

from __future__ import annotations

from celery import shared_task

from tickets import services
from tickets.models import Delivery, WeightSet

# Webhook/SMTP retries: 30 s, 60 s, 120 s, 240 s... capped at 15 minutes.
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 900


@shared_task
def triage_ticket_task(ticket_id: int) -> str:
    return services.triage_and_draft(ticket_id=ticket_id)


@shared_task
def generate_draft_task(draft_id: int) -> str:
    return services.generate_draft(draft_id=draft_id)


@shared_task
def deliver_message_task(delivery_id: int) -> str:
    """Deliver once. A temporary failure puts the ledger row back to "queued" and schedules the next
    attempt with exponential backoff (the attempt count lives on the row, so a redelivered task
    cannot reset it); past TICKETS_SEND_MAX_ATTEMPTS the row is "failed" and the console offers retry."""
    outcome = services.deliver(delivery_id=delivery_id)
    if outcome == "retry":
        attempts = Delivery.objects.filter(pk=delivery_id).values_list("attempts", flat=True).first() or 1
        countdown = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** (attempts - 1))
        deliver_message_task.apply_async((delivery_id,), countdown=countdown)
    return outcome


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
