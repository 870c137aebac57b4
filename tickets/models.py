"""The support inbox: tickets and their messages, scores, topic alerts and drafts (sending: outbound)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from crm.models import Account, Contact, Team, TeamScopedQuerySet
from tickets import rules, scoring
from tickets.querysets import TicketQuerySet

User = settings.AUTH_USER_MODEL


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    CHAT = "chat", "Chat"
    PHONE = "phone", "Phone"


class Priority(models.TextChoices):
    URGENT = "urgent", "Urgent"
    HIGH = "high", "High"
    NORMAL = "normal", "Normal"
    LOW = "low", "Low"


class Difficulty(models.TextChoices):
    EASY = "easy", "Easy win"
    NORMAL = "normal", "Normal"
    COMPLEX = "complex", "Complex"


class WeightSet(models.Model):
    """A versioned set of scoring weights; the newest is in force. Version 1 comes from the environment."""

    version = models.PositiveIntegerField(unique=True)
    churn = models.FloatField()
    value = models.FloatField()
    urgency = models.FloatField()
    age = models.FloatField()
    age_cap = models.FloatField()
    easy_bonus = models.FloatField()
    complex_penalty = models.FloatField()
    sentiment_boost = models.FloatField()
    sentiment_threshold = models.FloatField()
    topic_alert_boost = models.FloatField()
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    FIELDS = (
        "churn",
        "value",
        "urgency",
        "age",
        "age_cap",
        "easy_bonus",
        "complex_penalty",
        "sentiment_boost",
        "sentiment_threshold",
        "topic_alert_boost",
    )

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"Weights v{self.version}"

    def as_weights(self) -> scoring.Weights:
        return scoring.Weights(version=self.version, **{f: getattr(self, f) for f in self.FIELDS})

    @classmethod
    def env_defaults(cls) -> dict[str, float]:
        return {
            "churn": settings.SCORING_CHURN_WEIGHT,
            "value": settings.SCORING_VALUE_WEIGHT,
            "urgency": settings.SCORING_URGENCY_WEIGHT,
            "age": settings.SCORING_AGE_WEIGHT,
            "age_cap": settings.SCORING_AGE_CAP,
            "easy_bonus": settings.SCORING_EASY_BONUS,
            "complex_penalty": settings.SCORING_COMPLEX_PENALTY,
            "sentiment_boost": settings.SCORING_SENTIMENT_BOOST,
            "sentiment_threshold": settings.SCORING_SENTIMENT_THRESHOLD,
            "topic_alert_boost": settings.TOPIC_ALERT_BOOST,
        }

    @classmethod
    def current(cls) -> WeightSet:
        latest = cls.objects.order_by("-version").first()
        if latest is None:
            latest, _ = cls.objects.get_or_create(version=1, defaults={**cls.env_defaults(), "note": "environment"})
        return latest


class Ticket(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PENDING = "pending", "Waiting on customer"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"

    ACTIVE_STATUSES = (Status.OPEN, Status.PENDING)
    TRIAGE_FIELDS = ("sentiment", "category", "difficulty", "language")

    # Every index on this table is rewritten when a rescore UPDATE touches the score, so the
    # foreign keys covered by a composite index below (team, account) or rarely filtered on
    # (assignee within a team, escalated_by) carry no index of their own.
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="tickets", db_index=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tickets", db_index=False)
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets")
    subject = models.CharField(max_length=300)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    assignee = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets", db_index=False
    )
    external_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True, help_text="How it was resolved: shown beside similar tickets.")

    # Clocks for scoring and SLA.
    last_customer_message_at = models.DateTimeField(null=True, blank=True)
    last_agent_reply_at = models.DateTimeField(null=True, blank=True)
    first_responded_at = models.DateTimeField(null=True, blank=True)
    waiting_since = models.DateTimeField(null=True, blank=True, help_text="Customer waiting on us since; null if not.")
    # The same instant as epoch seconds: lets one portable UPDATE compute the age term in SQL.
    waiting_since_ts = models.FloatField(null=True, blank=True, editable=False)
    response_target_s = models.PositiveIntegerField(default=0, help_text="SLA target for the current wait.")
    sla_due_at = models.DateTimeField(null=True, blank=True)
    sla_breached = models.BooleanField(default=False)
    sla_breached_at = models.DateTimeField(null=True, blank=True)

    # Triage: each value with its confidence; agent edits are locked against later automatic triage.
    sentiment = models.FloatField(null=True, blank=True, help_text="0 angry .. 1 delighted.")
    sentiment_confidence = models.FloatField(null=True, blank=True)
    category = models.CharField(max_length=40, blank=True)
    category_confidence = models.FloatField(null=True, blank=True)
    difficulty = models.CharField(max_length=10, choices=Difficulty.choices, blank=True)
    difficulty_confidence = models.FloatField(null=True, blank=True)
    language = models.CharField(max_length=10, blank=True)
    language_confidence = models.FloatField(null=True, blank=True)
    triage_source = models.JSONField(default=dict, blank=True, help_text="{field: rules|model|agent}")
    triage_locked = models.JSONField(default=list, blank=True, help_text="Fields an agent set by hand.")
    triaged_at = models.DateTimeField(null=True, blank=True)
    needs_review = models.BooleanField(default=False)
    review_reason = models.CharField(max_length=300, blank=True)

    # Score inputs copied from the account, so rescoring is one UPDATE over this table.
    customer_churn = models.FloatField(default=0.0)
    customer_ltv = models.FloatField(default=0.0)
    customer_vip = models.BooleanField(default=False)
    score = models.FloatField(default=0.0)
    score_churn = models.FloatField(default=0.0)
    score_value = models.FloatField(default=0.0)
    score_urgency = models.FloatField(default=0.0)
    score_age = models.FloatField(default=0.0)
    score_difficulty = models.FloatField(default=0.0)
    score_sentiment = models.FloatField(default=0.0)
    weights_version = models.PositiveIntegerField(default=0)

    follow_up_at = models.DateTimeField(null=True, blank=True)
    follow_up_note = models.CharField(max_length=300, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalated_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    escalation_reason = models.CharField(max_length=300, blank=True)

    objects = TicketQuerySet.as_manager()

    class Meta:
        ordering = ["-score", "-id"]
        indexes = [
            # The inbox: one team, one status, smart order, keyset pages walk this backwards. Views over
            # several teams merge one walk per team (tickets/inbox.py), so no global score index
            # is kept: each index on this table costs every rescore an insert per row.
            models.Index(fields=["team", "status", "score", "id"], name="ticket_inbox_idx"),
            # Topic-alert matches: ids from the keyword index are checked and ranked from this
            # index alone (an index-only scan on PostgreSQL), never from the wide table rows.
            models.Index(
                fields=["id"], include=["team", "status", "score", "channel", "assignee"], name="ticket_match_idx"
            ),
            models.Index(fields=["account", "-created_at", "-id"], name="ticket_account_created_idx"),
            # The breach scan: only tickets still inside their SLA are indexed, so most updates skip it.
            models.Index(
                fields=["sla_due_at"],
                condition=Q(sla_breached=False, waiting_since_ts__isnull=False),
                name="ticket_sla_pending_idx",
            ),
            models.Index(fields=["follow_up_at"], condition=Q(follow_up_at__isnull=False), name="ticket_follow_up_idx"),
        ]
        constraints = [
            # Inbound messages append to the one active ticket per contact and channel.
            models.UniqueConstraint(
                fields=["contact", "channel"],
                condition=Q(status__in=["open", "pending"]) & Q(contact__isnull=False),
                name="ticket_one_active_per_contact_channel",
            ),
            models.CheckConstraint(condition=Q(channel__in=Channel.values), name="ticket_channel_valid"),
            models.CheckConstraint(condition=Q(priority__in=Priority.values), name="ticket_priority_valid"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    # Columns copied onto AlertMatch rows: a save touching any of them refreshes the copies.
    ALERT_MATCH_COPIED = ("team_id", "status", "channel", "assignee_id", "score")

    def save(self, *args, **kwargs):
        adding = self._state.adding
        super().save(*args, **kwargs)
        fields = kwargs.get("update_fields")
        copied = {f.removesuffix("_id") for f in self.ALERT_MATCH_COPIED}
        if not adding and (fields is None or copied & {f.removesuffix("_id") for f in fields}):
            AlertMatch.objects.filter(ticket_id=self.pk).update(
                **{f: getattr(self, f) for f in self.ALERT_MATCH_COPIED}
            )

    def get_absolute_url(self) -> str:
        return reverse("tickets:detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    # --- state of one row ---------------------------------------------------------------------

    def copy_customer_inputs(self, account: Account | None = None) -> None:
        account = account or self.account
        self.customer_churn = float(account.churn_risk or 0)
        self.customer_ltv = float(account.lifetime_value or 0)
        self.customer_vip = bool(account.is_vip)

    def response_target_minutes(self) -> int:
        table = settings.TICKETS_SLA_NEXT_RESPONSE if self.first_responded_at else settings.TICKETS_SLA_FIRST_RESPONSE
        return table[self.priority]

    def start_waiting(self, at) -> None:
        """The customer now waits on us (from `at`, unless already waiting): set the SLA clock."""
        if self.waiting_since is None:
            self.waiting_since = at
            self.waiting_since_ts = at.timestamp()
        self.retarget_sla()

    def retarget_sla(self) -> None:
        if self.waiting_since is None:
            self.response_target_s, self.sla_due_at = 0, None
            return
        minutes = self.response_target_minutes()
        self.response_target_s = minutes * 60
        self.sla_due_at = rules.due_at(self.waiting_since, minutes)

    def stop_waiting(self) -> None:
        self.waiting_since = None
        self.waiting_since_ts = None
        self.response_target_s = 0
        self.sla_due_at = None
        self.sla_breached = False

    def score_inputs(self, *, now, matches_topic_alert: bool = False) -> scoring.ScoreInputs:
        return scoring.ScoreInputs(
            churn_risk=self.customer_churn,
            lifetime_value=self.customer_ltv,
            priority=self.priority,
            difficulty=self.difficulty,
            sentiment=self.sentiment,
            waiting_seconds=(now.timestamp() - self.waiting_since_ts) if self.waiting_since_ts is not None else None,
            response_target_seconds=self.response_target_s,
            matches_topic_alert=matches_topic_alert,
        )

    def apply_score(self, weights: scoring.Weights, *, now) -> scoring.Score:
        result = scoring.score(self.score_inputs(now=now), weights)
        c = result.components
        self.score = result.stored_total
        self.score_churn = c["churn_risk"]
        self.score_value = c["customer_value"]
        self.score_urgency = c["urgency"]
        self.score_age = c["age"]
        self.score_difficulty = c["difficulty"]
        self.score_sentiment = c["sentiment"]
        self.weights_version = weights.version
        return result

    SCORE_FIELDS = (
        "score",
        "score_churn",
        "score_value",
        "score_urgency",
        "score_age",
        "score_difficulty",
        "score_sentiment",
        "weights_version",
    )

    def stored_components(self, *, topic_alert: float = 0.0) -> dict[str, float]:
        """The components as stored when the inbox last scored this ticket."""
        return {
            "churn_risk": self.score_churn,
            "customer_value": self.score_value,
            "urgency": self.score_urgency,
            "age": self.score_age,
            "difficulty": self.score_difficulty,
            "sentiment": self.score_sentiment,
            "topic_alert": topic_alert,
        }

    def sla(self, now=None) -> rules.SlaState:
        return rules.sla_state(due_at=self.sla_due_at, target_seconds=self.response_target_s, now=now or timezone.now())

    def waiting_for(self, now=None):
        if self.waiting_since is None:
            return None
        return (now or timezone.now()) - self.waiting_since

    def triage_items(self) -> list[dict]:
        return [
            {
                "field": f,
                "value": getattr(self, f),
                "confidence": getattr(self, f"{f}_confidence"),
                "source": self.triage_source.get(f, ""),
                "locked": f in self.triage_locked,
            }
            for f in self.TRIAGE_FIELDS
        ]


class TicketKeyword(models.Model):
    """Precomputed words and adjacent word pairs of a ticket's customer text, for topic alerts.

    The team is copied here so "matching tickets in team X" is one index range, not a scan.
    """

    # Lookups by ticket use the unique (ticket, keyword) index; by team, the (team, keyword, ticket) one.
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="keywords", db_index=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+", db_index=False)
    keyword = models.CharField(max_length=rules.MAX_KEYWORD_LENGTH)

    class Meta:
        indexes = [models.Index(fields=["team", "keyword", "ticket"], name="ticket_keyword_team_idx")]
        constraints = [models.UniqueConstraint(fields=["ticket", "keyword"], name="ticket_keyword_unique")]

    def __str__(self) -> str:
        return self.keyword


class WatchedTerm(models.Model):
    """A topic-alert term that an active alert uses (or used until `unused_since`).

    While this row exists, AlertMatch holds every ticket with the keyword: the row and the matches
    are written in one transaction (tickets/matches.py), so a committed term is a complete one.
    """

    keyword = models.CharField(max_length=rules.MAX_KEYWORD_LENGTH, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    unused_since = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.keyword


class AlertMatch(models.Model):
    """A ticket that has a watched keyword, with the ticket's list columns copied beside it.

    The first page of an alerted inbox needs the match count and the best-scored matches; read
    through TicketKeyword that is one ticket lookup per match. Here it is one index-only range of
    (team, status, keyword) already carrying each match's score. The copies are refreshed on every
    ticket save that touches them (Ticket.save), after every set-based rescore, and reconciled by
    the beat pass; only watched terms are kept, so this table stays small.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+", db_index=False)
    keyword = models.CharField(max_length=rules.MAX_KEYWORD_LENGTH)
    # Copies of the ticket's columns the inbox filters and orders by (Ticket.ALERT_MATCH_COPIED).
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+", db_index=False)
    status = models.CharField(max_length=10)
    channel = models.CharField(max_length=10)
    assignee = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    score = models.FloatField()

    class Meta:
        indexes = [
            models.Index(
                fields=["team", "status", "keyword", "score", "ticket"],
                include=["channel", "assignee"],
                name="alert_match_page_idx",
            )
        ]
        constraints = [models.UniqueConstraint(fields=["ticket", "keyword"], name="alert_match_unique")]

    def __str__(self) -> str:
        return f"{self.keyword} #{self.ticket_id}"


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


class TopicAlertQuerySet(models.QuerySet):
    def active(self, now=None):
        now = now or timezone.now()
        return self.filter(cleared_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


class TopicAlert(models.Model):
    """An agent's saved keyword list: matching tickets get the topic alert boost in their inbox."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="topic_alerts")
    text = models.CharField(max_length=500)
    terms = models.JSONField(default=list)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    cleared_at = models.DateTimeField(null=True, blank=True)

    objects = TopicAlertQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(cleared_at__isnull=True), name="topic_alert_one_active"
            )
        ]

    def __str__(self) -> str:
        return ", ".join(self.terms)


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
