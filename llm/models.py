"""The usage ledger, the shared reply cache and Message Batches bookkeeping.

Nothing here knows about CRMs: `about` is a generic link to whatever row a call was for, and
`scope` an opaque integer the caller passes (crm: the team id) that decides who sees a usage row
(llm.scopes). Usage rows carry no prompt or reply text, only counts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from llm.scopes import visible_scopes


class Outcome(models.TextChoices):
    OK = "ok", "Model answered"
    CACHE_HIT = "cache_hit", "Cache hit"
    OFFLINE = "offline", "Offline provider"
    FALLBACK = "fallback", "Fell back to offline"


class ErrorKind(models.TextChoices):
    NONE = "", "None"
    TEMPORARY = "temporary", "Temporary provider error"
    PERMANENT = "permanent", "Permanent provider error"
    SCHEMA = "schema", "Reply did not fit the schema"
    BUDGET = "budget", "Daily budget used up"
    EMPTY = "empty", "Nothing to send"
    INVENTED = "invented", "Reply invented facts"
    INTERNAL = "internal", "Gateway error"


# Who may read the ledger and its page; llm declares it, the app that owns roles grants it.
VIEW_USAGE = "llm.view_usage"

# Error kinds that count as failures on the dashboard (a budget stop or empty input is a decision).
FAILURE_KINDS = (ErrorKind.TEMPORARY, ErrorKind.PERMANENT, ErrorKind.SCHEMA, ErrorKind.INTERNAL)


def _day_start(day: date) -> datetime:
    try:
        return timezone.make_aware(datetime.combine(day, time.min))
    except (OverflowError, ValueError):  # year 1 in a zone east of UTC
        return datetime.min.replace(tzinfo=UTC)


class LLMCallQuerySet(models.QuerySet):
    def between(self, since, until):
        """Calls on local dates since..until inclusive (either may be None). Compared as a datetime
        range, not `created_at__date`, so the created_at indexes serve it."""
        qs = self
        if since:
            qs = qs.filter(created_at__gte=_day_start(since))
        if until:
            try:
                qs = qs.filter(created_at__lt=_day_start(until + timedelta(days=1)))
            except OverflowError:  # until is date.max: no upper bound
                pass
        return qs

    def visible_to(self, user):
        """Rows `user` may read: needs `llm.view_usage`, then only the scopes the registered
        resolver allows (llm.scopes; crm: the user's teams, every team for admins)."""
        if user is None or not user.is_authenticated or not user.has_perm(VIEW_USAGE):
            return self.none()
        scopes = visible_scopes(user)
        return self if scopes is None else self.filter(scope__in=scopes)

    def for_features(self, features):
        return self.filter(feature__in=features) if features else self

    def about(self, obj):
        return self.filter(content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk))


class LLMCall(models.Model):
    """One row per gateway call (a cache hit is a call too)."""

    feature = models.CharField(max_length=100)
    provider = models.CharField(max_length=30)
    model = models.CharField(max_length=100)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    cache_hit = models.BooleanField(default=False)
    batched = models.BooleanField(default=False, help_text="Answered through the Message Batches API.")
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cache_read_tokens = models.PositiveIntegerField(default=0)
    cache_write_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    latency_ms = models.FloatField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="HTTP requests made (0 for offline or cache).")
    error_kind = models.CharField(max_length=20, choices=ErrorKind.choices, blank=True, default="")
    fallback_reason = models.CharField(max_length=300, blank=True)
    flags = models.JSONField(default=list, blank=True)
    trimmed_chars = models.PositiveIntegerField(default=0, help_text="Input characters cut to fit the budget.")
    cache_key = models.CharField(max_length=64, blank=True)
    content_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL)
    object_id = models.CharField(max_length=64, blank=True)
    about = GenericForeignKey("content_type", "object_id")
    scope = models.IntegerField(
        null=True, blank=True, help_text="Opaque grouping passed by the caller (crm: the team id); decides who sees it."
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = LLMCallQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["feature", "created_at"], name="llm_call_feature_day"),
            models.Index(fields=["created_at"], name="llm_call_created"),
            models.Index(fields=["content_type", "object_id"], name="llm_call_about"),
            # A manager's usage page: their scopes over a date range.
            models.Index(fields=["scope", "created_at"], name="llm_call_scope_day"),
        ]
        verbose_name = "LLM call"
        # Granted to roles by the app above (crm grants it to managers and admins); llm itself
        # knows no roles.
        permissions = [("view_usage", "Can view AI usage and spend")]

    def __str__(self) -> str:
        return f"{self.feature} via {self.provider} ({self.get_outcome_display()})"

    @property
    def failed(self) -> bool:
        return self.error_kind in FAILURE_KINDS

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens


