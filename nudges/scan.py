"""The stale scan as set-based queries: deal facts and reply-speed signals for many deals at once.

Two statements whatever the number of deals (no per-deal queries):
  1. the open deals with their stage and primary contact;
  2. one pass over their conversation touches (emails, calls, meetings; in or out) in
     (deal, time) order — the order of the `activity_deal_time_idx` index — with a LAG window
     giving each touch the one before it, grouped by deal into: reply gaps (their touch right
     after ours) and their median, `waiting_since` (the first of our touches since their last
     one, when they owe the answer), the last conversation touch, and the engaged contacts.
A contact's usual reply time is the median of their gaps over all their deals: equal to the
deal's own median when the contact is on one deal; a third, small query pools the gaps of
contacts who answered on several deals. On SQLite (no percentile_cont) the medians are taken in
Python from the same window rows. The pure `nudges.rules.evaluate` then decides each deal.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection
from django.utils.dateparse import parse_datetime
from django.utils.timezone import is_naive, make_aware

from crm.models import Activity, Deal
from nudges.rules import DealFacts

A = Activity._meta.db_table
D = Deal._meta.db_table
TOUCH_KINDS = ("email", "call", "meeting")


@dataclass(frozen=True)
class Conversation:
    last_touch_at: datetime | None
    waiting_since: datetime | None
    median_reply_hours: float | None
    gaps: int
    engaged: int
    replier_id: int | None


def _in(values: Iterable) -> tuple[str, list]:
    values = list(values)
    return ", ".join(["%s"] * len(values)), values


def _scope(deal_ids, team_ids, id_range=None) -> tuple[str, list]:
    """SQL restricting `d` (the deal) to open deals in scope."""
    where, params = ["d.status = %s"], [Deal.Status.OPEN]
    if id_range is not None:
        where.append("d.id >= %s AND d.id < %s")
        params += list(id_range)
    if deal_ids is not None:
        sql, p = _in(deal_ids)
        where.append(f"d.id IN ({sql})")
        params += p
    if team_ids is not None:
        sql, p = _in(team_ids)
        where.append(f"d.team_id IN ({sql})")
        params += p
    return " AND ".join(where), params


def _deal_filter(deal_ids, id_range=None) -> tuple[str, list]:
    """The same deal list on the activity side, so a chunk reads its deals' rows by index
    instead of merge-joining the whole table."""
    if id_range is not None and deal_ids is None:
        return "AND a.deal_id >= %s AND a.deal_id < %s", list(id_range)
    if deal_ids is None:
        return "", []
    sql, params = _in(deal_ids)
    return f"AND a.deal_id IN ({sql})", params


def _touches_cte(scope: str, extra: str = "") -> str:
    kinds = ", ".join(f"'{k}'" for k in TOUCH_KINDS)
    return f"""
        WITH e AS (
            SELECT a.deal_id, a.contact_id, a.kind, a.direction, a.occurred_at,
                   LAG(a.direction) OVER w AS prev_dir,
                   LAG(a.occurred_at) OVER w AS prev_at
            FROM {A} a JOIN {D} d ON d.id = a.deal_id
            WHERE a.kind IN ({kinds}) AND a.direction IN ('in', 'out') AND {scope} {extra}
            WINDOW w AS (PARTITION BY a.deal_id ORDER BY a.occurred_at)
        )
    """  # noqa: S608 - only table names, constants and %s placeholders are interpolated


_ROWS = "SELECT deal_id, contact_id, kind, direction, occurred_at, prev_dir, prev_at FROM e"
_GAPS = "SELECT contact_id, occurred_at, prev_at FROM e WHERE direction = 'in' AND prev_dir = 'out' AND contact_id IN "


def _dt(value):
    """SQLite returns datetimes from raw SQL as strings."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return make_aware(value, UTC) if is_naive(value) else value
    parsed = parse_datetime(str(value))
    return make_aware(parsed, UTC) if parsed is not None and is_naive(parsed) else parsed


def _hours(later, earlier) -> float:
    return (later - earlier).total_seconds() / 3600


