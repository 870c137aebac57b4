"""Plans for many deals in one run (bench/plans, and a nightly "plan my pipeline" job).

Per chunk of deals: one query reads every deal with its account, stage, owner, contact, contacts,
last activities and stamps (`nudges.plan_rows`; four on SQLite), the five-input cache is checked for
the whole chunk in one query, summaries are built only for the deals that miss it and only where
their inputs changed (one read, one upsert), the rest go through the gateway's bulk entry
(`llm.ask_many`), and plans and items are stored in bulk (COPY on PostgreSQL).

With a model that has a Batches API, `ask_many` submits the misses as one batch and returns; each
deal then has a pending plan that `on_batch_result` (the feature's @bulk_handler, called by
`llm.collect_batches`) completes. A rerun while the batch runs counts them as in flight instead of
submitting them again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from crm.bulk_copy import copy_rows, insert_objects
from crm.models import Deal
from llm import bulk_handler
from llm.registry import get_provider
from nudges import plan_ai, plan_rows, plans, summary
from nudges.models import DealSummary, Plan, PlanItem

# A pending plan older than this is not waited for: the batch is assumed lost (the Batches API
# answers within 24 hours), so a rerun submits the deal again.
IN_FLIGHT = timedelta(hours=25)


@dataclass
class BulkStats:
    deals: int = 0
    written: int = 0
    cached: int = 0  # fresh plans with the same five inputs: no plan written, no model call
    in_flight: int = 0  # pending plans of a batch still running, with the same five inputs
    submitted: int = 0  # deals sent to a model batch; their plans arrive through on_batch_result
    summaries_rebuilt: int = 0
    model_calls: int = 0  # synchronous model calls (the gateway's reply cache excluded)
    plan_ids: list[int] = field(default_factory=list)


def plan_many(
    *,
    deal_ids: list[int],
    campaign_context: str = "",
    now=None,
    chunk: int = 1000,
    mode: str = "auto",
    on_chunk: Callable[[BulkStats], None] | None = None,
) -> BulkStats:
    """`mode` is the gateway's: "auto" (a batch when the model has a Batches API and there are
    enough misses), "batch" or "sync". `on_chunk(stats)` is called after each chunk is stored, with
    the counts so far (a run's progress, `nudges.plan_runs`); what it raises stops the run there."""
    now = now or timezone.now()
    stats = BulkStats()
    campaign = plans.normal_campaign(campaign_context)
    setups: dict[int, plans.TeamSetup] = {}
    for start in range(0, len(deal_ids), chunk):
        part = deal_ids[start : start + chunk]
        deals = list(plan_rows.annotate(Deal.objects.filter(pk__in=part).select_related(*plans.DEAL_RELATED)))
        deals.sort(key=lambda d: d.pk)
        stats.deals += len(deals)
        rows = plan_rows.rows_for(deals)
        composed = []
        for deal in deals:
            r = rows[deal.pk]
            if deal.team_id not in setups:
                setups[deal.team_id] = plans.team_setup(deal.team_id, r.stamps)
            composed.append(
                plans.compose(deal, campaign_context=campaign, now=now, lazy=True, rows=r, setup=setups[deal.team_id])
            )
        found = dict(
            ((deal_id, key), status)
            for deal_id, key, status in Plan.objects.filter(
                deal_id__in=[c.deal.pk for c in composed], cache_key__in=[c.cache_key for c in composed], in_cache=True
            )
            .filter(
                Q(status=Plan.Status.READY, expires_at__gt=now)
                | Q(status=Plan.Status.PENDING, generated_at__gt=now - IN_FLIGHT)
            )
            .values_list("deal_id", "cache_key", "status")
        )
        todo = []
        for c in composed:
            status = found.get((c.deal.pk, c.cache_key))
            if status == Plan.Status.READY:
                stats.cached += 1
            elif status == Plan.Status.PENDING:
                stats.in_flight += 1
            else:
                todo.append(c)
        if todo:
            _fill(todo, now, stats)
            _write(todo, now, stats, mode)
        if on_chunk is not None:
            on_chunk(stats)
    return stats


def _fill(todo: list[plans.Composed], now, stats: BulkStats) -> None:
    """Summaries (stored ones read in one query, changed ones upserted in one), then inputs and
    system prompts, for the deals that missed the cache."""
    want = {c.deal.pk: c.hashes["summary"] for c in todo}
    stored = {
        deal_id: data
        for deal_id, input_hash, data in DealSummary.objects.filter(deal_id__in=list(want)).values_list(
            "deal_id", "input_hash", "data"
        )
        if input_hash == want[deal_id]
    }
    upserts = []
    for c in todo:
        setup, _, sections, campaign, _, _ = c.pending
        summ = stored.get(c.deal.pk)
        if summ is None:
            summ = summary.summarize(c.data, now, setup.config)
            upserts.append(DealSummary(deal_id=c.deal.pk, input_hash=c.hashes["summary"], data=summ, built_at=now))
        c.summary = summ
        c.inputs = plans.build_inputs(c.data, summ, sections=sections, campaign=campaign, now=now)
        c.system = setup.system(now)
        c.pending = None
    if upserts:
        _upsert_summaries(upserts, now)
        stats.summaries_rebuilt += len(upserts)


def _upsert_summaries(rows: list[DealSummary], now) -> None:
    """One upsert. On PostgreSQL the JSON goes as a text array cast in SQL: `bulk_create` adapted
    each value into a jsonb array in Python, slower than the summaries took to build."""
    if connection.vendor != "postgresql":
        DealSummary.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["deal"], update_fields=["input_hash", "data", "built_at"]
        )
        return
    table = connection.ops.quote_name(DealSummary._meta.db_table)
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {table} (deal_id, input_hash, data, built_at) "  # noqa: S608 - a model's table
            "SELECT d, h, j::jsonb, %s FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS t(d, h, j) "
            "ON CONFLICT (deal_id) DO UPDATE SET input_hash = EXCLUDED.input_hash, data = EXCLUDED.data, "
            "built_at = EXCLUDED.built_at",
            [now, [r.deal_id for r in rows], [r.input_hash for r in rows], [json.dumps(r.data) for r in rows]],
        )


