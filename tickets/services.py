"""Inbox workflows shared by the console, the API, integrations and Celery tasks.

Keyword-only functions; those that write are atomic and enqueue work with `delay_on_commit`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Avg, Exists, OuterRef, Subquery
from django.utils import timezone

from crm import audit
from crm.models import MANAGER_GROUP, Account, AuditEvent, Contact, Membership, Team
from llm.guardrails import looks_like_injection
from outbound import services as outbound
from outbound.errors import SendRefused
from tickets import ai, cache, matches, rules
from tickets.models import (
    Channel,
    Draft,
    EscalationNotice,
    InboundMessage,
    Message,
    Priority,
    Ticket,
    TicketEvent,
    TicketKeyword,
    TopicAlert,
    WeightSet,
)

log = logging.getLogger(__name__)


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def validate_choice(name: str, value: str, choices) -> str:
    if value not in choices:
        raise ValidationError({name: f"Unknown {name} {value!r}. Allowed: {', '.join(choices)}."})
    return value


# --- Scores ------------------------------------------------------------------------------------


def current_weights():
    return WeightSet.current().as_weights()


def score_ticket(ticket: Ticket, *, now=None, weights=None) -> None:
    """Recompute and store one ticket's score (after any change to its inputs)."""
    ticket.apply_score(weights or current_weights(), now=now or timezone.now())
    if ticket.pk:
        ticket.save(update_fields=[*Ticket.SCORE_FIELDS, "updated_at"])


def rescore_open_tickets(*, weights=None, now=None, queryset=None) -> int:
    """Set-based: one UPDATE over every active ticket (weights change). Returns rows touched."""
    weights = weights or current_weights()
    qs = queryset if queryset is not None else Ticket.objects.open()
    n = qs.rescore(weights, now_ts=(now or timezone.now()).timestamp())
    if n:
        matches.sync_scores()  # the watched terms' match rows carry the score too
    return n


def age_open_tickets(*, now=None) -> int:
    """The scheduled aging pass: one UPDATE over the tickets whose age term can still move, i.e.
    customers waiting on us whose age is below the cap. Saturated and not-waiting tickets keep
    their stored score, so the pass touches far fewer rows than a full rescore."""
    weights = current_weights()
    cap = weights.age * weights.age_cap
    qs = Ticket.objects.waiting().filter(weights_version=weights.version)
    if weights.age > 0:
        qs = qs.filter(score_age__lt=cap)
    stale_version = Ticket.objects.open().exclude(weights_version=weights.version)
    # Tickets still on an older weights version (a rescore interrupted midway) are caught up too.
    return rescore_open_tickets(weights=weights, now=now, queryset=qs) + rescore_open_tickets(
        weights=weights, now=now, queryset=stale_version
    )


def sync_customer_inputs(*, account_id: int | None = None, now=None) -> int:
    """Copy churn risk, lifetime value and VIP from accounts onto their active tickets where they
    differ, then rescore those tickets. Set-based; call it after an account's values change (the
    aging job also runs it, so imports and admin edits are picked up within minutes)."""
    acc = Account.objects.filter(pk=OuterRef("account_id"))
    stale = Ticket.objects.open().filter(
        Exists(acc.exclude(churn_risk=OuterRef("customer_churn"), is_vip=OuterRef("customer_vip")).values("pk")[:1])
        | Exists(acc.exclude(lifetime_value=OuterRef("customer_ltv")).values("pk")[:1])
    )
    if account_id is not None:
        stale = stale.filter(account_id=account_id)
    ids = list(stale.values_list("pk", flat=True)[:50_000])
    changed = 0

    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        changed += Ticket.objects.filter(pk__in=chunk).update(
            customer_churn=Subquery(acc.values("churn_risk")[:1]),
            customer_ltv=Subquery(acc.values("lifetime_value")[:1]),
            customer_vip=Subquery(acc.values("is_vip")[:1]),
        )
        rescore_open_tickets(now=now, queryset=Ticket.objects.filter(pk__in=chunk))
    return changed


# --- Keywords and review flags -------------------------------------------------------------------


def refresh_keywords(ticket: Ticket) -> int:
    """Recompute the ticket's topic-alert keywords from its subject and the customer's messages."""
    texts = [
        ticket.subject,
        *ticket.messages.filter(direction=Message.Direction.INBOUND).values_list("body", flat=True),
    ]
    words = rules.keywords("\n".join(texts))
    TicketKeyword.objects.filter(ticket=ticket).delete()
    TicketKeyword.objects.bulk_create([TicketKeyword(ticket=ticket, team_id=ticket.team_id, keyword=w) for w in words])
    matches.sync_ticket(ticket, words)
    return len(words)


