"""Stale-deal rules, pure: which deals need a nudge now, which warnings fired, and why.

The seed's rule is the default: idle ≥ 7 days and urgency = idle_days × amount_eur > 250. A stage
with `stale_after_days` replaces the 7 for deals in it. Never a nudge for won or lost deals, while
a snooze is active, or while a next step is scheduled in the future: sales teams ignore flags that
ignore a known plan or a known reason for the pause.

Warnings that open a nudge: no activity, ghosted, next step overdue, stalled in stage.
Single-threaded only qualifies a nudge that another warning opened (otherwise every one-contact
deal would be nagged forever).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from nudges import metrics

NO_ACTIVITY = "no_activity"
GHOSTED = "ghosted"
NEXT_STEP_OVERDUE = "next_step_overdue"
STALLED_IN_STAGE = "stalled_in_stage"
SINGLE_THREADED = "single_threaded"
ALL_WARNINGS = frozenset({NO_ACTIVITY, GHOSTED, NEXT_STEP_OVERDUE, STALLED_IN_STAGE, SINGLE_THREADED})
TRIGGERS = (NO_ACTIVITY, GHOSTED, NEXT_STEP_OVERDUE, STALLED_IN_STAGE)
LABELS = {
    NO_ACTIVITY: "No activity",
    GHOSTED: "Ghosted",
    NEXT_STEP_OVERDUE: "Next step overdue",
    STALLED_IN_STAGE: "Stalled in stage",
    SINGLE_THREADED: "Single-threaded",
}


@dataclass(frozen=True)
class RuleConfig:
    min_idle_days: int = 7
    min_urgency: float = 250.0
    ghost_factor: float = 3.0
    ghost_min_hours: float = 48
    next_step_grace_days: int = 0
    stalled_in_stage_days: int = 30
    single_threaded_min_amount: float = 10000
    enabled: frozenset = ALL_WARNINGS


@dataclass(slots=True)  # not frozen: a scan builds 100,000 of these and frozen __init__ is 3x slower
class DealFacts:
    deal_id: int
    amount: float
    last_touch_at: datetime | None
    created_at: datetime
    status: str = "open"
    stage_name: str = ""
    stage_stale_after_days: int | None = None
    stage_changed_at: datetime | None = None
    next_step_due: date | None = None
    snoozed_until: date | None = None
    contacts_engaged: int = 0
    contact_name: str = ""
    # Email signals (from metrics): when we started waiting for their answer, their usual time.
    waiting_since: datetime | None = None
    usual_reply_hours: float | None = None
    # A call, meeting or note after our unanswered email restarts the silence clock: the rep
    # already followed up another way (e.g. marked a nudge done).
    last_other_touch_at: datetime | None = None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _hours_text(hours: float) -> str:
    if hours < 36:
        return _plural(max(1, round(hours)), "hour")
    return _plural(round(hours / 24), "day")


@dataclass(slots=True)
class Finding:
    """One warning. Its text is built on demand: a scan decides 100,000 deals but only the
    nudges it writes need words."""

    code: str
    args: tuple = ()

    @property
    def label(self) -> str:
        return LABELS[self.code]

    @property
    def detail(self) -> str:
        a = self.args
        if self.code == NO_ACTIVITY:
            idle, stage, stage_days, global_days = a
            expects = (
                f"where this stage expects {stage_days}" if stage_days else f"past the {global_days}-day threshold"
            )
            return f"idle {_plural(idle, 'day')} in {stage} {expects}"
        if self.code == GHOSTED:
            who, usual, silent = a
            return f"{who} usually answers within {_hours_text(usual)} and has been silent for {_hours_text(silent)}"
        if self.code == NEXT_STEP_OVERDUE:
            return f"next step was due {_plural(a[0], 'day')} ago"
        if self.code == STALLED_IN_STAGE:
            return f"{_plural(a[0], 'day')} in {a[1]}"
        return "only one contact ever engaged" if a[0] else "nobody at the customer has engaged yet"

    def as_dict(self) -> dict:
        return {"code": self.code, "label": self.label, "detail": self.detail}


_SKIP_TEXTS = {
    "closed": lambda a: f"deal is {a[0]}",
    "snoozed": lambda a: f"snoozed until {a[0]}",
    "scheduled": lambda a: f"next step scheduled for {a[0]}",
    "idle": lambda a: f"idle {a[0]} of {a[1]} days",
    "urgency": lambda a: f"urgency {a[0]:.0f} not above {a[1]:.0f}",
}


@dataclass(slots=True)
class Verdict:
    deal_id: int
    nudge: bool
    idle_days: int
    urgency: float
    threshold_days: int
    warnings: tuple[Finding, ...] = ()
    # Why there is no nudge, as (code, args): worded on demand (`skip`), since a scan decides
    # 100,000 deals and reads few reasons.
    skip_code: tuple = ()

    @property
    def skip(self) -> str:
        return _SKIP_TEXTS[self.skip_code[0]](self.skip_code[1:]) if self.skip_code else ""

    @property
    def codes(self) -> list[str]:
        return [w.code for w in self.warnings]

    @property
    def reason(self) -> str:
        """Why there is no nudge, or the "why now" text when there is."""
        if not self.nudge:
            return self.skip
        why = "; ".join(f.detail for f in self.warnings)
        return why[0].upper() + why[1:]


def idle_days(last_touch_at: datetime | None, created_at: datetime, now: datetime) -> int:
    """Whole days since the last meaningful touch (or creation when never touched)."""
    since = last_touch_at or created_at
    return max(0, (now - since).days)


def urgency(idle: int, amount: float) -> float:
    return float(idle) * float(amount)


def evaluate(facts: DealFacts, config: RuleConfig, now: datetime) -> Verdict:
    # Hot path: a scan calls this for every open deal (100,000 at bench size), so it reads each
    # fact once into a local and builds texts only on demand.
    today = now.date()
    deal_id = facts.deal_id
    idle = (now - (facts.last_touch_at or facts.created_at)).days
    if idle < 0:
        idle = 0
    score = float(idle) * facts.amount
    stage_days = facts.stage_stale_after_days
    threshold = stage_days or config.min_idle_days

    if facts.status != "open":
        return Verdict(deal_id, False, idle, score, threshold, (), ("closed", facts.status))
    snoozed = facts.snoozed_until
    if snoozed and snoozed > today:
        return Verdict(deal_id, False, idle, score, threshold, (), ("snoozed", snoozed))
    due = facts.next_step_due
    if due and due >= today:
        return Verdict(deal_id, False, idle, score, threshold, (), ("scheduled", due))

    on = config.enabled
    found: list[Finding] = []
    stage = facts.stage_name or "this stage"
    if idle >= threshold and score > config.min_urgency and NO_ACTIVITY in on:
        found.append(Finding(NO_ACTIVITY, (idle, stage, stage_days, config.min_idle_days)))
    waiting = facts.waiting_since
    if waiting is not None and GHOSTED in on:
        other = facts.last_other_touch_at
        if other is not None and other > waiting:
            waiting = other
        ghost = metrics.ghosted(
            waiting_since=waiting,
            usual_hours=facts.usual_reply_hours,
            now=now,
            factor=config.ghost_factor,
            min_hours=config.ghost_min_hours,
        )
        if ghost.ghosted:
            who = facts.contact_name.split()[0] if facts.contact_name else "the buyer"
            found.append(Finding(GHOSTED, (who, ghost.usual_hours, ghost.silent_hours)))
    if due is not None and NEXT_STEP_OVERDUE in on:
        late = (today - due).days
        if late > config.next_step_grace_days:
            found.append(Finding(NEXT_STEP_OVERDUE, (late,)))
    changed = facts.stage_changed_at
    if changed is not None and STALLED_IN_STAGE in on:
        in_stage = (now - changed).days
        if in_stage >= config.stalled_in_stage_days:
            found.append(Finding(STALLED_IN_STAGE, (in_stage, stage)))
    if not found:
        skip = ("idle", idle, threshold) if idle < threshold else ("urgency", score, config.min_urgency)
        return Verdict(deal_id, False, idle, score, threshold, (), skip)
    engaged = facts.contacts_engaged
    if engaged <= 1 and facts.amount >= config.single_threaded_min_amount and SINGLE_THREADED in on:
        found.append(Finding(SINGLE_THREADED, (engaged,)))
    return Verdict(deal_id, True, idle, score, threshold, tuple(found))