class CachedReplyQuerySet(models.QuerySet):
    def live(self, now=None):
        return self.filter(expires_at__gt=now or timezone.now())

    def expired(self, now=None):
        return self.filter(expires_at__lte=now or timezone.now())


class CachedReply(models.Model):
    """A model reply stored under the hash of everything that shaped it (see llm.prompting.cache_key).
    In the database so every web process and worker shares it."""

    key = models.CharField(max_length=64, primary_key=True)
    feature = models.CharField(max_length=100)
    provider = models.CharField(max_length=30)
    model = models.CharField(max_length=100)
    text = models.TextField(blank=True)
    data = models.JSONField(null=True, blank=True)
    flags = models.JSONField(default=list, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    objects = CachedReplyQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="llm_cache_expires")]

    def __str__(self) -> str:
        return f"{self.feature} {self.key[:12]}"


class LLMBatch(models.Model):
    """A Message Batches API submission; `collect_batches` picks up its results."""

    class Status(models.TextChoices):
        SUBMITTING = "submitting", "Submitting"
        SUBMITTED = "submitted", "Submitted"
        COLLECTED = "collected", "Collected"
        FAILED = "failed", "Failed"

    feature = models.CharField(max_length=100)
    provider = models.CharField(max_length=30)
    model = models.CharField(max_length=100)
    provider_batch_id = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SUBMITTING)
    # The request every item shares, kept so a failed item can be retried synchronously.
    system = models.TextField(blank=True)
    context = models.TextField(blank=True)
    prompt = models.TextField(blank=True)
    schema = models.JSONField(null=True, blank=True)
    max_tokens = models.PositiveIntegerField(default=512)
    ttl_seconds = models.PositiveIntegerField(default=0)
    grounding = models.CharField(max_length=20, default="flag")
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    collected_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "LLM batch"
        verbose_name_plural = "LLM batches"

    def __str__(self) -> str:
        return f"{self.feature} batch {self.provider_batch_id or self.pk} ({self.status})"


class LLMBatchItem(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"

    batch = models.ForeignKey(LLMBatch, on_delete=models.CASCADE, related_name="items")
    item_key = models.CharField(max_length=200, help_text="The feature's own id for this item.")
    inputs = models.JSONField(default=dict, help_text="Input values as sent (after trimming).")
    raw_inputs = models.JSONField(
        default=dict, encoder=DjangoJSONEncoder, help_text="Original inputs, for the offline writer."
    )
    cache_key = models.CharField(max_length=64)
    trimmed_chars = models.PositiveIntegerField(default=0)
    flags = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    content_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL)
    object_id = models.CharField(max_length=64, blank=True)
    about = GenericForeignKey("content_type", "object_id")
    scope = models.IntegerField(null=True, blank=True, help_text="Copied to the item's ledger row.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["batch", "item_key"], name="llm_batch_item_unique_key")]

    def __str__(self) -> str:
        return f"{self.batch_id}:{self.item_key}"

    @property
    def custom_id(self) -> str:
        return f"i{self.pk}"


# Evaluation runs live in their own module beside the harness; imported here so they are llm's models.
from llm.evaluation.models import EvalCaseResult, EvalRun  # noqa: E402, F401
