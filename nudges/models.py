"""Deal follow-up nudges and the per-team warning settings behind them.

A nudge is the open suggestion for one deal: which warnings fired, why now, how urgent, and one
short actionable line. At most one open nudge per deal (database constraint); acting on it closes
it (done, snoozed, dismissed) and a later scan may open a fresh one when the deal goes stale again.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from crm.models import Deal, Team, TeamScopedQuerySet


class Warning(models.TextChoices):
    NO_ACTIVITY = "no_activity", "No activity"
    GHOSTED = "ghosted", "Ghosted"
    NEXT_STEP_OVERDUE = "next_step_overdue", "Next step overdue"
    STALLED_IN_STAGE = "stalled_in_stage", "Stalled in stage"
    SINGLE_THREADED = "single_threaded", "Single-threaded"


# Defaults come from settings (env), read when a team's row is first created. Named functions
# because migrations serialise callables by import path.
def default_min_idle_days():
    return settings.NUDGES_MIN_IDLE_DAYS


def default_min_urgency():
    return settings.NUDGES_MIN_URGENCY


def default_ghost_factor():
    return settings.NUDGES_GHOST_FACTOR


def default_ghost_min_hours():
    return settings.NUDGES_GHOST_MIN_HOURS


def default_next_step_grace_days():
    return settings.NUDGES_NEXT_STEP_GRACE_DAYS


def default_stalled_in_stage_days():
    return settings.NUDGES_STALLED_IN_STAGE_DAYS


def default_single_threaded_min_amount():
    return settings.NUDGES_SINGLE_THREADED_MIN_AMOUNT


class NudgeSettingsQuerySet(TeamScopedQuerySet):
    pass


class NudgeSettings(models.Model):
    """Warning switches and thresholds for one team, editable by its managers; the row without a
    team is the global default (admins only), which every team without its own row inherits."""

    team = models.OneToOneField(
        Team,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="nudge_settings",
        help_text="Empty: the global default every team without its own settings uses.",
    )
    min_idle_days = models.PositiveSmallIntegerField(
        default=default_min_idle_days, help_text="Idle days before a deal is stale (stages may override)."
    )
    min_urgency = models.FloatField(
        default=default_min_urgency, help_text="Urgency = idle days × amount; must exceed this."
    )
    no_activity_enabled = models.BooleanField(default=True)
    ghosted_enabled = models.BooleanField(default=True)
    ghost_factor = models.FloatField(
        default=default_ghost_factor, help_text="Silent for more than k × the contact's usual reply time."
    )
    ghost_min_hours = models.PositiveIntegerField(
        default=default_ghost_min_hours, help_text="Never call someone ghosted before this many hours."
    )
    next_step_overdue_enabled = models.BooleanField(default=True)
    next_step_grace_days = models.PositiveSmallIntegerField(
        default=default_next_step_grace_days, help_text="Days past the due date before warning."
    )
    stalled_in_stage_enabled = models.BooleanField(default=True)
    stalled_in_stage_days = models.PositiveSmallIntegerField(
        default=default_stalled_in_stage_days, help_text="Days in one stage before warning."
    )
    single_threaded_enabled = models.BooleanField(default=True)
    single_threaded_min_amount = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        default=default_single_threaded_min_amount,
        help_text="Only deals at least this large are flagged for having one engaged contact.",
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    objects = NudgeSettingsQuerySet.as_manager()

    class Meta:
        verbose_name = "nudge settings"
        verbose_name_plural = "nudge settings"
        constraints = [
            models.CheckConstraint(condition=Q(ghost_factor__gt=0), name="nudgesettings_ghost_factor_positive"),
            models.CheckConstraint(condition=Q(min_urgency__gte=0), name="nudgesettings_min_urgency_nonneg"),
            # At most one global default: team ids start at 1, so "no team" indexes as 0.
            models.UniqueConstraint(Coalesce("team", Value(0)), name="nudgesettings_one_global_default"),
        ]

    def __str__(self) -> str:
        return f"Nudge settings for {self.team}" if self.team_id else "Nudge settings: global default"

    @classmethod
    def global_default(cls) -> NudgeSettings:
        """The global default (created from the environment the first time it is asked for)."""
        obj, _ = cls.objects.get_or_create(team=None)
        return obj

    @classmethod
    def for_team(cls, team_id: int) -> NudgeSettings:
        """The team's own settings, else the global default. One query (the team's row sorts first)."""
        found = (
            cls.objects.filter(Q(team_id=team_id) | Q(team__isnull=True))
            .order_by(F("team_id").asc(nulls_last=True))
            .first()
        )
        return found or cls.global_default()

    @classmethod
    def for_teams(cls, team_ids) -> dict[int, NudgeSettings]:
        """{team id: its own settings or the global default} in one query (two the very first time)."""
        rows = list(cls.objects.filter(Q(team_id__in=list(team_ids)) | Q(team__isnull=True)))
        default = next((r for r in rows if r.team_id is None), None) or cls.global_default()
        own = {r.team_id: r for r in rows if r.team_id is not None}
        return {tid: own.get(tid, default) for tid in team_ids}

    @property
    def inherited(self) -> bool:
        return self.team_id is None

    def rule_config(self):
        from nudges.rules import RuleConfig

        return RuleConfig(
            min_idle_days=self.min_idle_days,
            min_urgency=float(self.min_urgency),
            ghost_factor=float(self.ghost_factor),
            ghost_min_hours=self.ghost_min_hours,
            next_step_grace_days=self.next_step_grace_days,
            stalled_in_stage_days=self.stalled_in_stage_days,
            single_threaded_min_amount=float(self.single_threaded_min_amount),
            enabled=frozenset(
                code
                for code, on in (
                    (Warning.NO_ACTIVITY, self.no_activity_enabled),
                    (Warning.GHOSTED, self.ghosted_enabled),
                    (Warning.NEXT_STEP_OVERDUE, self.next_step_overdue_enabled),
                    (Warning.STALLED_IN_STAGE, self.stalled_in_stage_enabled),
                    (Warning.SINGLE_THREADED, self.single_threaded_enabled),
                )
                if on
            ),
        )


class NudgeQuerySet(TeamScopedQuerySet):
    def open(self):
        return self.filter(status=Nudge.Status.OPEN)

    def with_warning(self, code: str):
        # JSON list containment is not portable to SQLite; the warnings column mirrors the list
        # as ",a,b," so a LIKE finds one code on every backend.
        return self.filter(warning_codes__contains=f",{code},")


class Nudge(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        SNOOZED = "snoozed", "Snoozed"
        DISMISSED = "dismissed", "Dismissed"
        EXPIRED = "expired", "No longer stale"

    class Tone(models.TextChoices):
        FORMAL = "formal", "Formal"
        CASUAL = "casual", "Casual"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="nudges")
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="nudges")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    warnings = models.JSONField(default=list, help_text="[{code, label, detail}] behind this nudge.")
    warning_codes = models.CharField(max_length=200, default=",", help_text="',code,code,' for filtering.")
    why_now = models.TextField()
    text = models.CharField(max_length=400, help_text="The short, actionable nudge.")
    urgency = models.FloatField(default=0, help_text="Idle days × amount (the seed's score).")
    idle_days = models.PositiveIntegerField(default=0)
    tone = models.CharField(max_length=10, choices=Tone.choices, default=Tone.FORMAL)
    offline = models.BooleanField(default=True, help_text="Written by the offline writer, not a model.")
    provider = models.CharField(max_length=50, blank=True)
    input_hash = models.CharField(max_length=64, help_text="Regenerate only when the inputs change.")
    flags = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    acted_at = models.DateTimeField(null=True, blank=True)
    acted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=300, blank=True, help_text="Why it was snoozed or dismissed.")
    snoozed_until = models.DateField(null=True, blank=True)

    objects = NudgeQuerySet.as_manager()

    class Meta:
        ordering = ["-urgency", "pk"]
        indexes = [
            # Nudges page: a team's open nudges by urgency.
            models.Index(fields=["team", "status", "-urgency"], name="nudge_team_status_urgency_idx"),
            # The stream resumes after an id within the user's teams.
            models.Index(fields=["team", "id"], name="nudge_team_id_idx", condition=Q(status="open")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["deal"], condition=Q(status="open"), name="nudge_one_open_per_deal"),
        ]

    def __str__(self) -> str:
        return f"Nudge for {self.deal_id}: {self.text[:40]}"

    @property
    def warning_list(self) -> list[str]:
        return [w.get("code", "") for w in self.warnings]

    def close(self, *, status: str, actor, reason: str = "", until=None, now=None) -> None:
        self.status = status
        self.acted_at = now or timezone.now()
        self.acted_by = actor if getattr(actor, "is_authenticated", False) else None
        self.reason = reason
        self.snoozed_until = until
        self.save(update_fields=["status", "acted_at", "acted_by", "reason", "snoozed_until", "updated_at"])


def codes_column(codes) -> str:
    return "," + ",".join(codes) + ("," if codes else "")


class DealSignals(models.Model):
    """A deal's conversation signals, materialised so a scan does not recompute window functions
    over every touch: refreshed incrementally by `nudges.signals.refresh` (deals with activities
    newer than the watermark, or marked dirty by an edit/delete), rebuilt in full by
    `manage.py rebuild_deal_signals`. A deal without a row has no conversation touches."""

    deal = models.OneToOneField(Deal, primary_key=True, on_delete=models.CASCADE, related_name="nudge_signals")
    last_touch_at = models.DateTimeField(null=True, help_text="Last email/call/meeting in either direction.")
    waiting_since = models.DateTimeField(
        null=True, help_text="First of our touches since their last one, when they owe the answer."
    )
    median_reply_hours = models.FloatField(null=True, help_text="Median of their reply gaps on this deal.")
    gap_count = models.PositiveIntegerField(default=0)
    gaps = models.JSONField(default=list, help_text="Their reply gaps in hours, sorted (pooled per contact).")
    engaged_contacts = models.PositiveSmallIntegerField(default=0, help_text="0, 1 or 2 (= two or more).")
    replier_id = models.BigIntegerField(null=True, help_text="A customer contact who wrote to us on this deal.")
    # The usual reply time the rules compare the silence with: the pooled median of the deal's
    # primary contact, else of its replier; valid while the deal's primary contact is still
    # `usual_contact_id` (a scan looks the contact up itself when it changed).
    usual_reply_hours = models.FloatField(null=True)
    usual_contact_id = models.BigIntegerField(null=True)
    watermark = models.BigIntegerField(default=0, help_text="Highest activity id reflected.")
    dirty = models.BooleanField(default=False, help_text="An activity of this deal was edited or deleted.")
    refreshed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "deal signals"
        indexes = [
            models.Index(fields=["replier_id"], name="dealsignals_replier_idx"),
            models.Index(fields=["deal"], name="dealsignals_dirty_idx", condition=Q(dirty=True)),
        ]

    def __str__(self) -> str:
        return f"Signals of deal {self.deal_id}"


class ContactSignals(models.Model):
    """A contact's usual reply time: the median of their reply gaps pooled over all their deals.
    Refreshed with the deals whose signals changed (their old and new repliers)."""

    contact_id = models.BigIntegerField(primary_key=True)
    median_reply_hours = models.FloatField()
    gap_count = models.PositiveIntegerField(default=0)
    deals = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "contact signals"

    def __str__(self) -> str:
        return f"Signals of contact {self.contact_id}"


class SignalsState(models.Model):
    """One row: how far the materialised signals have read the activity table."""

    last_activity_id = models.BigIntegerField(default=0, help_text="Highest activity id at the last refresh.")
    safe_activity_id = models.BigIntegerField(
        default=0, help_text="Highest id at the refresh before: the next refresh re-reads ids above it."
    )
    built_at = models.DateTimeField(null=True, help_text="Last full rebuild.")
    refreshed_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"Signals up to activity {self.last_activity_id}"


# Action plans live in their own module (this one covers nudges); importing them here registers
# them with the `nudges` app.
from nudges.plan_models import (  # noqa: E402, F401
    ContextVersion,
    DealSummary,
    Learning,
    Plan,
    PlanFeedback,
    PlanItem,
    PlanRun,
    PromptTemplate,
)
