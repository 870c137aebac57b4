"""Reply drafts: queueing one, the facts it is written from, generating it."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from tickets import ai
from tickets.models import (
    Draft,
    Message,
    Ticket,
)
from tickets.services._base import _user, enqueue

log = logging.getLogger(__name__)


def request_draft(*, ticket: Ticket, actor=None, instruction: str = "") -> Draft:
    """Queue a draft (one pending per ticket); a regeneration is chained to the draft it replaces."""
    pending = Draft.objects.filter(ticket=ticket, status=Draft.Status.PENDING).first()
    if pending:
        return pending
    previous = Draft.objects.filter(ticket=ticket, status=Draft.Status.READY).first()
    try:
        with transaction.atomic():
            draft = Draft.objects.create(
                ticket=ticket,
                channel=ticket.channel,
                instruction=instruction[:500],
                previous=previous,
                requested_by=_user(actor),
            )
            enqueue("generate_draft_task", draft.pk)
    except IntegrityError:
        return Draft.objects.get(ticket=ticket, status=Draft.Status.PENDING)
    return draft


def draft_context(*, ticket: Ticket, draft: Draft | None = None) -> ai.DraftContext:
    account = ticket.account
    inbound = list(
        ticket.messages.filter(direction=Message.Direction.INBOUND)
        .order_by("-created_at")
        .values_list("body", flat=True)[:5]
    )
    customer_text = "\n---\n".join(reversed(inbound))
    recent = list(account.orders.order_by("-placed_at")[:10])
    # The order the customer names, else the most recent one.
    order = next((o for o in recent if o.number and o.number in customer_text), recent[0] if recent else None)
    order_facts = None
    if order:
        age = None
        if order.tracking_updated_at and order.status not in ("delivered", "cancelled", "returned"):
            age = (timezone.now() - order.tracking_updated_at).days or None
        order_facts = {
            "number": order.number,
            "amount": str(order.amount),
            "currency": order.currency,
            "status": order.get_status_display(),
            "tracking_status": order.tracking_status,
            "tracking_age_days": age,
        }
    past = (
        Ticket.objects.filter(account=account, status__in=[Ticket.Status.RESOLVED, Ticket.Status.CLOSED])
        .exclude(pk=ticket.pk)
        .order_by("-resolved_at", "-pk")
        .first()
    )
    # Provenance: the records the draft is written from, shown beside it on the ticket page.
    sources = [
        {
            "kind": "account",
            "label": f"{account.name}: {'VIP, ' if account.is_vip else ''}churn risk {account.churn_risk:.2f}, "
            f"lifetime value {account.lifetime_value}",
        }
    ]
    if order:
        sources.append(
            {
                "kind": "order",
                "id": order.pk,
                "label": f"Order #{order.number}: {order.get_status_display()}"
                + (f", tracking {order.tracking_status}" if order.tracking_status else ""),
            }
        )
    past_issue = None
    if past:
        # Referred to by category and date, never by its subject: that is the customer's text.
        resolved = timezone.localtime(past.resolved_at).date().isoformat() if past.resolved_at else ""
        past_issue = {"category": past.category or "other", "resolved_on": resolved}
        sources.append(
            {"kind": "ticket", "id": past.pk, "label": f"Ticket #{past.pk}: {past.category or 'other'} {resolved}"}
        )
    sources.append({"kind": "messages", "label": f"{len(inbound)} customer message(s): read, never quoted"})
    contact_name = ticket.contact.first_name if ticket.contact else account.name.split()[0]
    assignee = ticket.assignee
    previous = draft.previous.content if draft and draft.previous else ""
    return ai.DraftContext(
        channel=ticket.channel,
        first_name=contact_name,
        is_vip=account.is_vip,
        lifetime_value=float(account.lifetime_value),
        churn_risk=account.churn_risk,
        total_orders=account.orders.count(),
        extra_care=account.is_vip or account.churn_risk >= settings.TICKETS_HIGH_CHURN,
        customer_text=customer_text,
        category=ticket.category,
        order=order_facts,
        past_issue=past_issue,
        quoted_texts=[*inbound, ticket.subject, *([past.subject] if past else [])],
        sources=sources,
        instruction=draft.instruction if draft else "",
        previous_draft=previous,
        agent_name=(assignee.get_full_name() or assignee.get_username()) if assignee else "",
        signature=settings.TICKETS_EMAIL_SIGNATURE,
    )


def generate_draft(*, draft_id: int) -> str:
    """Produce a pending draft. Idempotent: a draft that is no longer pending is left alone."""
    draft = (
        Draft.objects.select_related("ticket__account", "ticket__contact", "ticket__assignee", "previous")
        .filter(pk=draft_id)
        .first()
    )
    if draft is None or draft.status != Draft.Status.PENDING:
        return "skipped"
    ctx = draft_context(ticket=draft.ticket, draft=draft)
    try:
        result = ai.draft_reply(ctx, about=draft.ticket, force_refresh=bool(draft.instruction))
        if result.problems and not result.offline:
            # One more try, uncached; a second rule break fails the draft with the reason shown.
            result = ai.draft_reply(ctx, about=draft.ticket, force_refresh=True)
    except Exception as exc:  # noqa: BLE001 - any provider failure is shown on the panel with a retry
        log.warning("draft %s failed: %s", draft_id, exc)
        Draft.objects.filter(pk=draft_id, status=Draft.Status.PENDING).update(
            status=Draft.Status.FAILED, error=f"{exc.__class__.__name__}: {exc}"[:500], completed_at=timezone.now()
        )
        return "failed"
    if result.problems:
        Draft.objects.filter(pk=draft_id, status=Draft.Status.PENDING).update(
            status=Draft.Status.FAILED,
            content=result.content,
            flags=result.flags,
            provenance=ctx.sources,
            error=("The draft broke the channel rules: " + " ".join(result.problems))[:500],
            offline=result.offline,
            completed_at=timezone.now(),
        )
        return "failed"
    Draft.objects.filter(pk=draft_id, status=Draft.Status.PENDING).update(
        status=Draft.Status.READY,
        content=result.content,
        tone=result.tone,
        reasoning=result.reasoning,
        personalization=result.personalization,
        offline=result.offline,
        provider=result.provider,
        model=result.model,
        flags=result.flags,
        provenance=ctx.sources,
        completed_at=timezone.now(),
    )
    return "ready"
