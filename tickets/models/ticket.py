"""The ticket: its clocks, triage, score and the one-row transitions; channels, priorities, weights."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone

from crm.models import Account, Contact, Team
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


class WeightSetQuerySet(models.QuerySet):
    def global_default(self):
        return self.filter(team__isnull=True)

    def newest_per_scope(self):
        """The newest version of the global default and of each team's own weights: one query."""
        newest_global = self.model.objects.global_default().order_by("-version").values("version")[:1]
        newest_team = self.model.objects.filter(team_id=OuterRef("team_id")).order_by("-version").values("pk")[:1]
        return self.filter(
            Q(team__isnull=True, version=Subquery(newest_global)) | Q(team__isnull=False, pk=Subquery(newest_team))
        )


class WeightSet(models.Model):
    """A versioned set of scoring weights. `team` empty: the global default, which only admins change;
    a team's own versions (its managers') override it for that team's tickets. The weights in force
    for a ticket are its team's newest set, else the newest global one; a team whose newest set
    `follows_default` (a reset) uses the newest global one too, and keeps its versions as history.
    Global version 1 comes from the environment."""

    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="weight_sets",
        db_index=False,  # the (team, version) unique index leads with team
        help_text="Empty: the global default every team without its own weights uses.",
    )
    version = models.PositiveIntegerField()
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
    follows_default = models.BooleanField(
        default=False,
        help_text="A team's reset: from this version on the team uses the global default in force "
        "(its values are the default's at the reset, for the history).",
    )
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = WeightSetQuerySet.as_manager()

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
        ordering = ["-version", "-id"]
        constraints = [
            # Versions count per scope: each team's own from 1, the global default's from 1. Two
            # partial indexes because NULL team ids never collide in a plain unique index.
            models.UniqueConstraint(
                fields=["team", "version"], condition=Q(team__isnull=False), name="weightset_unique_team_version"
            ),
            models.UniqueConstraint(
                fields=["version"], condition=Q(team__isnull=True), name="weightset_unique_global_version"
            ),
        ]

    def __str__(self) -> str:
        return f"Weights v{self.version} ({self.scope_label})"

    @property
    def scope_label(self) -> str:
        return self.team.name if self.team_id else "global default"

    def as_weights(self) -> scoring.Weights:
        return scoring.Weights(version=self.version, set_id=self.pk, **{f: getattr(self, f) for f in self.FIELDS})

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
        """The newest global default (created from the environment the first time it is asked for)."""
        latest = cls.objects.global_default().order_by("-version").first()
        if latest is None:
            latest, _ = cls.objects.get_or_create(
                team=None, version=1, defaults={**cls.env_defaults(), "note": "environment"}
            )
        return latest

    @classmethod
    def in_force(cls, team_id: int | None) -> WeightSet:
        """The weights a team's tickets are scored with: its newest own set, else the newest global
        one. One query (team rows sort before the global ones)."""
        if team_id is not None:
            found = (
                cls.objects.filter(Q(team_id=team_id) | Q(team__isnull=True))
                .order_by(F("team_id").asc(nulls_last=True), "-version")
                .first()
            )
            if found is not None and not found.follows_default:
                return found
        return cls.current()

    @classmethod
    def in_force_map(cls) -> tuple[WeightSet, dict[int, WeightSet]]:
        """(the global default, {team id: that team's own newest set}) in one query. A team whose
        newest set follows the default is not in the map: the default governs its tickets."""
        rows = list(cls.objects.newest_per_scope())
        default = next((w for w in rows if w.team_id is None), None) or cls.current()
        return default, {w.team_id: w for w in rows if w.team_id is not None and not w.follows_default}


