"""A ticket's conversation and history: messages, drafts, events, escalation notices, inbound log."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from crm.models import Team, TeamScopedQuerySet
from tickets.models.ticket import Channel, Ticket

User = settings.AUTH_USER_MODEL


class MessageQuerySet(TeamScopedQuerySet):
    team_path = "ticket__team"


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "in", "Customer"
        OUTBOUND = "out", "Agent reply"
        NOTE = "note", "Internal note"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=5, choices=Direction.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    author = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    external_id = models.CharField(max_length=200, blank=True, help_text="Provider's id: redeliveries dedupe.")
    idempotency_key = models.CharField(max_length=200, blank=True)
    flagged_injection = models.BooleanField(default=False)
    draft = models.ForeignKey("Draft", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # An agent reply's row in the send ledger (outbound): its status, attempts and errors.
    delivery = models.OneToOneField(
        "outbound.Delivery", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="message_ticket_created_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "idempotency_key"], condition=~Q(idempotency_key=""), name="message_unique_idem"
            ),
            models.UniqueConstraint(
                fields=["ticket", "external_id"], condition=~Q(external_id=""), name="message_unique_external"
            ),
            # A draft is sent at most once, whatever tab or client posts it.
            models.UniqueConstraint(fields=["draft"], condition=Q(draft__isnull=False), name="message_one_per_draft"),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()}: {self.body[:40]}"


class DraftQuerySet(TeamScopedQuerySet):
    team_path = "ticket__team"


class Draft(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Generating"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="drafts")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    instruction = models.CharField(max_length=500, blank=True)
    previous = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    requested_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    content = models.TextField(blank=True)
    tone = models.CharField(max_length=30, blank=True)
    reasoning = models.TextField(blank=True)
    personalization = models.JSONField(default=dict, blank=True)
    offline = models.BooleanField(default=False)
    provider = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=100, blank=True)
    flags = models.JSONField(default=list, blank=True)
    # The records the draft was written from ([{"kind", "id", "label"}]), shown beside it.
    provenance = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    sent_message = models.OneToOneField(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    edit_distance = models.PositiveIntegerField(null=True, blank=True, help_text="Words changed before sending.")
    edit_ratio = models.FloatField(null=True, blank=True)

    objects = DraftQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A double click on "regenerate" queues one draft, not two.
            models.UniqueConstraint(fields=["ticket"], condition=Q(status="pending"), name="draft_one_pending"),
        ]

    def __str__(self) -> str:
        return f"Draft {self.pk} ({self.status})"

    PERSONALIZATION_LABELS = {
        "used_order_info": "order info",
        "mentioned_tracking": "tracking",
        "referenced_past_issue": "past issue",
        "applied_vip_treatment": "VIP / churn care",
    }

    def personalization_items(self) -> list[tuple[str, bool]]:
        return [(label, bool(self.personalization.get(k))) for k, label in self.PERSONALIZATION_LABELS.items()]


class EventQuerySet(TeamScopedQuerySet):
    team_path = "ticket__team"


class TicketEvent(models.Model):
    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        CUSTOMER_MESSAGE = "customer_message", "Customer wrote"
        REPLY_SENT = "reply_sent", "Reply queued"
        DELIVERED = "delivered", "Reply delivered"
        DELIVERY_FAILED = "delivery_failed", "Delivery failed"
        TRIAGED = "triaged", "Triaged"
        TRIAGE_EDITED = "triage_edited", "Triage edited"
        SLA_BREACHED = "sla_breached", "SLA breached"
        ESCALATED = "escalated", "Escalated"
        FOLLOW_UP_SET = "follow_up_set", "Follow-up set"
        FOLLOW_UP_DUE = "follow_up_due", "Follow-up due: resurfaced"
        UPDATED = "updated", "Updated"
        FLAGGED = "flagged", "Flagged for review"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    text = models.CharField(max_length=500, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["ticket", "-at"], name="ticket_event_ticket_at_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.text}"


class NoticeQuerySet(models.QuerySet):
    def unread(self):
        return self.filter(read_at__isnull=True)


class EscalationNotice(models.Model):
    """In-app notice to a team manager that a ticket was escalated."""

    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="ticket_notices")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="notices")
    reason = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NoticeQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "ticket"], condition=Q(read_at__isnull=True), name="notice_one_unread"
            )
        ]

    def __str__(self) -> str:
        return f"{self.ticket} → {self.recipient}"


class InboundQuerySet(TeamScopedQuerySet):
    pass


class InboundMessage(models.Model):
    """Every message an integration delivered, accepted or not: nothing is lost."""

    class Status(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        DUPLICATE = "duplicate", "Duplicate"
        REJECTED = "rejected", "Rejected"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    sender = models.CharField(max_length=254)
    sender_name = models.CharField(max_length=200, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField()
    external_id = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices)
    reason = models.CharField(max_length=300, blank=True)
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = InboundQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.channel} from {self.sender}: {self.status}"
