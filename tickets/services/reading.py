"""Read helpers for pages: the team's average score, similar resolved tickets."""

from __future__ import annotations

import logging

from django.db.models import Avg, Count

from tickets.models import (
    Ticket,
    TicketKeyword,
)

log = logging.getLogger(__name__)


def average_open_score(*, team_id: int) -> float:
    return Ticket.objects.filter(team_id=team_id, status=Ticket.Status.OPEN).aggregate(a=Avg("score"))["a"] or 0.0


SIMILAR_CANDIDATES = 500  # recent resolved tickets considered: bounded work however large the team's history


def similar_tickets(*, ticket: Ticket, limit: int = 3):
    """Recently resolved tickets in the team sharing the most keywords with this one."""

    recent = (
        Ticket.objects.filter(team_id=ticket.team_id, status__in=[Ticket.Status.RESOLVED, Ticket.Status.CLOSED])
        .exclude(pk=ticket.pk)
        .order_by("-resolved_at", "-pk")
        .values("pk")[:SIMILAR_CANDIDATES]
    )
    mine = TicketKeyword.objects.filter(ticket=ticket).values("keyword")
    rows = (
        TicketKeyword.objects.filter(ticket_id__in=recent, keyword__in=mine)
        .values("ticket_id")
        .annotate(shared=Count("id"))
        .order_by("-shared", "-ticket_id")[:limit]
    )
    shared = {r["ticket_id"]: r["shared"] for r in rows}
    tickets = Ticket.objects.filter(pk__in=shared).select_related("account")
    return sorted(tickets, key=lambda t: (-shared[t.pk], -t.pk)), shared