def _write(todo: list[plans.Composed], now, stats: BulkStats, mode: str) -> None:
    by_system: dict[str, list] = {}
    for c in todo:
        by_system.setdefault(c.system, []).append(c)
    # With a Batches API, submission and the pending plans share a transaction, so a collector never
    # sees a batch before its pending plans exist. Without one (offline, synchronous model calls) no
    # transaction is held open across the calls; each chunk's plans are stored in their own.
    may_batch = mode != "sync" and get_provider().supports_batches
    for system, group in by_system.items():
        # The item key names the deal and the five inputs, so a batch result finds its pending plan.
        keyed = {f"{c.deal.pk}:{c.cache_key}": c for c in group}
        with transaction.atomic() if may_batch else nullcontext():
            written, pending = plan_ai.write_plans(
                [(k, c.inputs, c.deal) for k, c in keyed.items()], system=system, mode=mode
            )
            stats.model_calls += sum(
                1 for w in written.values() if not w.provenance.get("offline", True) and not w.provenance.get("cached")
            )
            with transaction.atomic():
                _store([(keyed[k], w) for k, w in written.items()], now, stats)
                if pending:
                    insert_objects(Plan, [plans.pending_plan(keyed[k], now=now) for k in pending], with_ids=True)
                    stats.submitted += len(pending)


def _store(done: list[tuple[plans.Composed, plan_ai.Written]], now, stats: BulkStats) -> None:
    if not done:
        return
    created = insert_objects(Plan, [plans.new_plan(c, w, now=now) for c, w in done], with_ids=True)
    if connection.vendor == "postgresql":
        copy_rows(PlanItem, [v for plan, (_, w) in zip(created, done, strict=True)
                         for v in plans.item_values(w.data["actions"], plan_id=plan.pk)])  # fmt: skip
    else:
        items = [
            i for plan, (_, w) in zip(created, done, strict=True) for i in plans.plan_items(plan, w.data["actions"])
        ]
        PlanItem.objects.bulk_create(items, batch_size=500)
    stats.written += len(created)
    stats.plan_ids.extend(p.pk for p in created)


@bulk_handler(plan_ai.FEATURE)
def on_batch_result(item_key: str, result) -> None:
    """One deal's answer from a model batch: complete its pending plan (idempotent: a plan already
    completed, or gone, is left alone)."""
    deal_id, _, cache_key = item_key.partition(":")
    plan_id = (
        Plan.objects.filter(deal_id=int(deal_id), cache_key=cache_key, status=Plan.Status.PENDING)
        .order_by("-generated_at", "-pk")
        .values_list("pk", flat=True)
        .first()
    )
    if plan_id is not None:
        plans.complete_plan(plan_id, result=result)
