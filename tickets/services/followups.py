"""Ticket updates, follow-ups and the scheduled refresh pass (aging, SLA breaches, follow-ups due)."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from crm import audit
from crm.errors import ServiceError
from crm.models import AuditEvent
from tickets import matches
from tickets.models import (
    Priority,
    Ticket,
    TicketEvent,
)
from tickets.services._base import _user, validate_choice
from tickets.services.alerts import refresh_keywords
from tickets.services.scores import age_open_tickets, sync_customer_inputs, weights_for

log = logging.getLogger(__name__)


@transaction.atomic
def update_ticket(*, actor, ticket: Ticket, changes: dict, via: str = "console") -> Ticket:
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    before = audit.snapshot(ticket)
    now = timezone.now()
    if "priority" in changes:
        ticket.priority = validate_choice("priority", changes["priority"], Priority.values)
        ticket.retarget_sla()
    if "status" in changes:
        status = validate_choice("status", changes["status"], Ticket.Status.values)
        if status != ticket.status:
            reopening = status in Ticket.ACTIVE_STATUSES and not ticket.is_active
            if reopening and ticket.contact_id:
                conflict = Ticket.objects.filter(
                    contact_id=ticket.contact_id, channel=ticket.channel, status__in=Ticket.ACTIVE_STATUSES
                ).exclude(pk=ticket.pk)
                if conflict.exists():
                    raise ServiceError("This contact already has an active ticket on this channel.", field="status")
            if status in (Ticket.Status.RESOLVED, Ticket.Status.CLOSED):
                ticket.stop_waiting()
                ticket.resolved_at = now
                ticket.follow_up_at = None
            elif status == Ticket.Status.OPEN and ticket.waiting_since is None:
                ticket.start_waiting(now)
            elif status == Ticket.Status.PENDING:
                ticket.stop_waiting()
            ticket.status = status
    for name in ("subject", "resolution"):
        if name in changes:
            setattr(ticket, name, changes[name])
    subject_changed = ticket.subject != before.get("subject")
    if "assignee" in changes:
        ticket.assignee = changes["assignee"]
    ticket.apply_score(weights_for(ticket), now=now)
    ticket.store(
        "priority",
        "status",
        "resolved_at",
        "follow_up_at",
        "subject",
        "resolution",
        "assignee",
        *Ticket.WAIT_FIELDS,
    )
    matches.copy_columns(ticket)
    if subject_changed:
        refresh_keywords(ticket=ticket)  # topic alerts match the subject too
    event = audit.record(actor=actor, action=AuditEvent.Action.UPDATE, obj=ticket, before=before, via=via)
    if event:
        TicketEvent.objects.create(
            ticket=ticket, kind=TicketEvent.Kind.UPDATED, actor=_user(actor), text=", ".join(sorted(event.changes))
        )
    return ticket


@transaction.atomic
def set_follow_up(*, actor, ticket: Ticket, at: datetime, note: str = "") -> Ticket:
    """Park the ticket as waiting on the customer; it resurfaces at `at` if they have not replied."""
    if at <= timezone.now():
        raise ServiceError("A follow-up must be in the future.", field="follow_up_at")
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    ticket.park(until=at, note=note, now=timezone.now(), weights=weights_for(ticket))
    matches.copy_columns(ticket)
    TicketEvent.objects.create(
        ticket=ticket,
        kind=TicketEvent.Kind.FOLLOW_UP_SET,
        actor=_user(actor),
        text=f"resurface {at:%Y-%m-%d %H:%M} if no reply" + (f": {note}" if note else ""),
    )
    return ticket


def resurface_follow_ups(*, now=None) -> int:
    """Due follow-ups whose customer has not replied come back to the open inbox, waiting from now."""
    now = now or timezone.now()
    count = 0
    due = Ticket.objects.filter(follow_up_at__lte=now, status=Ticket.Status.PENDING).values_list("pk", flat=True)
    for pk in list(due[:5000]):
        with transaction.atomic():
            ticket = Ticket.objects.select_for_update().filter(pk=pk, follow_up_at__lte=now).first()
            if ticket is None or ticket.status != Ticket.Status.PENDING:
                continue
            note = ticket.follow_up_note
            ticket.resurface(now=now, weights=weights_for(ticket))
            matches.copy_columns(ticket)
            TicketEvent.objects.create(ticket=ticket, kind=TicketEvent.Kind.FOLLOW_UP_DUE, at=now, text=note)
            count += 1
    return count


def flag_sla_breaches(*, now=None) -> int:
    now = now or timezone.now()
    breached = Ticket.objects.waiting().filter(sla_breached=False, sla_due_at__lt=now)
    total = 0
    while True:
        ids = list(breached.values_list("pk", flat=True)[:2000])
        if not ids:
            return total
        with transaction.atomic():
            n = Ticket.objects.filter(pk__in=ids, sla_breached=False).update(sla_breached=True, sla_breached_at=now)
            TicketEvent.objects.bulk_create(
                [
                    TicketEvent(ticket_id=pk, kind=TicketEvent.Kind.SLA_BREACHED, at=now, text="response target missed")
                    for pk in ids
                ]
            )
        total += n


def refresh_open_tickets(*, now=None) -> dict:
    """The scheduled pass: customer inputs, age (every active score), SLA breaches, follow-ups."""
    now = now or timezone.now()
    return {
        "inputs_synced": sync_customer_inputs(now=now),
        "rescored": age_open_tickets(now=now),
        "breached": flag_sla_breaches(now=now),
        "resurfaced": resurface_follow_ups(now=now),
        "alert_matches": matches.reconcile(now=now),
    }
