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
import uuid
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
    lanes: int | None = None,
    now=None,
) -> PlanRun:
    """Store a queued run over the deals chosen now and (with `enqueue`) queue its task after
    commit; its deals are cut into `lanes` slices (default: `lanes_for`), planned side by side. Refused (PlanError) when the team has an active run, the rep asks for another owner's
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
                lanes=lanes or lanes_for(len(ids), mode, in_process=not enqueue),
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


def lanes_for(deals: int, mode: str, *, in_process: bool) -> int:
    """How many slices a run's deals are cut into: one in-process (the command, or tasks run eagerly
    with no broker), else PLANS_RUN_LANES, but never a lane of less than one chunk."""
    if in_process or settings.CELERY_TASK_ALWAYS_EAGER:
        return 1
    return max(1, min(settings.PLANS_RUN_LANES, -(-deals // chunk_for(mode))))


def lane_bounds(run: PlanRun) -> list[tuple[int, int]]:
    """Each lane's [start, end) in `run.deal_ids`: contiguous slices of (nearly) equal size."""
    n, lanes = len(run.deal_ids), max(1, run.lanes)
    step = -(-n // lanes)
    return [(min(n, k * step), min(n, (k + 1) * step)) for k in range(lanes)]


def _lane_done(run: PlanRun) -> list[int]:
    # Runs stored before lanes existed have one lane and only `done`.
    return list(run.lane_done) if run.lane_done else [run.done] + [0] * (max(1, run.lanes) - 1)


class _Stop(Exception):
    """Raised from the chunk callback: the run was taken away (marked lost, failed by another lane,
    or this lane taken over by a redelivered copy of its task) or its time is up."""

    def __init__(self, reason: str):
        self.reason = reason


_COUNTS = ("written", "cached", "in_flight", "submitted", "model_calls")


def _claim(run_id: int, lanes: list[int] | None, holder: str, now) -> PlanRun | None:
    """Mark the run running and `holder` as the task of `lanes` (all when None); None when the run
    is finished, failed or gone."""
    with transaction.atomic():
        run = PlanRun.objects.select_for_update().filter(pk=run_id, status__in=PlanRun.ACTIVE).first()
        if run is None:
            return None
        run.status, run.heartbeat_at = PlanRun.Status.RUNNING, now
        run.started_at = run.started_at or now
        tasks = list(run.lane_tasks) + [""] * (run.lanes - len(run.lane_tasks))
        for k in range(run.lanes) if lanes is None else lanes:
            tasks[k] = holder
        run.lane_tasks = tasks
        run.lane_done = _lane_done(run)
        run.save(update_fields=["status", "heartbeat_at", "started_at", "lane_tasks", "lane_done"])
        return run


def _record(run_id: int, lane: int, holder: str, through: int, delta: dict[str, int]) -> PlanRun:
    """Add one chunk's counts under the run's row lock; _Stop when the run or the lane is no
    longer this task's."""
    with transaction.atomic():
        run = PlanRun.objects.select_for_update().filter(pk=run_id, status=PlanRun.Status.RUNNING).first()
        if run is None or run.lane_tasks[lane] != holder:
            raise _Stop("taken away")
        lane_done = _lane_done(run)
        lane_done[lane] += through
        run.lane_done = lane_done
        run.done += through
        run.failed += through - delta["deals"]  # chosen deals deleted since
        for k in _COUNTS:
            setattr(run, k, getattr(run, k) + delta[k])
        run.heartbeat_at = timezone.now()
        run.save(update_fields=["lane_done", "done", "failed", "heartbeat_at", *_COUNTS])
        return run


def _finish_if_complete(run_id: int) -> PlanRun | None:
    """The last lane to finish marks the run done."""
    with transaction.atomic():
        run = PlanRun.objects.select_for_update().filter(pk=run_id).first()
        if run is not None and run.status == PlanRun.Status.RUNNING:
            bounds = lane_bounds(run)
            if all(done >= end - start for done, (start, end) in zip(_lane_done(run), bounds, strict=True)):
                run.status, run.finished_at = PlanRun.Status.DONE, timezone.now()
                run.save(update_fields=["status", "finished_at"])
        return run


def carry_out(
    run_id: int, *, lane: int | None = None, holder: str = "", budget: float | None = None, progress=None
) -> tuple[PlanRun | None, bool]:
    """Run (or resume) one lane of a run, or every lane in turn (`lane` None: the command, one
    task): (the run, more to do). Idempotent: a finished or missing run returns at once, and a lane
    resumes where it stopped. `holder` names the task holding the lane; a copy of it that was
    redelivered takes the lane over and this one stops at its next chunk. `budget`: seconds after
    which the lane stops at the next chunk and answers `more`, so a task hands over to the next one
    before its time limit. `progress(done, total)` after each chunk, over all lanes. A failure marks
    the run failed with the reason (the console shows it; the other lanes stop); it is not raised."""
    holder = holder or f"inline-{uuid.uuid4().hex[:12]}"
    run = _claim(run_id, None if lane is None else [lane], holder, timezone.now())
    if run is None:
        return PlanRun.objects.filter(pk=run_id).first(), False
    bounds = lane_bounds(run)
    chunk = chunk_for(run.mode)
    started = time.monotonic()
    for k in range(run.lanes) if lane is None else [lane]:
        start, end = bounds[k]
        todo = run.deal_ids[start + _lane_done(run)[k] : end]
        if not todo:
            continue
        seen = dict.fromkeys(("deals", *_COUNTS), 0)
        chunks = 0

        def on_chunk(stats: plan_bulk.BulkStats, k=k, todo=todo, seen=seen) -> None:
            nonlocal chunks
            chunks += 1
            through = min(chunks * chunk, len(todo)) - min((chunks - 1) * chunk, len(todo))
            now_counts = {name: getattr(stats, name) for name in seen}
            delta = {name: now_counts[name] - seen[name] for name in seen}
            seen.update(now_counts)
            stored = _record(run_id, k, holder, through, delta)
            if progress is not None:
                progress(stored.done, stored.deals)
            if budget is not None and chunks * chunk < len(todo) and time.monotonic() - started > budget:
                raise _Stop("time")

        try:
            plan_bulk.plan_many(
                deal_ids=todo, campaign_context=run.campaign_context, chunk=chunk, mode=run.mode, on_chunk=on_chunk
            )
        except _Stop as stop:
            return PlanRun.objects.get(pk=run_id), stop.reason == "time"
        except Exception as exc:  # noqa: BLE001 - any failure is shown on the run with its reason
            logger.exception("plan run %s failed (lane %s)", run_id, k)
            PlanRun.objects.filter(pk=run_id, status=PlanRun.Status.RUNNING).update(
                status=PlanRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:500], finished_at=timezone.now()
            )
            return PlanRun.objects.get(pk=run_id), False
    return _finish_if_complete(run_id), False


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
