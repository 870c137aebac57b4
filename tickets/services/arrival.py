"""Arrival: a ticket opened, a customer message appended, an integration's inbound message."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from crm import audit
from crm.errors import ServiceError
from crm.models import Account, AuditEvent, Contact, Team
from llm.guardrails import looks_like_injection
from tickets import matches
from tickets.models import (
    Channel,
    InboundMessage,
    Message,
    Priority,
    Ticket,
    TicketEvent,
)
from tickets.services._base import _user, enqueue, validate_choice
from tickets.services.alerts import refresh_keywords
from tickets.services.scores import weights_for

log = logging.getLogger(__name__)


def _flag_if_injection(ticket: Ticket, message: Message) -> None:
    if looks_like_injection(message.body):
        message.flagged_injection = True
        message.save(update_fields=["flagged_injection"])
        ticket.flag_for_review("Customer text looks like instructions to the AI; treated as text only.")
        TicketEvent.objects.create(ticket=ticket, kind=TicketEvent.Kind.FLAGGED, text=ticket.review_reason)


def _after_customer_text(ticket: Ticket) -> None:
    enqueue("triage_ticket_task", ticket.pk)


def _refuse_second_active_ticket(contact, channel: str) -> None:
    """One active ticket per contact and channel (the constraint inbound mail relies on): say which."""
    if contact is None:
        return
    active = Ticket.objects.filter(
        contact=contact, channel=channel, status__in=[Ticket.Status.OPEN, Ticket.Status.PENDING]
    ).first()
    if active is not None:
        raise ServiceError(
            f"{contact.name or 'This contact'} already has an open {channel} ticket (#{active.pk}): "
            "add to it, or solve it before opening another.",
            code="conflict",
            field="contact",
        )


@transaction.atomic
def create_ticket(
    *,
    actor,
    account: Account,
    contact: Contact | None,
    channel: str,
    subject: str,
    body: str,
    priority: str = Priority.NORMAL,
    assignee=None,
    external_id: str = "",
    message_external_id: str = "",
    via: str = "console",
    now: datetime | None = None,
) -> Ticket:
    validate_choice("channel", channel, Channel.values)
    validate_choice("priority", priority, Priority.values)
    if contact is not None and contact.account_id != account.pk:
        raise ServiceError("The contact belongs to another account.", field="contact")
    if not (body or "").strip():
        raise ServiceError("The customer's message is empty.", field="body")
    now = now or timezone.now()
    ticket = Ticket(
        team_id=account.team_id,
        account=account,
        contact=contact,
        channel=channel,
        priority=priority,
        subject=(subject or body.strip().splitlines()[0])[:300],
        assignee=assignee,
        external_id=external_id,
        created_at=now,
        last_customer_message_at=now,
    )
    ticket.copy_customer_inputs(account)
    ticket.start_waiting(now)
    ticket.apply_score(weights_for(ticket), now=now)
    _refuse_second_active_ticket(contact, channel)
    try:
        with transaction.atomic():  # a concurrent create loses here, as a refusal rather than a 500
            ticket.save()
    except IntegrityError:
        _refuse_second_active_ticket(contact, channel)
        raise
    message = Message.objects.create(
        ticket=ticket,
        direction=Message.Direction.INBOUND,
        channel=channel,
        body=body,
        created_at=now,
        external_id=message_external_id,
    )
    refresh_keywords(ticket=ticket)
    _flag_if_injection(ticket, message)
    TicketEvent.objects.create(ticket=ticket, kind=TicketEvent.Kind.CREATED, actor=_user(actor), at=now, text=via)
    audit.record(actor=actor, action=AuditEvent.Action.CREATE, obj=ticket, before={}, via=via)
    _after_customer_text(ticket)
    return ticket


@transaction.atomic
def receive_customer_message(
    *, ticket: Ticket, body: str, external_id: str = "", now: datetime | None = None
) -> tuple[Message, bool]:
    """Append a customer message; a provider's redelivery (same external id) is not appended twice."""
    if external_id:
        existing = Message.objects.filter(ticket=ticket, external_id=external_id).first()
        if existing:
            return existing, False
    now = now or timezone.now()
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    message = Message.objects.create(
        ticket=ticket,
        direction=Message.Direction.INBOUND,
        channel=ticket.channel,
        body=body,
        created_at=now,
        external_id=external_id,
    )
    ticket.take_customer_message(at=now, weights=weights_for(ticket))
    matches.copy_columns(ticket)
    refresh_keywords(ticket=ticket)
    _flag_if_injection(ticket, message)
    TicketEvent.objects.create(ticket=ticket, kind=TicketEvent.Kind.CUSTOMER_MESSAGE, at=now, text=body[:200])
    _after_customer_text(ticket)
    return message, True


@dataclass
class InboundOutcome:
    record: InboundMessage
    ticket: Ticket | None
    created_ticket: bool = False


