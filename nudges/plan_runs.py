"""Plan my pipeline: plans for the deals a person chose, as one background run.

`start_run` checks who may plan which deals (a manager: any deal of the team they can see; a rep:
their own), chooses the deals once (open deals of the team, filtered by stage, owner, stale only,
limit) and stores them on a `PlanRun`; `carry_out` (the task, or the command in-process) runs
`plan_bulk.plan_many` over them and stores the counts after every chunk, which the console polls
and the API returns. One active run per team: a second start is refused with the reason.

A run resumes where it stopped: `done` counts the deals it got through, so a task that gives its
time back (`budget`) or a redelivered one carries on from there; deals already planned are found
in the five-input cache and cost nothing again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.models import Deal, Stage, Team, is_manager
from nudges import plan_bulk, plans
from nudges.models import Nudge, Plan, PlanRun
from nudges.plan_errors import PlanError

logger = logging.getLogger(__name__)

# A run that stored no chunk for this long is taken as lost (its worker died): a chunk is stored
# every few seconds offline and within a minute with a model (see `chunk_for`), and a task is
# killed after CELERY_TASK_TIME_LIMIT (5 minutes by default).
LOST_AFTER = timedelta(minutes=15)
# Offline, or through a model's Batches API: the bulk path's own chunk (one query per chunk).
BIG_CHUNK = 1000
# Synchronous model calls are made one after another: 10 deals keep a chunk well under a minute,
# so progress moves and a task can give its time back between chunks.
SMALL_CHUNK = 10


@dataclass(frozen=True)
class Choice:
    """What a person asked for, checked: the filters as stored on the run."""

    stage: Stage | None = None
    owner: object | None = None  # a user
    stale_only: bool = False
    limit: int | None = None

    def as_dict(self) -> dict:
        return {
            "stage": self.stage.slug if self.stage else None,
            "owner": self.owner.email or self.owner.get_username() if self.owner else None,
            "stale_only": self.stale_only,
            "limit": self.limit,
        }


def resolve_stage(ref: str | None) -> Stage | None:
    """A stage by slug or name (case-insensitive); PlanError naming the known ones otherwise."""
    ref = (ref or "").strip()
    if not ref:
        return None
    found = Stage.objects.filter(slug=ref).first() or Stage.objects.filter(name__iexact=ref).first()
    if found is None:
        known = ", ".join(Stage.objects.values_list("slug", flat=True)) or "none"
        raise PlanError(f"no stage {ref!r} (known: {known})", field="stage")
    return found


def resolve_owner(ref: str | None, team: Team):
    """A member of the team by email or username; anyone else (or nobody) gets the same refusal."""
    ref = (ref or "").strip()
    if not ref:
        return None
    users = get_user_model().objects.filter(teams=team)
    found = users.filter(email__iexact=ref).first() or users.filter(username=ref).first()
    if found is None:
        raise PlanError(f"{ref!r} is not a member of {team.name}", field="owner")
    return found


def choose_deals(*, team: Team, choice: Choice, user=None, now=None) -> list[int]:
    """Ids of the team's open deals the filters select (visible to `user` when given), biggest
    first, as the deal list orders them."""
    deals = Deal.objects.open().filter(team=team)
    if user is not None:
        deals = deals.visible_to(user)
    if choice.stage is not None:
        deals = deals.filter(stage=choice.stage)
    if choice.owner is not None:
        deals = deals.filter(owner=choice.owner)
    if choice.stale_only:
        # Stale: the deal has an open follow-up nudge (the nudge board's deals, from the last scan).
        deals = deals.filter(pk__in=Nudge.objects.open().filter(team=team).values("deal_id"))
    ids = list(deals.order_by("-amount", "pk").values_list("pk", flat=True))
    return ids[: choice.limit] if choice.limit else ids


def _check_rights(user, choice: Choice) -> Choice:
    """A manager plans any deal they can see; a rep only their own (no owner: theirs)."""
    if user is None or is_manager(user):
        return choice
    if choice.owner is not None and choice.owner.pk != user.pk:
        raise PlanError("reps plan their own deals; only a manager plans another owner's", field="owner")
    return Choice(stage=choice.stage, owner=user, stale_only=choice.stale_only, limit=choice.limit)


def active_run(team: Team, now=None) -> PlanRun | None:
    """The team's queued or running run; one that stored nothing for LOST_AFTER is marked failed
    (its worker was lost) and no longer blocks a new start."""
    now = now or timezone.now()
    run = PlanRun.objects.filter(team=team, status__in=PlanRun.ACTIVE).select_related("started_by").first()
    if run is None:
        return None
    last = run.heartbeat_at or run.started_at or run.created_at
    if last < now - LOST_AFTER:
        PlanRun.objects.filter(pk=run.pk, status__in=PlanRun.ACTIVE).update(
            status=PlanRun.Status.FAILED,
            error=f"stopped: nothing stored for {int(LOST_AFTER.total_seconds() // 60)} minutes (the worker was lost)",
            finished_at=now,
        )
        return None
    return run


def busy(run: PlanRun) -> PlanError:
    who = run.started_by.get_username() if run.started_by else "the command line"
    return PlanError(
        f"a pipeline run is already {run.status} for {run.team.name} (run {run.pk}, started by {who}, "
        f"{run.done} of {run.deals} deals): wait for it to finish",
        code="conflict",
    )


def start_run(
    *,
    team: Team,
    actor=None,
    choice: Choice | None = None,
    campaign_context: str = "",
    mode: str = PlanRun.Mode.AUTO,
    enqueue: bool = True,
    now=None,
) -> PlanRun:
    """Store a queued run over the deals chosen now and (with `enqueue`) queue its task after
    commit. Refused (PlanError) when the team has an active run, the rep asks for another owner's
    deals, or nothing matches."""
    now = now or timezone.now()
    if mode not in PlanRun.Mode.values:
        raise PlanError(f"mode must be one of {', '.join(PlanRun.Mode.values)}", field="mode")
    choice = _check_rights(actor, choice or Choice())
    running = active_run(team, now)
    if running is not None:
        raise busy(running)
    ids = choose_deals(team=team, choice=choice, user=actor, now=now)
    if not ids:
        raise PlanError(f"no open deal of {team.name} matches these filters: nothing to plan")
    try:
        with transaction.atomic():
            run = PlanRun.objects.create(
                team=team,
                started_by=actor if getattr(actor, "is_authenticated", False) else None,
                filters=choice.as_dict(),
                campaign_context=plans.normal_campaign(campaign_context),
                mode=mode,
                deal_ids=ids,
                deals=len(ids),
                created_at=now,
            )
    except IntegrityError:  # another start won the race for the team's one active run
        running = PlanRun.objects.filter(team=team, status__in=PlanRun.ACTIVE).select_related("team").first()
        if running is None:
            raise
        raise busy(running) from None
    if enqueue:
        from nudges.tasks import plan_run_task

        plan_run_task.delay_on_commit(run.pk)
    return run


def chunk_for(mode: str) -> int:
    import llm
    from llm.registry import get_provider

    if llm.provider_name() == "offline" or (mode != PlanRun.Mode.SYNC and get_provider().supports_batches):
        return BIG_CHUNK
    return SMALL_CHUNK


class _Stop(Exception):
    """Raised from the chunk callback: the run was taken away (marked lost) or its time is up."""

    def __init__(self, reason: str):
        self.reason = reason


_COUNTS = ("written", "cached", "in_flight", "submitted", "model_calls")


def carry_out(run_id: int, *, budget: float | None = None, progress=None) -> tuple[PlanRun | None, bool]:
    """Run (or resume) a run: (the run, more to do). Idempotent: a finished or missing run returns
    at once. `budget`: seconds after which the run stops at the next chunk and answers `more`, so
    a task hands over to the next one before its time limit. `progress(done, total)` after each chunk.
    A failure marks the run failed with the reason (the console shows it); it is not raised."""
    now = timezone.now()
    claimed = PlanRun.objects.filter(pk=run_id, status__in=PlanRun.ACTIVE).update(
        status=PlanRun.Status.RUNNING, heartbeat_at=now
    )
    if not claimed:
        return PlanRun.objects.filter(pk=run_id).first(), False
    PlanRun.objects.filter(pk=run_id, started_at__isnull=True).update(started_at=now)
    run = PlanRun.objects.get(pk=run_id)
    todo = run.deal_ids[run.done :]
    chunk = chunk_for(run.mode)
    base = {k: getattr(run, k) for k in (*_COUNTS, "done", "failed")}
    started = time.monotonic()
    chunks = 0

    def on_chunk(stats: plan_bulk.BulkStats) -> None:
        nonlocal chunks
        chunks += 1
        through = min(chunks * chunk, len(todo))
        updated = PlanRun.objects.filter(pk=run_id, status=PlanRun.Status.RUNNING).update(
            done=base["done"] + through,
            failed=base["failed"] + through - stats.deals,  # chosen deals deleted since
            heartbeat_at=timezone.now(),
            **{k: base[k] + getattr(stats, k) for k in _COUNTS},
        )
        if not updated:
            raise _Stop("taken away")
        if progress is not None:
            progress(base["done"] + through, run.deals)
        if budget is not None and through < len(todo) and time.monotonic() - started > budget:
            raise _Stop("time")

    try:
        plan_bulk.plan_many(
            deal_ids=todo, campaign_context=run.campaign_context, chunk=chunk, mode=run.mode, on_chunk=on_chunk
        )
    except _Stop as stop:
        return PlanRun.objects.get(pk=run_id), stop.reason == "time"
    except Exception as exc:  # noqa: BLE001 - any failure is shown on the run with its reason
        logger.exception("plan run %s failed", run_id)
        PlanRun.objects.filter(pk=run_id, status=PlanRun.Status.RUNNING).update(
            status=PlanRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:500], finished_at=timezone.now()
        )
        return PlanRun.objects.get(pk=run_id), False
    PlanRun.objects.filter(pk=run_id, status=PlanRun.Status.RUNNING).update(
        status=PlanRun.Status.DONE, finished_at=timezone.now()
    )
    return PlanRun.objects.get(pk=run_id), False


@dataclass
class Row:
    """One deal of a finished (or running) run with the plan it has for the run's campaign."""

    deal: Deal
    plan: Plan | None
    outcome: str  # written | cached | pending | none


