"""Thin Celery tasks: ids in, the service does the work, the row holds the state."""

from __future__ import annotations

from celery import shared_task

from outbound import services
from outbound.models import Delivery

# Retries after a temporary error: 30 s, 60 s, 120 s, 240 s... capped at 15 minutes.
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 900


@shared_task
def deliver_task(delivery_id: int) -> str:
    """Deliver once. A temporary failure puts the row back to "queued" and schedules the next
    attempt with exponential backoff (the attempt count lives on the row, so a redelivered task
    cannot reset it); past OUTBOUND_MAX_ATTEMPTS the row is "failed" and the console offers retry."""
    outcome = services.deliver(delivery_id=delivery_id)
    if outcome == "retry":
        attempts = Delivery.objects.filter(pk=delivery_id).values_list("attempts", flat=True).first() or 1
        countdown = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** (attempts - 1))
        deliver_task.apply_async((delivery_id,), countdown=countdown)
    return outcome


@shared_task
def recover_deliveries_task() -> dict:
    return services.recover_deliveries()