def _flag_if_injection(ticket: Ticket, message: Message) -> None:
    if looks_like_injection(message.body):
        message.flagged_injection = True
        message.save(update_fields=["flagged_injection"])
        ticket.needs_review = True
        ticket.review_reason = "Customer text looks like instructions to the AI; treated as text only."
        ticket.save(update_fields=["needs_review", "review_reason", "updated_at"])
        TicketEvent.objects.create(ticket=ticket, kind=TicketEvent.Kind.FLAGGED, text=ticket.review_reason)


# --- Arrival ------------------------------------------------------------------------------------


def _after_customer_text(ticket: Ticket) -> None:
    from tickets import tasks

    tasks.triage_ticket_task.delay_on_commit(ticket.pk)


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
        raise ValidationError({"contact": "The contact belongs to another account."})
    if not (body or "").strip():
        raise ValidationError({"body": "The customer's message is empty."})
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
    ticket.apply_score(current_weights(), now=now)
    ticket.save()
    message = Message.objects.create(
        ticket=ticket,
        direction=Message.Direction.INBOUND,
        channel=channel,
        body=body,
        created_at=now,
        external_id=message_external_id,
    )
    refresh_keywords(ticket)
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
    ticket.last_customer_message_at = now
    ticket.status = Ticket.Status.OPEN
    ticket.follow_up_at = None
    ticket.follow_up_note = ""
    ticket.copy_customer_inputs()
    ticket.start_waiting(now)
    ticket.apply_score(current_weights(), now=now)
    ticket.save()
    refresh_keywords(ticket)
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


# --- Triage and escalation -----------------------------------------------------------------------


@transaction.atomic
def apply_triage(*, ticket: Ticket, fields: dict[str, dict], source: str, now=None) -> list[str]:
    """Apply automatic triage values at or above the confidence threshold; agent-set fields stay."""
    now = now or timezone.now()
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    applied = []
    for name, item in fields.items():
        if name not in Ticket.TRIAGE_FIELDS or name in ticket.triage_locked:
            continue
        if item["confidence"] < settings.TICKETS_TRIAGE_MIN_CONFIDENCE:
            continue
        setattr(ticket, name, item["value"])
        setattr(ticket, f"{name}_confidence", item["confidence"])
        ticket.triage_source = {**ticket.triage_source, name: source}
        applied.append(name)
    ticket.triaged_at = now
    ticket.copy_customer_inputs()
    ticket.apply_score(current_weights(), now=now)
    ticket.save()
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
    changed = []
    for name, value in changes.items():
        if name not in Ticket.TRIAGE_FIELDS:
            continue
        if name == "difficulty" and value not in ("", "easy", "normal", "complex"):
            raise ValidationError({"difficulty": "Allowed: easy, normal, complex."})
        if name == "sentiment" and value is not None and not (0 <= float(value) <= 1):
            raise ValidationError({"sentiment": "Sentiment is between 0 (angry) and 1 (delighted)."})
        setattr(ticket, name, value)
        setattr(ticket, f"{name}_confidence", 1.0)
        ticket.triage_source = {**ticket.triage_source, name: "agent"}
        if name not in ticket.triage_locked:
            ticket.triage_locked = [*ticket.triage_locked, name]
        changed.append(name)
    ticket.apply_score(current_weights(), now=timezone.now())
    ticket.save()
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


def team_managers(team_id: int):
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
            for m in team_managers(ticket.team_id)
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


# --- Ticket updates, follow-ups ------------------------------------------------------------------


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
                    raise ValidationError({"status": "This contact already has an active ticket on this channel."})
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
    ticket.apply_score(current_weights(), now=now)
    ticket.save()
    if subject_changed:
        refresh_keywords(ticket)  # topic alerts match the subject too
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
        raise ValidationError({"follow_up_at": "A follow-up must be in the future."})
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    ticket.follow_up_at, ticket.follow_up_note = at, note[:300]
    if ticket.status == Ticket.Status.OPEN:
        ticket.status = Ticket.Status.PENDING
        ticket.stop_waiting()
    ticket.apply_score(current_weights(), now=timezone.now())
    ticket.save()
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
            ticket.status = Ticket.Status.OPEN
            ticket.follow_up_at, ticket.follow_up_note = None, ""
            ticket.start_waiting(now)
            ticket.apply_score(current_weights(), now=now)
            ticket.save()
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


# --- Weights ------------------------------------------------------------------------------------


@transaction.atomic
def create_weight_set(*, actor, values: dict, note: str = "") -> WeightSet:
    """A new version of the weights; every active ticket is rescored in one UPDATE."""
    latest = WeightSet.current()
    ws = WeightSet.objects.create(
        version=latest.version + 1,
        created_by=_user(actor),
        note=note[:300],
        **{f: float(values[f]) for f in WeightSet.FIELDS},
    )
    audit.record(actor=actor, action=AuditEvent.Action.CREATE, obj=ws, before={})
    transaction.on_commit(cache.forget_boost)
    from tickets import tasks

    tasks.rescore_open_tickets_task.delay_on_commit(ws.version)
    return ws