def results(run: PlanRun, *, offset: int = 0, limit: int = 25, now=None) -> list[Row]:
    """The run's deals from `offset` with their plan: written by this run (generated after it
    started), served from the cache (an earlier fresh plan), pending (a model batch), or none yet.
    Two queries per page."""
    ids = run.deal_ids[offset : offset + limit]
    deals = Deal.objects.filter(pk__in=ids).select_related("account", "stage", "owner").in_bulk()
    until = run.finished_at or now or timezone.now()
    newest: dict[int, Plan] = {}
    for plan in (
        Plan.objects.filter(deal_id__in=ids, campaign_context=run.campaign_context, generated_at__lte=until)
        .exclude(status=Plan.Status.FAILED)
        .only("pk", "public_id", "deal_id", "status", "generated_at")
        .order_by("deal_id", "-generated_at", "-pk")
    ):
        newest.setdefault(plan.deal_id, plan)
    rows = []
    for deal_id in ids:
        deal = deals.get(deal_id)
        if deal is None:
            continue
        plan = newest.get(deal_id)
        if plan is None:
            outcome = "none"
        elif plan.status == Plan.Status.PENDING:
            outcome = "pending"
        elif run.started_at and plan.generated_at >= run.started_at:
            outcome = "written"
        else:
            outcome = "cached"
        rows.append(Row(deal, plan, outcome))
    return rows


def budget_seconds() -> float:
    """Half the task's soft time limit: the task hands over to a fresh one well before it."""
    return settings.CELERY_TASK_SOFT_TIME_LIMIT / 2