class Ticket(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PENDING = "pending", "Waiting on customer"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"

    ACTIVE_STATUSES = (Status.OPEN, Status.PENDING)
    TRIAGE_FIELDS = ("sentiment", "category", "difficulty", "language")
    TRIAGE_STORED = (*TRIAGE_FIELDS, *(f"{f}_confidence" for f in TRIAGE_FIELDS), "triage_source")

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
    # The weight set the stored score was computed with (a team's own or the global default).
    weight_set = models.ForeignKey(
        WeightSet, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )

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

    # Columns copied onto AlertMatch rows: the service that changes any of them refreshes the
    # copies explicitly (tickets.matches.copy_columns); the beat pass re-syncs whatever was missed.
    ALERT_MATCH_COPIED = ("team_id", "status", "channel", "assignee_id", "score")

    def get_absolute_url(self) -> str:
        return reverse("tickets:detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    # --- state of one row ---------------------------------------------------------------------

    # What start_waiting / stop_waiting / retarget_sla change.
    WAIT_FIELDS = ("waiting_since", "waiting_since_ts", "response_target_s", "sla_due_at", "sla_breached")
    CUSTOMER_INPUT_FIELDS = ("customer_churn", "customer_ltv", "customer_vip")

    def store(self, *fields: str) -> None:
        """Save the named fields plus the score (every transition rescores) and updated_at."""
        self.save(update_fields=sorted({*fields, *self.SCORE_FIELDS, "updated_at"}))

    def take_customer_message(self, *, at, weights) -> None:
        """The customer wrote: the ticket is open again, its follow-up void, and they wait on us."""
        self.last_customer_message_at = at
        self.status = self.Status.OPEN
        self.follow_up_at, self.follow_up_note = None, ""
        self.copy_customer_inputs()
        self.start_waiting(at)
        self.apply_score(weights, now=at)
        self.store(
            "last_customer_message_at",
            "status",
            "follow_up_at",
            "follow_up_note",
            *self.CUSTOMER_INPUT_FIELDS,
            *self.WAIT_FIELDS,
        )

    def take_agent_reply(self, *, at, weights) -> None:
        """An agent replied: the customer no longer waits on us; an open ticket waits on them."""
        self.last_agent_reply_at = at
        self.first_responded_at = self.first_responded_at or at
        self.stop_waiting()
        if self.status == self.Status.OPEN:
            self.status = self.Status.PENDING
        self.apply_score(weights, now=at)
        self.store("last_agent_reply_at", "first_responded_at", "status", *self.WAIT_FIELDS)

    def park(self, *, until, note: str, now, weights) -> None:
        """Wait on the customer until `until` (a follow-up); an open ticket becomes pending."""
        self.follow_up_at, self.follow_up_note = until, note[:300]
        if self.status == self.Status.OPEN:
            self.status = self.Status.PENDING
            self.stop_waiting()
        self.apply_score(weights, now=now)
        self.store("follow_up_at", "follow_up_note", "status", *self.WAIT_FIELDS)

    def resurface(self, *, now, weights) -> None:
        """A due follow-up without a customer reply: open again, waiting on us from now."""
        self.status = self.Status.OPEN
        self.follow_up_at, self.follow_up_note = None, ""
        self.start_waiting(now)
        self.apply_score(weights, now=now)
        self.store("status", "follow_up_at", "follow_up_note", *self.WAIT_FIELDS)

    def take_triage(self, fields: dict[str, dict], *, source: str, min_confidence: float, at, weights) -> list[str]:
        """Automatic triage: values at or above `min_confidence` are applied, except fields an agent
        set by hand. Returns the names applied."""
        applied = []
        for name, item in fields.items():
            if name not in self.TRIAGE_FIELDS or name in self.triage_locked or item["confidence"] < min_confidence:
                continue
            setattr(self, name, item["value"])
            setattr(self, f"{name}_confidence", item["confidence"])
            self.triage_source = {**self.triage_source, name: source}
            applied.append(name)
        self.triaged_at = at
        self.copy_customer_inputs()
        self.apply_score(weights, now=at)
        self.store(*self.TRIAGE_STORED, "triaged_at", *self.CUSTOMER_INPUT_FIELDS)
        return applied

    def set_triage_by_agent(self, changes: dict, *, now, weights) -> list[str]:
        """An agent's values win: confidence 1, locked against later automatic triage."""
        changed = []
        for name, value in changes.items():
            if name not in self.TRIAGE_FIELDS:
                continue
            setattr(self, name, value)
            setattr(self, f"{name}_confidence", 1.0)
            self.triage_source = {**self.triage_source, name: "agent"}
            if name not in self.triage_locked:
                self.triage_locked = [*self.triage_locked, name]
            changed.append(name)
        self.apply_score(weights, now=now)
        self.store(*self.TRIAGE_STORED, "triage_locked")
        return changed

    def flag_for_review(self, reason: str) -> None:
        self.needs_review, self.review_reason = True, reason[:300]
        self.save(update_fields=["needs_review", "review_reason", "updated_at"])

    def rescore(self, *, weights, now) -> None:
        self.apply_score(weights, now=now)
        if self.pk:
            self.store()

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
        self.weight_set_id = weights.set_id
        return result

    SCORE_FIELDS = (
        "score",
        "score_churn",
        "score_value",
        "score_urgency",
        "score_age",
        "score_difficulty",
        "score_sentiment",
        "weight_set",
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
