"""Triage and escalation: automatic triage values, agents' edits, escalating once."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from crm import audit
from crm.errors import ServiceError
from crm.models import MANAGER_GROUP, AuditEvent, Membership
from tickets import ai, matches, rules
from tickets.models import (
    Draft,
    EscalationNotice,
    Message,
    Ticket,
    TicketEvent,
)
from tickets.services._base import _user
from tickets.services.drafts import request_draft
from tickets.services.scores import weights_for

log = logging.getLogger(__name__)


@transaction.atomic
def apply_triage(*, ticket: Ticket, fields: dict[str, dict], source: str, now=None) -> list[str]:
    """Apply automatic triage values at or above the confidence threshold; agent-set fields stay."""
    now = now or timezone.now()
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    applied = ticket.take_triage(
        fields,
        source=source,
        min_confidence=settings.TICKETS_TRIAGE_MIN_CONFIDENCE,
        at=now,
        weights=weights_for(ticket),
    )
    matches.copy_columns(ticket)
    TicketEvent.objects.create(
        ticket=ticket,
        kind=TicketEvent.Kind.TRIAGED,
        at=now,
        text=f"{source}: applied {', '.join(applied) or 'nothing'} (threshold {settings.TICKETS_TRIAGE_MIN_CONFIDENCE:g})",
        detail={"fields": fields, "applied": applied},
    )
    if not ticket.needs_review:
        maybe_escalate(ticket=ticket, now=now)
    return applied


@transaction.atomic
def edit_triage(*, actor, ticket: Ticket, changes: dict, via: str = "console") -> Ticket:
    """An agent's triage edit wins: stored with confidence 1 and locked against automatic triage."""
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    before = audit.snapshot(ticket)
    if "difficulty" in changes and changes["difficulty"] not in ("", "easy", "normal", "complex"):
        raise ServiceError("Allowed: easy, normal, complex.", field="difficulty")
    sentiment = changes.get("sentiment")
    if sentiment is not None and not (0 <= float(sentiment) <= 1):
        raise ServiceError("Sentiment is between 0 (angry) and 1 (delighted).", field="sentiment")
    changed = ticket.set_triage_by_agent(changes, now=timezone.now(), weights=weights_for(ticket))
    matches.copy_columns(ticket)
    if changed:
        TicketEvent.objects.create(
            ticket=ticket, kind=TicketEvent.Kind.TRIAGE_EDITED, actor=_user(actor), text=", ".join(changed)
        )
        audit.record(actor=actor, action=AuditEvent.Action.UPDATE, obj=ticket, before=before, via=via)
        maybe_escalate(ticket=ticket)
        if ticket.category != before.get("category") and ticket.is_active:
            # The draft is written for the ticket's category: a corrected category gets a new one,
            # chained to the draft it replaces (a draft already being generated is left to finish).
            request_draft(ticket=ticket, actor=actor, instruction=f"Category corrected to {ticket.category or 'none'}.")
    return ticket


def team_managers(*, team_id: int):
    return (
        get_user_model()
        .objects.filter(pk__in=Membership.objects.filter(team_id=team_id).values("user_id"), groups__name=MANAGER_GROUP)
        .distinct()
    )


@transaction.atomic
def escalate(*, ticket: Ticket, reason: str, actor=None, now=None) -> bool:
    """Escalate once: the ticket is marked, the event recorded, and the team's managers get a notice."""
    now = now or timezone.now()
    updated = Ticket.objects.filter(pk=ticket.pk, escalated_at__isnull=True).update(
        escalated_at=now, escalated_by=_user(actor), escalation_reason=reason[:300], updated_at=now
    )
    if not updated:
        return False
    ticket.refresh_from_db()
    who = actor.get_username() if _user(actor) else "the auto-escalation rule"
    TicketEvent.objects.create(
        ticket=ticket, kind=TicketEvent.Kind.ESCALATED, actor=_user(actor), at=now, text=f"by {who}: {reason}"[:500]
    )
    EscalationNotice.objects.bulk_create(
        [
            EscalationNotice(recipient=m, ticket=ticket, reason=reason[:300], created_at=now)
            for m in team_managers(team_id=ticket.team_id)
        ],
        ignore_conflicts=True,
    )
    return True


def maybe_escalate(*, ticket: Ticket, now=None) -> bool:
    if ticket.escalated_at or ticket.needs_review:
        return False
    decision = rules.escalation(
        churn_risk=ticket.customer_churn,
        sentiment=ticket.sentiment,
        lifetime_value=ticket.customer_ltv,
        min_churn=settings.TICKETS_ESCALATE_MIN_CHURN,
        max_sentiment=settings.TICKETS_ESCALATE_MAX_SENTIMENT,
        min_ltv=settings.TICKETS_ESCALATE_MIN_LTV,
        enabled=settings.TICKETS_ESCALATE_ENABLED,
    )
    if decision.escalate:
        return escalate(ticket=ticket, reason="Auto: " + decision.reason, now=now)
    return False


def triage_and_draft(*, ticket_id: int) -> str:
    ticket = Ticket.objects.select_related("account").filter(pk=ticket_id).first()
    if ticket is None or not ticket.is_active:
        return "skipped"
    text = "\n".join(
        ticket.messages.filter(direction=Message.Direction.INBOUND)
        .order_by("-created_at")
        .values_list("body", flat=True)[:5]
    )
    if ticket.needs_review:
        # Text that tries to instruct a model is never sent to one for triage: the rules read it.
        result = ai.TriageResult(fields=ai.triage_offline({"subject": ticket.subject, "text": text}), offline=True)
        source = "rules"
    else:
        result = ai.triage(subject=ticket.subject, text=text, about=ticket)
        source = "rules" if result.offline else "model"
    apply_triage(ticket=ticket, fields=result.fields, source=source)
    # One draft per customer message: a redelivered triage task finds it and queues nothing.
    fresh = Draft.objects.filter(ticket=ticket, created_at__gte=ticket.last_customer_message_at).exclude(
        status=Draft.Status.FAILED
    )
    if not fresh.exists():
        request_draft(ticket=ticket)
    return "done"