# --- Topic alerts -------------------------------------------------------------------------------


@transaction.atomic
def set_topic_alert(*, user, text: str, expires_at: datetime | None = None) -> TopicAlert:
    parsed = rules.parse_alert_terms(text)
    if not parsed.terms:
        raise ValidationError({"text": "Give at least one keyword (one or two words each, comma-separated)."})
    if parsed.rejected:
        raise ValidationError(
            {"text": f"Not usable as keywords: {', '.join(parsed.rejected)} (one or two words, not stopwords)."}
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    TopicAlert.objects.filter(user=user, cleared_at__isnull=True).update(cleared_at=timezone.now())
    alert = TopicAlert.objects.create(user=user, text=text[:500], terms=parsed.terms, expires_at=expires_at)
    matches.watch_terms(parsed.terms)  # its matches are kept with their scores from now on
    transaction.on_commit(lambda: cache.forget_alert(user))
    cache.forget_alert(user)
    return alert


def clear_topic_alert(*, user) -> int:
    n = TopicAlert.objects.filter(user=user, cleared_at__isnull=True).update(cleared_at=timezone.now())
    cache.forget_alert(user)
    return n


def active_alert_terms(user) -> list[str]:
    alert = cache.active_alert(user)
    return list(alert["terms"]) if alert else []


# --- Drafts -------------------------------------------------------------------------------------


def request_draft(*, ticket: Ticket, actor=None, instruction: str = "") -> Draft:
    """Queue a draft (one pending per ticket); a regeneration is chained to the draft it replaces."""
    from tickets import tasks

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
            tasks.generate_draft_task.delay_on_commit(draft.pk)
    except IntegrityError:
        return Draft.objects.get(ticket=ticket, status=Draft.Status.PENDING)
    return draft


def draft_context(ticket: Ticket, draft: Draft | None = None) -> ai.DraftContext:
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
        past_issue={"subject": past.subject, "resolution": past.resolution} if past else None,
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
    ctx = draft_context(draft.ticket, draft)
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
        completed_at=timezone.now(),
    )
    return "ready"


# --- Triage task body -----------------------------------------------------------------------------


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


# --- Sending exactly once (the ledger and transports live in outbound) ---------------------------

REPLY_SOURCE = "tickets.message"


@transaction.atomic
def send_reply(
    *, actor, ticket: Ticket, body: str, idempotency_key: str = "", draft: Draft | None = None, via: str = "console"
) -> tuple[Message, bool]:
    """Queue an agent reply for delivery once. The same idempotency key returns the first message.

    The unique (ticket, idempotency_key) and the outbound ledger row keyed by the message make a
    double click, a retried request and a redelivered task all land on the same single delivery.
    """
    key = (idempotency_key or "").strip()[:200]
    if key:
        existing = Message.objects.filter(ticket=ticket, idempotency_key=key).first()
        if existing:
            return existing, False
    problems = rules.check_reply(ticket.channel, body)
    if problems:
        rule = rules.CHANNEL_RULES[ticket.channel]
        raise ValidationError({"body": problems + [f"Limit for {ticket.get_channel_display()}: {rule.limit_text}."]})
    now = timezone.now()
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
    try:
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
    except SendRefused as exc:
        raise ValidationError({"body": [str(exc)]}) from exc  # rolls the message back with it
    Message.objects.filter(pk=message.pk).update(delivery=delivery)
    message.delivery = delivery
    locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
    locked.last_agent_reply_at = now
    locked.first_responded_at = locked.first_responded_at or now
    locked.stop_waiting()
    if locked.status == Ticket.Status.OPEN:
        locked.status = Ticket.Status.PENDING
    locked.apply_score(current_weights(), now=now)
    locked.save()
    if draft is not None and draft.ticket_id == ticket.pk:
        Draft.objects.filter(pk=draft.pk, sent_message__isnull=True).update(
            sent_message=message,
            edit_distance=rules.word_edit_distance(draft.content, message.body),
            edit_ratio=round(rules.edit_ratio(draft.content, message.body), 3),
        )
    TicketEvent.objects.create(ticket=ticket, kind=TicketEvent.Kind.REPLY_SENT, actor=_user(actor), at=now)
    audit.record(actor=actor, action=AuditEvent.Action.CREATE, obj=message, before={}, via=via)
    return message, True


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


# --- Reading helpers for pages ------------------------------------------------------------------


def average_open_score(team_id: int) -> float:
    return Ticket.objects.filter(team_id=team_id, status=Ticket.Status.OPEN).aggregate(a=Avg("score"))["a"] or 0.0


SIMILAR_CANDIDATES = 500  # recent resolved tickets considered: bounded work however large the team's history


def similar_tickets(ticket: Ticket, limit: int = 3):
    """Recently resolved tickets in the team sharing the most keywords with this one."""
    from django.db.models import Count

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
