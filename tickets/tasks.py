"""Thin Celery tasks: load by id, guard, call the service, store. Idempotent by construction."""

from __future__ import annotations

from celery import shared_task

from tickets import services
from tickets.models import Ticket, WeightSet


@shared_task
def triage_ticket_task(ticket_id: int) -> str:
    return services.triage_and_draft(ticket_id=ticket_id)


@shared_task
def generate_draft_task(draft_id: int) -> str:
    return services.generate_draft(draft_id=draft_id)


@shared_task
def rescore_open_tickets_task(weight_set_id: int) -> int:
    """After a weights change: rescore the tickets that set governs (its team's, or those of every
    team without its own for the global default). A set no longer in force (a newer version queued
    its own rescore, or a reset made the team follow the default) does nothing."""
    default, own = WeightSet.in_force_map()
    if default.pk == weight_set_id:
        inheriting = Ticket.objects.open().exclude(team_id__in=list(own))
        return services.rescore_open_tickets(weights=default.as_weights(), queryset=inheriting)
    team_id = next((t for t, ws in own.items() if ws.pk == weight_set_id), None)
    if team_id is None:
        return 0
    team_tickets = Ticket.objects.open().filter(team_id=team_id)
    return services.rescore_open_tickets(weights=own[team_id].as_weights(), queryset=team_tickets)


@shared_task
def rescore_team_tickets_task(team_id: int) -> int:
    """After a team went back to the global default: its open tickets, with what is now in force."""
    return services.rescore_open_tickets(queryset=Ticket.objects.open().filter(team_id=team_id))


@shared_task
def refresh_open_tickets_task() -> dict:
    return services.refresh_open_tickets()
