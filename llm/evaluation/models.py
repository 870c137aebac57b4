"""Stored evaluation runs (imported by llm/models.py, so they belong to the llm app).

Runs hold scores and per-case outputs of the evaluation datasets, which are synthetic or demo data,
never a customer's record; the AI quality page shows them to managers of every team.
"""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class EvalRunQuerySet(models.QuerySet):
    def latest_per_feature(self):
        """The newest run of each feature (one query per page, not one per feature)."""
        newest = self.filter(feature=models.OuterRef("feature")).order_by("-created_at", "-id").values("id")[:1]
        return self.filter(id=models.Subquery(newest)).order_by("feature")


class EvalRun(models.Model):
    class Mode(models.TextChoices):
        OFFLINE = "offline", "Offline provider"
        LIVE = "live", "Configured model"
        RECORD = "record", "Model, recorded"
        REPLAY = "replay", "Replayed recording"

    feature = models.CharField(max_length=80, db_index=True)
    dataset = models.CharField(max_length=300, help_text="Dataset path, relative to the project.")
    dataset_hash = models.CharField(max_length=64)
    prompt_version = models.CharField(max_length=64, blank=True)
    provider = models.CharField(max_length=40)
    model = models.CharField(max_length=120, blank=True)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.OFFLINE)
    cases = models.PositiveIntegerField(default=0)
    scores = models.JSONField(default=dict, help_text="{metric: aggregate score from 0 to 1}")
    thresholds = models.JSONField(default=dict, help_text="{metric: minimum score} at the time of the run")
    failed_metrics = models.JSONField(default=list)
    skipped = models.JSONField(default=dict, help_text="{metric: why it was not scored}")
    dataset_issues = models.JSONField(default=list, help_text="Lines of the dataset that did not load.")
    dataset_reasons = models.JSONField(
        default=dict, help_text="{metric: reasons} for dataset-level metrics (F1, precision)."
    )
    passed = models.BooleanField(default=True)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = EvalRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["feature", "-created_at"], name="llm_evalrun_feature_recent")]

    def __str__(self) -> str:
        return f"{self.feature} {self.created_at:%Y-%m-%d %H:%M} ({'pass' if self.passed else 'FAIL'})"

    def previous(self) -> EvalRun | None:
        return (
            EvalRun.objects.filter(feature=self.feature)
            .filter(models.Q(created_at__lt=self.created_at) | models.Q(created_at=self.created_at, id__lt=self.id))
            .order_by("-created_at", "-id")
            .first()
        )


class EvalCaseResult(models.Model):
    run = models.ForeignKey(EvalRun, on_delete=models.CASCADE, related_name="results")
    case_id = models.CharField(max_length=120)
    output = models.JSONField(default=dict, encoder=DjangoJSONEncoder, null=True)
    scores = models.JSONField(default=dict, help_text="{metric: score}; skipped metrics are absent")
    reasons = models.JSONField(default=dict, help_text="{metric: [reasons]} for scores below 1")
    passed = models.BooleanField(default=True, help_text="Every case metric scored 1.")
    error = models.TextField(blank=True, help_text="The feature's code raised for this case.")

    class Meta:
        ordering = ["run", "id"]
        constraints = [models.UniqueConstraint(fields=["run", "case_id"], name="llm_evalcase_unique_per_run")]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.case_id}"
