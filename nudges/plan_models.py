"""Action plans (issue 12, seed 2): the company context with its versions, prompt templates, deal
summaries cached by their inputs, plans with their P0/P1/P2 items, feedback and learnings.

Imported at the end of `nudges/models.py`, so Django registers them under the `nudges` app.

The seed kept three tables next to its cache (recommendation_cache, feedback_log,
context_updates); here a `Plan` row is both the stored recommendation and its cache entry (its
`cache_key` is the seed's composite of five hashes), `PlanFeedback` is the feedback log and every
`ContextVersion` is one context update, with who made it and why.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from crm.models import Deal, Team, TeamScopedQuerySet

PRIORITIES = ("P0", "P1", "P2")
PLAN_CHANNELS = ("email", "phone", "linkedin", "whatsapp")


class Priority(models.TextChoices):
    P0 = "P0", "P0 · today"
    P1 = "P1", "P1 · this week"
    P2 = "P2", "P2 · next week"


class PlanChannel(models.TextChoices):
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    LINKEDIN = "linkedin", "LinkedIn"
    WHATSAPP = "whatsapp", "WhatsApp"


class ContextVersionQuerySet(TeamScopedQuerySet):
    def current_for(self, team_id: int):
        return self.filter(team_id=team_id).order_by("-ordinal").first()


class ContextVersion(models.Model):
    """One version of a team's company context. Never edited: every change (an edit, an import,
    an accepted learning, a rollback) appends a version, so this table is also the audit log."""

    class Source(models.TextChoices):
        INIT = "init", "Initialised from the default template"
        EDIT = "edit", "Edited"
        IMPORT = "import", "Imported from a file"
        LEARNING = "learning", "Learning from feedback"
        ROLLBACK = "rollback", "Rolled back"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="context_versions")
    ordinal = models.PositiveIntegerField(help_text="0 for 1.0, 1 for 1.1, ...: orders the versions.")
    version = models.CharField(max_length=20, help_text="As the seed writes it: 1.0, 1.1, ...")
    title = models.CharField(max_length=200)
    sections = models.JSONField(default=dict, help_text="{section heading: text}, in the seed's order.")
    content_hash = models.CharField(max_length=64)
    source = models.CharField(max_length=10, choices=Source.choices)
    note = models.CharField(max_length=300, blank=True, help_text="What changed, in one line.")
    feedback = models.ForeignKey(
        "nudges.PlanFeedback", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rolled_back_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = ContextVersionQuerySet.as_manager()

    class Meta:
        ordering = ["team", "-ordinal"]
        constraints = [
            models.UniqueConstraint(fields=["team", "ordinal"], name="contextversion_unique_team_ordinal"),
        ]

    def __str__(self) -> str:
        return f"{self.team} context {self.version}"


class PromptTemplateQuerySet(TeamScopedQuerySet):
    def active_for(self, team_id: int):
        return self.filter(team_id=team_id, is_active=True).first()


class PromptTemplate(models.Model):
    """A manager's own system prompt for plans; must contain `{{company_context}}`."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="plan_templates")
    name = models.CharField(max_length=100)
    body = models.TextField()
    is_active = models.BooleanField(default=False, help_text="Used for this team's plans.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PromptTemplateQuerySet.as_manager()

    class Meta:
        ordering = ["team", "name"]
        constraints = [
            models.UniqueConstraint(fields=["team"], condition=Q(is_active=True), name="prompttemplate_one_active"),
            models.UniqueConstraint(fields=["team", "name"], name="prompttemplate_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class DealSummary(models.Model):
    """The deal summary (the seed's script 2), rebuilt only when its input hash changes."""

    deal = models.OneToOneField(Deal, primary_key=True, on_delete=models.CASCADE, related_name="plan_summary")
    input_hash = models.CharField(max_length=64, help_text="Hash of the deal data it was built from.")
    data = models.JSONField(default=dict)
    built_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "deal summaries"

    def __str__(self) -> str:
        return f"Summary of deal {self.deal_id}"


def new_public_id() -> str:
    return "rec_" + secrets.token_hex(6)


class PlanQuerySet(TeamScopedQuerySet):
    def cached(self):
        return self.filter(in_cache=True)

    def fresh(self, now=None):
        return self.cached().filter(expires_at__gt=now or timezone.now())


class Plan(models.Model):
    """A recommendation for one deal: a situation analysis and its P0/P1/P2 items.

    While `in_cache` and not expired, a request with the same `cache_key` (the five hashes) is
    answered with this row instead of a new generation."""

    class Status(models.TextChoices):
        PENDING = "pending", "Being written"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    public_id = models.CharField(max_length=20, unique=True, default=new_public_id)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="plans")
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="plans")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.READY)
    error = models.CharField(max_length=300, blank=True)
    campaign_context = models.CharField(max_length=500, blank=True)
    cache_key = models.CharField(max_length=64, db_index=True)
    deal_hash = models.CharField(max_length=64)
    summary_hash = models.CharField(max_length=64)
    prompt_hash = models.CharField(max_length=64)
    context_hash = models.CharField(max_length=64)
    campaign_hash = models.CharField(max_length=64)
    context_version = models.ForeignKey(
        ContextVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="plans"
    )
    template = models.ForeignKey(PromptTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    situation = models.JSONField(default=dict, help_text="Engagement level, last interaction, key themes, notes.")
    summary = models.JSONField(default=dict, help_text="The deal summary it was written from.")
    provenance = models.JSONField(default=dict, blank=True)
    inputs = models.JSONField(
        null=True,
        blank=True,
        help_text="While pending from a model batch: the inputs the model was given, so its answer is held to "
        "the rules against them and completed without rebuilding the plan from the deal. Cleared when ready.",
    )
    in_cache = models.BooleanField(default=True, help_text="False once `cache-clear` dropped it from the cache.")
    generated_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = PlanQuerySet.as_manager()

    class Meta:
        ordering = ["-generated_at", "-pk"]
        indexes = [
            # Cache lookup: the newest live plan of a deal with this key.
            models.Index(fields=["deal", "cache_key", "-generated_at"], name="plan_deal_key_idx"),
            models.Index(fields=["team", "-generated_at"], name="plan_team_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} for deal {self.deal_id}"

    def items_by_priority(self) -> dict[str, list]:
        out: dict[str, list] = {p: [] for p in PRIORITIES}
        for item in self.items.all():
            out.setdefault(item.priority, []).append(item)
        return out


class PlanItem(models.Model):
    """One action. P0 carries full content; P1/P2 an outline until expanded on request."""

    class Use(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        SENT = "sent", "Sent"
        DONE = "done", "Done (copied and logged)"
        DISCARDED = "discarded", "Discarded"

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="items")
    priority = models.CharField(max_length=2, choices=Priority.choices)
    position = models.PositiveSmallIntegerField(default=0)
    channel = models.CharField(max_length=10, choices=PlanChannel.choices)
    action_type = models.CharField(max_length=30, help_text="follow_up, re_engage, meeting, multi_thread, ...")
    title = models.CharField(max_length=200)
    timing = models.CharField(max_length=200)
    prerequisites = models.JSONField(default=list, help_text="Ordered checklist.")
    content = models.JSONField(
        default=dict, blank=True, help_text="Full content: subject/body, opening/discovery/close, or message."
    )
    outline = models.JSONField(default=list, blank=True, help_text="Key points of a P1/P2 action.")
    rationale = models.TextField(blank=True)
    contact_name = models.CharField(max_length=200, blank=True)
    expanded_at = models.DateTimeField(null=True, blank=True)
    use = models.CharField(max_length=10, choices=Use.choices, default=Use.PROPOSED)
    used_text = models.TextField(blank=True, help_text="What was actually sent or done.")
    edit_distance = models.PositiveIntegerField(null=True, blank=True, help_text="Characters the rep changed.")
    delivery_id = models.BigIntegerField(null=True, blank=True, help_text="outbound.Delivery of a sent email.")
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["plan", "priority", "position"]
        indexes = [models.Index(fields=["use", "used_at"], name="planitem_use_idx")]

    def __str__(self) -> str:
        return f"{self.priority} {self.channel}: {self.title}"

    @property
    def has_content(self) -> bool:
        return bool(self.content)

    def content_text(self) -> str:
        """The content as one text, for copying, editing and the edit distance."""
        c = self.content or {}
        if not c:
            return ""
        if self.channel == "email":
            return f"Subject: {c.get('subject', '')}\n\n{c.get('body', '')}".strip()
        if self.channel == "phone":
            parts = [
                ("Opening", c.get("opening", "")),
                ("Discovery", c.get("discovery", "")),
                ("Close", c.get("close", "")),
            ]
            return "\n\n".join(f"{k}: {v}" for k, v in parts if v)
        return c.get("message", "")


class PlanFeedbackQuerySet(TeamScopedQuerySet):
    pass


class PlanFeedback(models.Model):
    """Explicit feedback (the buttons, the command) or implicit (what the rep did with an action)."""

    class Type(models.TextChoices):
        POSITIVE = "positive", "Positive"
        NEGATIVE = "negative", "Negative"
        NEUTRAL = "neutral", "Neutral"

    class Kind(models.TextChoices):
        EXPLICIT = "explicit", "Explicit"
        SENT_UNCHANGED = "sent_unchanged", "Sent unchanged"
        EDITED = "edited", "Edited before use"
        DISCARDED = "discarded", "Discarded"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="plan_feedback")
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="feedback")
    item = models.ForeignKey(PlanItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.EXPLICIT)
    type = models.CharField(max_length=10, choices=Type.choices)
    text = models.TextField(blank=True)
    worked = models.TextField(blank=True)
    didnt_work = models.TextField(blank=True)
    improvement = models.TextField(blank=True)
    priority = models.CharField(max_length=2, choices=Priority.choices, default=Priority.P0)
    channel = models.CharField(max_length=10, choices=PlanChannel.choices, default=PlanChannel.EMAIL)
    edit_distance = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = PlanFeedbackQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.type} feedback on {self.plan_id}"


