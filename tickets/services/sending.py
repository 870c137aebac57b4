"""Agent replies: stored as messages and handed to outbound, which sends them exactly once."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from crm import audit
from crm.errors import ServiceError
from crm.models import AuditEvent
from outbound import services as outbound
from tickets import matches, rules
from tickets.models import (
    Draft,
    Message,
    Ticket,
    TicketEvent,
)
from tickets.services._base import _user
from tickets.services.scores import weights_for

log = logging.getLogger(__name__)


REPLY_SOURCE = "tickets.message"


@transaction.atomic
def send_reply(
    *,
    actor,
    ticket: Ticket,
    body: str,
    idempotency_key: str = "",
    draft: Draft | None = None,
    via: str = "console",
    resend: bool = False,
) -> tuple[Message, bool]:
    """Queue an agent reply for delivery once. Returns (message, created).

    - The same idempotency key returns the first message (created False): a retried request.
    - A draft is sent at most once: a second tab posting it gets the message it was sent as.
    - The same body to the same ticket within TICKETS_REPLY_DUPLICATE_WINDOW_MINUTES is refused
      (a 409 ServiceError naming who sent it when) unless `resend` says it is meant.
    The outbound ledger row keyed by the message makes a redelivered task send nothing more.
    """
    key = (idempotency_key or "").strip()[:200]
    if key:
        existing = Message.objects.filter(ticket=ticket, idempotency_key=key).first()
        if existing:
            return existing, False
    problems = rules.check_reply(ticket.channel, body)
    if problems:
        rule = rules.CHANNEL_RULES[ticket.channel]
        raise ServiceError(
            " ".join([*problems, f"Limit for {ticket.get_channel_display()}: {rule.limit_text}."]), field="body"
        )
    now = timezone.now()
    # Sends to one ticket are serialised from here: this first write holds the ticket's row lock
    # (PostgreSQL) or the database write lock (SQLite) until commit, so the checks below see every
    # earlier reply, including one committed by a parallel request a moment ago.
    Ticket.objects.filter(pk=ticket.pk).update(updated_at=now)
    if key:
        existing = Message.objects.filter(ticket=ticket, idempotency_key=key).first()
        if existing:
            return existing, False
    if draft is not None:
        sent = Message.objects.filter(ticket=ticket, draft=draft, direction=Message.Direction.OUTBOUND).first()
        if sent:
            return sent, False
    if not resend:
        _refuse_recent_duplicate(ticket=ticket, body=body.strip(), now=now)
    try:
        with transaction.atomic():
            message = Message.objects.create(
                ticket=ticket,
                direction=Message.Direction.OUTBOUND,
                channel=ticket.channel,
                author=_user(actor),
                body=body.strip(),
                created_at=now,
                idempotency_key=key,
                draft=draft,
            )
    except IntegrityError:
        return Message.objects.get(ticket=ticket, idempotency_key=key), False
    # A refusal (no address on this channel) is a ServiceError: it rolls the message back too.
    delivery, _ = outbound.queue_delivery(
        key=f"nt-msg-{message.pk}",
        team=ticket.team,
        channel=ticket.channel,
        recipient="",  # the contact's address on the ticket's channel (outbound.consent)
        subject=f"Re: {ticket.subject} [#{ticket.pk}]",
        body=message.body,
        contact=ticket.contact,
        source=REPLY_SOURCE,
        source_id=message.pk,
        actor=actor,
        now=now,
        is_reply=True,
        meta={"ticket": ticket.pk},
    )
    Message.objects.filter(pk=message.pk).update(delivery=delivery)
    message.delivery = delivery
    locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
    locked.take_agent_reply(at=now, weights=weights_for(locked))
    matches.copy_columns(locked)
    if draft is not None and draft.ticket_id == ticket.pk:
        Draft.objects.filter(pk=draft.pk, sent_message__isnull=True).update(
            sent_message=message,
            edit_distance=rules.word_edit_distance(draft.content, message.body),
            edit_ratio=round(rules.edit_ratio(draft.content, message.body), 3),
        )
    TicketEvent.objects.create(ticket=ticket, kind=TicketEvent.Kind.REPLY_SENT, actor=_user(actor), at=now)
    audit.record(actor=actor, action=AuditEvent.Action.CREATE, obj=message, before={}, via=via)
    return message, True


def _refuse_recent_duplicate(*, ticket: Ticket, body: str, now) -> None:
    minutes = settings.TICKETS_REPLY_DUPLICATE_WINDOW_MINUTES
    if not minutes:
        return
    earlier = (
        Message.objects.filter(
            ticket=ticket,
            direction=Message.Direction.OUTBOUND,
            body=body,
            created_at__gte=now - timedelta(minutes=minutes),
        )
        .select_related("author")
        .order_by("-created_at")
        .first()
    )
    if earlier:
        raise ServiceError(
            f"The same reply was already {sent_by(earlier)}. To send it again, say so (resend).",
            code="conflict",
            field="body",
        )


def sent_by(message: Message) -> str:
    """'sent at 14:02 by dana': for the second tab that finds its reply already gone."""
    who = message.author.get_username() if message.author else "an integration"
    return f"sent at {timezone.localtime(message.created_at):%H:%M} by {who}"


def _reply_ticket_id(delivery) -> int | None:
    return Message.objects.filter(pk=delivery.source_id).values_list("ticket_id", flat=True).first()


def on_reply_sent(delivery) -> None:
    """outbound listener: the reply reached the provider."""
    ticket_id = _reply_ticket_id(delivery)
    if ticket_id:
        TicketEvent.objects.create(ticket_id=ticket_id, kind=TicketEvent.Kind.DELIVERED, text=delivery.channel)


def on_reply_failed(delivery) -> None:
    """outbound listener: the reply could not be delivered (the ticket page offers a retry)."""
    ticket_id = _reply_ticket_id(delivery)
    if ticket_id:
        TicketEvent.objects.create(
            ticket_id=ticket_id, kind=TicketEvent.Kind.DELIVERY_FAILED, text=delivery.last_error[:500]
        )