def conversations(*, deal_ids=None, team_ids=None, id_range=None) -> tuple[dict[int, Conversation], dict[int, float]]:
    """(deal_id -> Conversation, contact_id -> pooled median reply hours), aggregated in Python
    from the window rows: the portable path (SQLite has no percentile_cont)."""
    scope, params = _scope(deal_ids, team_ids, id_range)
    extra, extra_params = _deal_filter(deal_ids, id_range)
    convs = _conversations_in_python(scope + " " + extra, [*params, *extra_params])
    scope, params = scope + " " + extra, [*params, *extra_params]
    return convs, _pooled_medians(convs, scope, params)


def _conversations_in_python(scope: str, params: list) -> dict[int, Conversation]:
    sql = _touches_cte(scope) + _ROWS
    per_deal: dict[int, list] = defaultdict(list)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        for row in cur.fetchall():
            per_deal[row[0]].append(row)
    convs = {}
    for deal_id, rows in per_deal.items():
        last = last_in = last_out_run = replier = None
        gaps: list[float] = []
        engaged = set()
        for _, contact_id, kind, direction, at, prev_dir, prev_at in rows:
            at, prev_at = _dt(at), _dt(prev_at)
            last = at if last is None or at > last else last
            if direction == "in":
                last_in = at if last_in is None or at > last_in else last_in
                replier = contact_id if contact_id is not None else replier
                if prev_dir == "out":
                    gaps.append(_hours(at, prev_at))
            elif prev_dir in (None, "in"):
                last_out_run = at if last_out_run is None or at > last_out_run else last_out_run
            if contact_id is not None and (direction == "in" or kind in ("call", "meeting")):
                engaged.add(contact_id)
        waiting = last_out_run if last_out_run and (last_in is None or last_out_run > last_in) else None
        median = statistics.median(gaps) if gaps else None
        convs[deal_id] = Conversation(last, waiting, median, len(gaps), len(engaged), replier)
    return convs


def _pooled_medians(convs: dict[int, Conversation], scope: str, params: list) -> dict[int, float]:
    """Per contact: their deal's median, or all their gaps pooled when they answered on several deals."""
    by_contact: dict[int, list[int]] = defaultdict(list)
    for deal_id, c in convs.items():
        if c.replier_id is not None and c.gaps:
            by_contact[c.replier_id].append(deal_id)
    medians = {cid: convs[ids[0]].median_reply_hours for cid, ids in by_contact.items() if len(ids) == 1}
    several = [cid for cid, ids in by_contact.items() if len(ids) > 1]
    if several:
        sql, p = _in(several)
        deals_sql, deals_p = _in(d for cid in several for d in by_contact[cid])
        rows_sql = _touches_cte(scope, "AND a.deal_id IN (" + deals_sql + ")") + _GAPS + "(" + sql + ")"
        pooled: dict[int, list[float]] = defaultdict(list)
        with connection.cursor() as cur:
            cur.execute(rows_sql, [*params, *deals_p, *p])
            for cid, at, prev_at in cur.fetchall():
                pooled[cid].append(_hours(_dt(at), _dt(prev_at)))
        medians.update({cid: statistics.median(v) for cid, v in pooled.items()})
    return {cid: float(m) for cid, m in medians.items() if m is not None}


