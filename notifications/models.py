"""Proactive customer notifications for an energy retention team (seed 5).

The five customer files map into the customer graph: a customer is an `crm.Account` (kind person,
`external_id` = customer id) with one `crm.Contact`; service interactions are `crm.Activity` rows of
kind service with their sentiment. What the graph has no place for lives here: the profile and
account-activity facts (`CustomerRecord`), past notifications with their engagement
(`PastNotification`), recommended actions (`RecommendedAction`). `Notification` is the review queue
item an agent edits and sends; `AnalysisRun` is one background "Analyse & generate" run. Imports are
recorded as `crm.ImportRun` (kind `notifications.customers`), the run that last wrote a row in `import_run`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q, Value
from django.urls import reverse
from django.utils import timezone

from crm.models import Account, ImportRun, Team, TeamScopedQuerySet
from notifications.segments import DEFAULT_RULES, VALUE_SEEKERS


class CustomerRecordQuerySet(TeamScopedQuerySet):
    def in_segment(self, segment: str):
        return self.filter(segment=segment) if segment else self


class CustomerRecord(models.Model):
    """The profile and account-activity facts of one customer (one row per customer id)."""

    # No index of its own: customer_record_unique_id and customer_record_segment_idx start with team_id.
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+", db_index=False)
    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="energy")
    customer_id = models.CharField(max_length=64)
    # Customer Profiles
    region = models.CharField(max_length=100, blank=True)
    tariff = models.CharField(max_length=100, blank=True)
    payment_method = models.CharField(max_length=50, blank=True)
    monthly_spend = models.DecimalField(max_digits=9, decimal_places=2, default=0)
    tenure_months = models.PositiveIntegerField(null=True, blank=True)
    green_tariff = models.BooleanField(default=False)
    marketing_consent = models.BooleanField(default=True)
    # Account Activity Logs (blank until that file names the customer)
    has_activity = models.BooleanField(default=False)
    account_status = models.CharField(max_length=50, blank=True)
    engagement_score = models.PositiveSmallIntegerField(null=True, blank=True)
    churn_risk = models.FloatField(null=True, blank=True)
    last_login = models.DateField(null=True, blank=True)
    payment_status = models.CharField(max_length=10, blank=True)
    contract_end = models.DateField(null=True, blank=True)
    outcome = models.CharField(
        max_length=10, blank=True, help_text="Later outcome: closed or switched (for the risk check)."
    )
    outcome_on = models.DateField(null=True, blank=True)
    # Computed on import and on rule changes. `segment` is the effective one: the AI refinement's when
    # it answered validly for the current data, otherwise the rule's (`rule_segment`, the fallback).
    segment = models.CharField(max_length=100, blank=True)
    segment_reason = models.CharField(max_length=300, blank=True)
    # Database defaults too: the COPY bulk path (bulkload.py) inserts rows in SQL.
    rule_segment = models.CharField(max_length=100, blank=True, default="", db_default="")
    segment_source = models.CharField(
        max_length=10,
        default="rule",
        db_default="rule",
        help_text="rule, or ai when the refinement's answer is in use.",
    )
    refinement = models.JSONField(
        default=dict,
        db_default=Value({}, output_field=models.JSONField()),
        blank=True,
        help_text="The AI refinement: {hash, segment, reason, provider, offline, rejected} for the inputs hashed.",
    )
    risk_score = models.PositiveSmallIntegerField(default=1)
    risk_raw = models.FloatField(default=0)
    risk_factors = models.JSONField(default=list, help_text="[{label, delta, kind, ref}]")
    priority = models.CharField(max_length=10, default="Low")
    # The run that last wrote the row (undo is allowed only for the newest run).
    import_run = models.ForeignKey(ImportRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    objects = CustomerRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-risk_score", "customer_id"]
        constraints = [models.UniqueConstraint(fields=["team", "customer_id"], name="customer_record_unique_id")]
        indexes = [models.Index(fields=["team", "segment", "-risk_score"], name="customer_record_segment_idx")]

    def __str__(self) -> str:
        return self.customer_id


class PastNotificationQuerySet(TeamScopedQuerySet):
    pass


class PastNotification(models.Model):
    """A notification already sent: from Notification History, or sent here through outbound."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="past_notifications")
    external_id = models.CharField(max_length=64)
    sent_on = models.DateField()
    channel = models.CharField(max_length=20, blank=True)
    subject = models.CharField(max_length=300)
    opened = models.BooleanField(default=False)
    clicked = models.BooleanField(default=False)
    responded = models.BooleanField(default=False)
    delivery_id = models.PositiveIntegerField(null=True, blank=True, help_text="outbound.Delivery when sent here.")
    import_run = models.ForeignKey(ImportRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = PastNotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-sent_on", "-pk"]
        constraints = [models.UniqueConstraint(fields=["team", "external_id"], name="past_notification_unique_id")]
        indexes = [models.Index(fields=["account", "-sent_on"], name="past_notification_account_idx")]

    def __str__(self) -> str:
        return f"{self.external_id} {self.subject}"


class RecommendedAction(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="recommended_actions")
    external_id = models.CharField(max_length=64)
    action = models.CharField(max_length=300)
    offer = models.CharField(max_length=300, blank=True)
    priority = models.CharField(max_length=10, blank=True)
    valid_until = models.DateField(null=True, blank=True)
    import_run = models.ForeignKey(ImportRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["account", "external_id"]
        constraints = [models.UniqueConstraint(fields=["team", "external_id"], name="recommended_action_unique_id")]

    def __str__(self) -> str:
        return f"{self.external_id} {self.action}"


class NotificationSettings(models.Model):
    """Per team: the segment rules and the focus segment analysed by "Analyse & generate"."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="notification_settings")
    focus_segment = models.CharField(max_length=100, default=VALUE_SEEKERS)
    segment_rules = models.TextField(default=DEFAULT_RULES)
    # The day the data describes (latest date in the imported files): risk is computed as of then,
    # so a customer's "contract ends in 20 days" means the same as when the files were exported.
    as_of = models.DateField(null=True, blank=True)
    risk_check = models.JSONField(default=dict, blank=True, help_text="Recomputed on every import.")
    updated_at = models.DateTimeField(auto_now=True)

    objects = TeamScopedQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Notification settings of {self.team}"

    @classmethod
    def for_team(cls, team) -> NotificationSettings:
        return cls.objects.get_or_create(team=team)[0]


class AnalysisRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        WAITING = "waiting", "Waiting for a batch"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    segment = models.CharField(max_length=100)
    # Batch mode: the whole run in one Message Batch per feature (analysis, then message); it waits
    # for `waiting` more answers, then resumes from the reply cache (runs.run_analysis).
    batch = models.BooleanField(default=False)
    limit = models.PositiveIntegerField(null=True, blank=True, help_text="Only the N riskiest customers.")
    waiting = models.PositiveIntegerField(default=0)
    batches = models.JSONField(default=dict, blank=True, help_text="{feature: LLMBatch id} submitted by this run.")
    stats = models.JSONField(
        default=dict, blank=True, help_text="{customers, unchanged, asked, cached, batched}: what the run cost."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    force_refresh = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Analysis of {self.segment} ({self.get_status_display()})"

    @property
    def active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING, self.Status.WAITING)


class NotificationQuerySet(TeamScopedQuerySet):
    def open(self):
        return self.exclude(status__in=(Notification.Status.SENT,))

    def prioritised(self):
        return self.order_by("priority_rank", "-risk_score", "-risk_raw", "pk")


class Notification(models.Model):
    """The review-queue item for one customer: the analysis, the draft an agent edits, its sending."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        NEEDS_EDIT = "needs_edit", "Needs editing"
        APPROVED = "approved", "Approved"
        QUEUED = "queued", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    PRIORITY_RANK = {"High": 0, "Medium": 1, "Low": 2}

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="notifications")
    record = models.ForeignKey(CustomerRecord, on_delete=models.CASCADE, related_name="notifications")
    run = models.ForeignKey(AnalysisRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    priority = models.CharField(max_length=10, default="Low")
    priority_rank = models.PositiveSmallIntegerField(default=2)
    urgency = models.CharField(max_length=100, blank=True)
    risk_score = models.PositiveSmallIntegerField(default=1)
    risk_raw = models.FloatField(default=0)
    analysis = models.JSONField(
        default=dict, help_text="contact reason, trigger factors, impact, insights, style, starters"
    )
    channel = models.CharField(max_length=20, default="email")
    subject = models.CharField(max_length=300, blank=True)
    message = models.TextField(blank=True)
    input_hash = models.CharField(max_length=64, blank=True, help_text="Inputs the analysis was made from.")
    provenance = models.JSONField(default=dict, blank=True)
    failed_checks = models.JSONField(default=list, blank=True, help_text="[{check, reason}] from the last check.")
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    delivery_id = models.PositiveIntegerField(null=True, blank=True)
    sent_body = models.TextField(blank=True, help_text="Exactly what was sent.")
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["priority_rank", "-risk_score", "-risk_raw", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["record"], condition=~Q(status="sent"), name="notification_one_open_per_customer"
            )
        ]
        indexes = [
            models.Index(fields=["team", "status", "priority_rank", "-risk_score"], name="notification_queue_idx")
        ]

    def __str__(self) -> str:
        return f"{self.record.customer_id}: {self.subject}"

    def get_absolute_url(self) -> str:
        return reverse("notifications:detail", args=[self.pk])

    @property
    def level(self) -> str:
        return {"High": "critical", "Medium": "important"}.get(self.priority, "routine")

    @property
    def level_label(self) -> str:
        return self.level.title()