class LearningQuerySet(TeamScopedQuerySet):
    def proposed(self):
        return self.filter(status=Learning.Status.PROPOSED)


class Learning(models.Model):
    """One actionable line extracted from feedback, proposed for a section of the context."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Waiting for approval"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        DUPLICATE = "duplicate", "Already in the context"
        NONE = "none", "Nothing actionable"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="plan_learnings")
    feedback = models.OneToOneField(PlanFeedback, on_delete=models.CASCADE, related_name="learning")
    section = models.CharField(max_length=100)
    text = models.CharField(max_length=300)
    context_line = models.CharField(max_length=500, help_text="The line as it goes into the context.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    reason = models.CharField(max_length=300, blank=True)
    provenance = models.JSONField(default=dict, blank=True)
    base_version = models.ForeignKey(ContextVersion, null=True, on_delete=models.SET_NULL, related_name="+")
    result_version = models.ForeignKey(
        ContextVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="learnings"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = LearningQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.text


class PlanRun(models.Model):
    """One "Plan my pipeline" run: plans for many deals (`plan_bulk.plan_many`) in the background,
    its counts updated per chunk so the console and the API can show progress.

    At most one queued or running run per team (a constraint, so two simultaneous starts cannot
    both win); `nudges.plan_runs` refuses the second with the reason."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Mode(models.TextChoices):
        AUTO = "auto", "Auto (a model batch for big runs when the model has one)"
        BATCH = "batch", "Batch"
        SYNC = "sync", "Synchronous"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="plan_runs")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    filters = models.JSONField(default=dict, blank=True, help_text="{stage, owner, stale_only, limit} as asked.")
    campaign_context = models.CharField(max_length=500, blank=True)
    mode = models.CharField(max_length=5, choices=Mode.choices, default=Mode.AUTO)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    error = models.CharField(max_length=500, blank=True)
    deal_ids = models.JSONField(default=list, help_text="The deals chosen when the run started, in list order.")
    deals = models.PositiveIntegerField(default=0, help_text="Deals chosen.")
    done = models.PositiveIntegerField(default=0, help_text="Deals the run has got through (all lanes).")
    lanes = models.PositiveSmallIntegerField(
        default=1, help_text="Slices of the chosen deals planned side by side, one task each (PLANS_RUN_LANES)."
    )
    lane_done = models.JSONField(default=list, blank=True, help_text="Deals each lane has got through.")
    lane_tasks = models.JSONField(
        default=list, blank=True, help_text="The task that holds each lane; a redelivered copy takes it over."
    )
    written = models.PositiveIntegerField(default=0)
    cached = models.PositiveIntegerField(default=0, help_text="Fresh plans with the same five inputs: nothing written.")
    in_flight = models.PositiveIntegerField(default=0, help_text="Pending plans of a model batch still running.")
    submitted = models.PositiveIntegerField(default=0, help_text="Deals sent to a model batch by this run.")
    failed = models.PositiveIntegerField(default=0, help_text="Deals gone (deleted) before the run reached them.")
    model_calls = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last chunk stored.")
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["team"], condition=Q(status__in=["queued", "running"]), name="planrun_one_active_per_team"
            ),
        ]

    def __str__(self) -> str:
        return f"Plan run {self.pk} of {self.team_id} ({self.status})"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("nudges:plan_run_detail", args=[self.pk])

    @property
    def active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def seconds(self) -> float | None:
        """How long the run took (None until it finished)."""
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None