class InboundRejected(Exception):
    def __init__(self, record: InboundMessage):
        super().__init__(record.reason)
        self.record = record


def _find_contact(team: Team, channel: str, sender: str) -> Contact | None:
    contacts = Contact.objects.filter(account__team=team).select_related("account").order_by("pk")
    if "@" in sender:
        # Exact match first (indexed), then case-insensitive.
        return contacts.filter(email=sender).first() or contacts.filter(email__iexact=sender).first()
    digits = "".join(ch for ch in sender if ch.isdigit())
    if len(digits) < 4:
        return None
    # Phone numbers are stored as typed ("+1 (555) 010-2030"): narrow by the last four digits in
    # SQL, then compare all digits, so the lookup never walks the team's whole contact list.
    for contact in contacts.filter(phone__endswith=digits[-4:]).only("pk", "phone", "account"):
        if "".join(ch for ch in contact.phone if ch.isdigit()) == digits:
            return contact
    return None


def receive_inbound(
    *,
    team: Team,
    channel: str,
    sender: str,
    body: str,
    sender_name: str = "",
    subject: str = "",
    external_id: str = "",
    now: datetime | None = None,
) -> InboundOutcome:
    """An integration delivers a customer message: append it to the contact's active ticket on that
    channel or open one. Every delivery is logged in InboundMessage, accepted or rejected."""
    validate_choice("channel", channel, Channel.values)
    now = now or timezone.now()
    if external_id:
        seen = InboundMessage.objects.filter(team=team, channel=channel, external_id=external_id).first()
        if seen and seen.status == InboundMessage.Status.ACCEPTED:
            dup = InboundMessage.objects.create(
                team=team,
                channel=channel,
                sender=sender[:254],
                body=body,
                external_id=external_id,
                status=InboundMessage.Status.DUPLICATE,
                reason=f"already received as inbound #{seen.pk}",
                ticket=seen.ticket,
                message=seen.message,
            )
            return InboundOutcome(dup, seen.ticket)
    for attempt in range(2):
        try:
            return _receive_inbound(
                team=team,
                channel=channel,
                sender=sender,
                body=body,
                sender_name=sender_name,
                subject=subject,
                external_id=external_id,
                now=now,
            )
        except _Reject as reject:
            # Stored outside the rolled-back transaction: a rejected message is never lost.
            record = _inbound_record(
                team, channel, sender, sender_name, subject, body, external_id, now, InboundMessage.Status.REJECTED
            )
            record.reason = str(reject)[:300]
            record.save()
            raise InboundRejected(record) from None
        except IntegrityError:
            # Two deliveries raced to open the same contact's ticket: the second appends to it.
            if attempt:
                raise
    raise AssertionError("unreachable")


class _Reject(Exception):
    pass


def _inbound_record(team, channel, sender, sender_name, subject, body, external_id, now, status) -> InboundMessage:
    """The log row of one delivery (unsaved), its text cut to the columns' lengths."""
    return InboundMessage(
        team=team,
        channel=channel,
        sender=sender[:254],
        sender_name=sender_name[:200],
        subject=subject[:300],
        body=body,
        external_id=external_id,
        received_at=now,
        status=status,
    )


@transaction.atomic
def _receive_inbound(*, team, channel, sender, body, sender_name, subject, external_id, now) -> InboundOutcome:
    record = _inbound_record(
        team, channel, sender, sender_name, subject, body, external_id, now, InboundMessage.Status.ACCEPTED
    )
    contact = _find_contact(team, channel, sender)
    if contact is None:
        if not settings.TICKETS_INBOUND_CREATE_CONTACTS:
            raise _Reject(f"No contact in {team.name} with address {sender!r}, and creating contacts is off.")
        name = sender_name.strip() or sender
        account = Account.objects.create(team=team, name=name[:200], kind=Account.Kind.PERSON)
        contact = Contact.objects.create(
            account=account,
            name=name[:200],
            email=sender if "@" in sender else "",
            phone="" if "@" in sender else sender[:40],
            preferred_channel=channel,
        )
        record.reason = "new contact created"
    ticket = (
        Ticket.objects.select_for_update()
        .filter(contact=contact, channel=channel, status__in=Ticket.ACTIVE_STATUSES)
        .first()
    )
    created = ticket is None
    if created:
        with transaction.atomic():
            ticket = create_ticket(
                actor=None,
                account=contact.account,
                contact=contact,
                channel=channel,
                subject=subject or body.strip().splitlines()[0][:120],
                body=body,
                message_external_id=external_id,
                via="inbound",
                now=now,
            )
        message = ticket.messages.first()
    else:
        message, _ = receive_customer_message(ticket=ticket, body=body, external_id=external_id, now=now)
    record.ticket, record.message = ticket, message
    record.save()
    return InboundOutcome(record, ticket, created)
