"""One row per message to a customer: the ledger that makes every send exactly once or openly uncertain."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from crm.models import Contact, Team, TeamScopedQuerySet


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    CHAT = "chat", "Chat"
    PHONE = "phone", "Phone"
    WHATSAPP = "whatsapp", "WhatsApp"
    LINKEDIN = "linkedin", "LinkedIn"
    WEBHOOK = "webhook", "Webhook"


class DeliveryQuerySet(TeamScopedQuerySet):
    def attention(self):
        """What a person must look at: failed, uncertain, refused."""
        return self.filter(status__in=Delivery.ATTENTION_STATUSES)


class Delivery(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        HELD = "held", "Held (quiet hours)"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        UNCERTAIN = "uncertain", "Delivery uncertain"
        REFUSED = "refused", "Refused"

    ATTENTION_STATUSES = (Status.FAILED, Status.UNCERTAIN, Status.REFUSED)

    key = models.CharField(max_length=200, unique=True, help_text="Idempotency key, also sent to the provider.")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    recipient = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField()
    # Extra fields the webhook transport passes on (e.g. {"ticket": 12}); never shown to the customer.
    meta = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    provider_reply = models.JSONField(default=dict, blank=True)
    not_before = models.DateTimeField(null=True, blank=True, help_text="Held until (quiet hours).")
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Set just before the transport is called: a worker that dies before it leaves nothing sent
    # (the row is requeued); one that dies after it may have been accepted (the row is uncertain).
    handed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who confirmed an uncertain delivery as sent or sent it again.",
    )
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries")
    # A reply to the customer's own message (a ticket reply) is not proactive contact: an opt-out
    # or quiet hours do not hold it back (docs/outbound.md, "Consent").
    is_reply = models.BooleanField(default=False)
    source = models.CharField(max_length=50, blank=True, help_text='What it serves, e.g. "tickets.message".')
    source_id = models.BigIntegerField(null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["team", "-created_at", "-id"], name="delivery_team_recent_idx"),
            models.Index(fields=["source", "source_id"], name="delivery_source_idx"),
            # The recovery pass looks only at rows in flight or held.
            models.Index(
                fields=["status", "claimed_at"],
                condition=Q(status__in=["sending", "held"]),
                name="delivery_in_flight_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(channel__in=Channel.values), name="delivery_channel_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.status}"

    @property
    def needs_attention(self) -> bool:
        return self.status in self.ATTENTION_STATUSES