_PG_FACTS = """
    , c AS (
        SELECT deal_id,
               MAX(occurred_at) AS last_touch,
               MAX(occurred_at) FILTER (WHERE direction = 'in') AS last_in,
               MAX(occurred_at) FILTER (WHERE direction = 'out' AND (prev_dir IS NULL OR prev_dir = 'in')) AS last_out_run,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM (occurred_at - prev_at)) / 3600.0)
                   FILTER (WHERE direction = 'in' AND prev_dir = 'out') AS median_h,
               COUNT(*) FILTER (WHERE direction = 'in' AND prev_dir = 'out') AS gaps,
               -- the rules only ask "more than one?": min/max answer it without a per-deal sort
               MIN(contact_id) FILTER (WHERE direction = 'in' OR kind IN ('call', 'meeting')) AS engaged_min,
               MAX(contact_id) FILTER (WHERE direction = 'in' OR kind IN ('call', 'meeting')) AS engaged_max,
               MAX(contact_id) FILTER (WHERE direction = 'in') AS replier
        FROM e GROUP BY deal_id
    )
    SELECT d.id, d.team_id, d.amount::float8, EXTRACT(EPOCH FROM d.last_activity_at)::float8,
           EXTRACT(EPOCH FROM d.created_at)::float8, d.stage_id, EXTRACT(EPOCH FROM d.stage_changed_at)::float8,
           d.next_step_due, d.snoozed_until, d.primary_contact_id, ct.name,
           EXTRACT(EPOCH FROM c.last_touch)::float8, EXTRACT(EPOCH FROM c.last_in)::float8,
           EXTRACT(EPOCH FROM c.last_out_run)::float8, c.median_h, c.gaps,
           CASE WHEN c.engaged_min IS NULL THEN 0 WHEN c.engaged_min = c.engaged_max THEN 1 ELSE 2 END, c.replier
    FROM {D} d
    LEFT JOIN c ON c.deal_id = d.id
    LEFT JOIN {C} ct ON ct.id = d.primary_contact_id
    WHERE {scope}
"""


def _collect_pg(deal_ids, team_ids, id_range=None) -> list[tuple[int, DealFacts]]:
    """One statement, primitive columns (epoch seconds): loading 100,000 rows of datetimes and
    decimals through the ORM costs more than the query itself."""
    from crm.models import Contact, Stage

    scope, params = _scope(deal_ids, team_ids, id_range)
    extra, extra_params = _deal_filter(deal_ids, id_range)
    sql = _touches_cte(scope, extra) + _PG_FACTS.format(D=D, C=Contact._meta.db_table, scope=scope)
    with connection.cursor() as cur:
        cur.execute(sql, [*params, *extra_params, *params])
        rows = cur.fetchall()
    stages = {s.pk: (s.name, s.stale_after_days) for s in Stage.objects.all()}
    convs = {}
    for r in rows:
        if r[16] is not None:  # has touches
            convs[r[0]] = Conversation(None, None, r[14], r[15], r[16], r[17])
    medians = _pooled_medians(convs, scope + " " + extra, [*params, *extra_params])
    fromtimestamp = datetime.fromtimestamp
    out = []
    for (
        deal_id, team_id, amount, last_activity, created, stage_id, stage_changed, next_due, snoozed,
        contact_id, contact_name, last_touch, last_in, last_out_run, _median, _gaps, engaged, replier,
    ) in rows:  # fmt: skip
        waiting = last_out_run if last_out_run and (last_in is None or last_out_run > last_in) else None
        other = last_activity if last_activity and (last_touch is None or last_activity > last_touch) else None
        usual = medians.get(contact_id) if contact_id is not None else None
        if usual is None and replier is not None:
            usual = medians.get(replier)
        stage_name, stale_after = stages.get(stage_id, ("", None))
        out.append(
            (
                team_id,
                DealFacts(
                    deal_id=deal_id,
                    amount=amount or 0.0,
                    last_touch_at=(None if last_activity is None else fromtimestamp(last_activity, UTC)),
                    created_at=(None if created is None else fromtimestamp(created, UTC)),
                    status=Deal.Status.OPEN,
                    stage_name=stage_name,
                    stage_stale_after_days=stale_after,
                    stage_changed_at=(None if stage_changed is None else fromtimestamp(stage_changed, UTC)),
                    next_step_due=next_due,
                    snoozed_until=snoozed,
                    contacts_engaged=engaged or 0,
                    contact_name=contact_name or "",
                    waiting_since=(None if waiting is None else fromtimestamp(waiting, UTC)),
                    usual_reply_hours=usual,
                    last_other_touch_at=(None if other is None else fromtimestamp(other, UTC)),
                ),
            )
        )
    return out


