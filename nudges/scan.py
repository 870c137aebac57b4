"""The stale scan as set-based queries: deal facts and reply-speed signals for many deals at once.

A handful of statements per call, whatever the number of deals (no per-deal queries):
  1. the open deals with their stage and primary contact;
  2. per deal: last inbound email, last non-email touch, engaged contacts, and the first of our
     emails still unanswered (`waiting_since`);
  3. per contact: the median time they take to answer us, from reply gaps computed with window
     functions (the same definition as `nudges.metrics.reply_gaps`).
The pure `nudges.rules.evaluate` then decides each deal.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from datetime import UTC, datetime

from django.db import connection
from django.db.models import FloatField
from django.db.models.functions import Cast
from django.utils.dateparse import parse_datetime
from django.utils.timezone import is_naive, make_aware

from crm.models import Activity, Deal
from nudges.rules import DealFacts

A = Activity._meta.db_table
D = Deal._meta.db_table
NON_EMAIL_TOUCHES = tuple(k for k in Activity.MEANINGFUL_KINDS if k != Activity.Kind.EMAIL)


def _in(values: Iterable) -> tuple[str, list]:
    values = list(values)
    return ", ".join(["%s"] * len(values)), values


def _gap_hours_sql() -> str:
    if connection.vendor == "postgresql":
        return "EXTRACT(EPOCH FROM (occurred_at - prev_run_at)) / 3600.0"
    return "(julianday(occurred_at) - julianday(prev_run_at)) * 24.0"


def _scope(deal_ids, team_ids) -> tuple[str, list]:
    """SQL restricting `d` (the deal) to open deals in scope."""
    where, params = ["d.status = %s"], [Deal.Status.OPEN]
    if deal_ids is not None:
        sql, p = _in(deal_ids)
        where.append(f"d.id IN ({sql})")
        params += p
    if team_ids is not None:
        sql, p = _in(team_ids)
        where.append(f"d.team_id IN ({sql})")
        params += p
    return " AND ".join(where), params


def deal_email_facts(*, deal_ids=None, team_ids=None) -> dict[int, tuple]:
    """deal_id -> (last_other_touch_at, engaged_contacts, waiting_since)."""
    scope, params = _scope(deal_ids, team_ids)
    other_sql, other_params = _in(NON_EMAIL_TOUCHES)
    engaged_sql, engaged_params = _in((Activity.Kind.CALL, Activity.Kind.MEETING))
    sql = f"""
        WITH per_deal AS (
            SELECT a.deal_id,
                   MAX(CASE WHEN a.kind = 'email' AND a.direction = 'in' THEN a.occurred_at END) AS last_in,
                   MAX(CASE WHEN a.kind IN ({other_sql}) THEN a.occurred_at END) AS last_other,
                   COUNT(DISTINCT CASE WHEN a.direction = 'in' OR a.kind IN ({engaged_sql})
                                       THEN a.contact_id END) AS engaged
            FROM {A} a JOIN {D} d ON d.id = a.deal_id
            WHERE {scope}
            GROUP BY a.deal_id
        ), waiting AS (
            SELECT a.deal_id, MIN(a.occurred_at) AS waiting_since
            FROM {A} a JOIN per_deal p ON p.deal_id = a.deal_id
            WHERE a.kind = 'email' AND a.direction = 'out' AND (p.last_in IS NULL OR a.occurred_at > p.last_in)
            GROUP BY a.deal_id
        )
        SELECT p.deal_id, p.last_other, p.engaged, w.waiting_since
        FROM per_deal p LEFT JOIN waiting w ON w.deal_id = p.deal_id
    """  # noqa: S608 - only table names and %s placeholders are interpolated
    with connection.cursor() as cur:
        cur.execute(sql, [*other_params, *engaged_params, *params])
        rows = cur.fetchall()
    return {deal_id: (_dt(last_other), engaged, _dt(waiting)) for deal_id, last_other, engaged, waiting in rows}


def contact_reply_medians(*, contact_ids=None) -> dict[int, float]:
    """contact_id -> median hours they take to answer the first of our unanswered emails."""
    scope, params = "", []
    if contact_ids is not None:
        contact_ids = [c for c in contact_ids if c is not None]
        if not contact_ids:
            return {}
        sql, params = _in(contact_ids)
        scope = f"AND a.deal_id IN (SELECT DISTINCT deal_id FROM {A} WHERE contact_id IN ({sql}))"  # noqa: S608
    runs = f"""
        WITH e AS (
            SELECT a.id, a.deal_id, a.thread_id, a.contact_id, a.direction, a.occurred_at,
                   LAG(a.direction) OVER (PARTITION BY a.deal_id, a.thread_id ORDER BY a.occurred_at, a.id) AS prev_dir
            FROM {A} a
            WHERE a.kind = 'email' AND a.direction IN ('in', 'out') AND a.deal_id IS NOT NULL {scope}
        ), runs AS (
            SELECT contact_id, direction, occurred_at,
                   LAG(direction) OVER (PARTITION BY deal_id, thread_id ORDER BY occurred_at, id) AS prev_run_dir,
                   LAG(occurred_at) OVER (PARTITION BY deal_id, thread_id ORDER BY occurred_at, id) AS prev_run_at
            FROM e
            WHERE prev_dir IS NULL OR prev_dir <> direction
        )
    """  # noqa: S608
    gap = _gap_hours_sql()
    where = "direction = 'in' AND prev_run_dir = 'out' AND contact_id IS NOT NULL"
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            median_sql = f"SELECT contact_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY {gap}) FROM runs"  # noqa: S608
            cur.execute(f"{runs} {median_sql} WHERE {where} GROUP BY contact_id", params)
            return {cid: float(h) for cid, h in cur.fetchall()}
        cur.execute(runs + f"SELECT contact_id, {gap} FROM runs WHERE {where}", params)  # noqa: S608
        gaps: dict[int, list[float]] = {}
        for cid, hours in cur.fetchall():
            gaps.setdefault(cid, []).append(float(hours))
    return {cid: statistics.median(v) for cid, v in gaps.items()}


def _dt(value):
    """SQLite returns aggregates over datetimes as strings."""
    if value is None or isinstance(value, datetime):
        return value
    parsed = parse_datetime(str(value))
    return make_aware(parsed, UTC) if parsed is not None and is_naive(parsed) else parsed


def collect_facts(*, deal_ids=None, team_ids=None) -> list[tuple[int, DealFacts]]:
    """[(team_id, DealFacts)] for the open deals in scope."""
    deals = Deal.objects.open()
    if deal_ids is not None:
        deals = deals.filter(id__in=list(deal_ids))
    if team_ids is not None:
        deals = deals.filter(team_id__in=list(team_ids))
    rows = deals.annotate(amount_f=Cast("amount", FloatField())).values_list(
        "id",
        "team_id",
        "amount_f",
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
    rows = list(rows)
    email = deal_email_facts(deal_ids=deal_ids, team_ids=team_ids)
    contact_scope = None if deal_ids is None and team_ids is None else {r[11] for r in rows}
    medians = contact_reply_medians(contact_ids=contact_scope)
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
        last_other, engaged, waiting = email.get(deal_id, (None, 0, None))
        out.append(
            (
                team_id,
                DealFacts(
                    deal_id=deal_id,
                    amount=amount or 0.0,
                    last_touch_at=last_touch,
                    created_at=created,
                    status=status,
                    stage_name=stage_name,
                    stage_stale_after_days=stale_after,
                    stage_changed_at=stage_changed,
                    next_step_due=next_due,
                    snoozed_until=snoozed,
                    contacts_engaged=engaged,
                    contact_name=contact_name or "",
                    waiting_since=waiting,
                    usual_reply_hours=medians.get(contact_id),
                    last_other_touch_at=last_other,
                ),
            )
        )
    return out