def collect_facts(*, deal_ids=None, team_ids=None, id_range=None) -> list[tuple[int, DealFacts]]:
    """[(team_id, DealFacts)] for the open deals in scope."""
    if connection.vendor == "postgresql":
        return _collect_pg(deal_ids, team_ids, id_range)
    deals = Deal.objects.open()
    if deal_ids is not None:
        deals = deals.filter(id__in=list(deal_ids))
    if team_ids is not None:
        deals = deals.filter(team_id__in=list(team_ids))
    if id_range is not None:
        deals = deals.filter(id__gte=id_range[0], id__lt=id_range[1])
    rows = list(
        deals.values_list(
            "id",
            "team_id",
            "amount",
            "last_activity_at",
            "created_at",
            "status",
            "stage__name",
            "stage__stale_after_days",
            "stage_changed_at",
            "next_step_due",
            "snoozed_until",
            "primary_contact_id",
            "primary_contact__name",
        )
    )
    convs, medians = conversations(deal_ids=deal_ids, team_ids=team_ids, id_range=id_range)
    empty = Conversation(None, None, None, 0, 0, None)
    out = []
    for (
        deal_id,
        team_id,
        amount,
        last_touch,
        created,
        status,
        stage_name,
        stale_after,
        stage_changed,
        next_due,
        snoozed,
        contact_id,
        contact_name,
    ) in rows:
        c = convs.get(deal_id, empty)
        # A note, LinkedIn message etc. after the last conversation touch restarts the silence.
        other = last_touch if last_touch and (c.last_touch_at is None or last_touch > c.last_touch_at) else None
        usual = medians.get(contact_id) if contact_id is not None else None
        if usual is None and c.replier_id is not None:
            usual = medians.get(c.replier_id)
        out.append(
            (
                team_id,
                DealFacts(
                    deal_id=deal_id,
                    amount=float(amount or 0),
                    last_touch_at=last_touch,
                    created_at=created,
                    status=status,
                    stage_name=stage_name,
                    stage_stale_after_days=stale_after,
                    stage_changed_at=stage_changed,
                    next_step_due=next_due,
                    snoozed_until=snoozed,
                    contacts_engaged=c.engaged,
                    contact_name=contact_name or "",
                    waiting_since=c.waiting_since,
                    usual_reply_hours=usual,
                    last_other_touch_at=other,
                ),
            )
        )
    return out


def stale_verdicts(*, team_ids=None, now=None, workers: int = 1) -> tuple[list, int]:
    """The whole stale scan: ([Verdict] that need a nudge, deals checked).

    `workers` > 1 splits the deals into id ranges scanned concurrently, each on its own database
    connection: what the chunked Celery fan-out does across worker processes.
    """
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections
    from django.db.models import Max, Min
    from django.utils import timezone

    from nudges import rules
    from nudges.models import NudgeSettings

    now = now or timezone.now()
    deals = Deal.objects.open()
    if team_ids is not None:
        deals = deals.filter(team_id__in=list(team_ids))
    bounds = deals.aggregate(lo=Min("id"), hi=Max("id"))
    if bounds["lo"] is None:
        return [], 0
    configs: dict[int, rules.RuleConfig] = {}

    def config(team_id):
        if team_id not in configs:
            configs[team_id] = NudgeSettings.for_team(team_id).rule_config()
        return configs[team_id]

    def part(id_range):
        try:
            facts = collect_facts(team_ids=team_ids, id_range=id_range)
            evaluate = rules.evaluate
            return [v for v in (evaluate(f, config(t), now) for t, f in facts) if v.nudge], len(facts)
        finally:
            if workers > 1:
                connections.close_all()

    lo, hi = bounds["lo"], bounds["hi"] + 1
    step = -(-(hi - lo) // workers)
    ranges = [(a, min(a + step, hi)) for a in range(lo, hi, step)]
    for team_id in deals.values_list("team_id", flat=True).distinct():
        config(team_id)  # read settings once, before the threads start
    if workers == 1:
        results = [part(r) for r in ranges]
    else:
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(part, ranges))
    return [v for stale, _ in results for v in stale], sum(n for _, n in results)
