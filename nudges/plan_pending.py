"""Plans written elsewhere than in the request: a pending row with the five hashes, then filled by
a task (`complete_plan`, the console with a model) or by a model batch's answer
(`complete_from_result`, through `plan_bulk.on_batch_result`), idempotently."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Subquery
from django.utils import timezone

from crm.models import Contact, Deal
from nudges import plan_ai, plans
from nudges.models import Plan, PlanItem
from nudges.plan_errors import PlanError


def pending_plan(composed: plans.Composed, *, now, actor=None) -> Plan:
    """The unsaved row of a plan being written elsewhere (a task, a model batch), with its five
    hashes; `expires_at=now`, so it is never served from the cache before `complete_plan`. A
    filled `composed` (a batch submission) also keeps the inputs the model is given, with their
    summary: `complete_from_result` needs nothing else."""
    h = composed.hashes
    filled = composed.pending is None
    return Plan(
        team_id=composed.deal.team_id, deal=composed.deal, status=Plan.Status.PENDING,
        campaign_context=composed.campaign, cache_key=composed.cache_key, deal_hash=h["deal"],
        summary_hash=h["summary"], prompt_hash=h["prompt"], context_hash=h["context"], campaign_hash=h["campaign"],
        context_version=composed.version, template=composed.template, generated_at=now, expires_at=now,
        summary=composed.summary if filled else {}, inputs=composed.inputs if filled else None,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )  # fmt: skip


def request_plan(
    *, deal: Deal, actor=None, campaign_context: str = "", force_refresh: bool = False, template_text: str | None = None
):
    """The console's and the API's entry: (plan, cached). Offline, the plan is written at once; with
    a model, a cache miss stores a pending row that `complete_plan` (a task: the caller queues
    `generate_plan_task` for a pending plan) fills while the page or the client polls, so a web
    request never waits on a model. A one-off `template_text` rides on the pending row until then."""
    import llm

    if llm.provider_name() == "offline":
        return plans.plan_for_deal(
            deal=deal, actor=actor, campaign_context=campaign_context, force_refresh=force_refresh,
            template_text=template_text,
        )  # fmt: skip
    now = timezone.now()
    composed = plans.compose(deal, campaign_context=campaign_context, template_text=template_text, now=now, lazy=True)
    if not force_refresh:
        hit = plans.cached_plan(composed.cache_key, deal.pk, now, composed.candidates)
        if hit is not None:
            return hit, True
    plan = pending_plan(composed, now=now, actor=actor)
    asked = {ONE_OFF_TEMPLATE: template_text, FORCE_REFRESH: force_refresh}
    plan.provenance = {k: v for k, v in asked.items() if v}
    plan.save()
    return plan, False


# What a pending plan carries to `complete_plan` besides its ids (the written plan's provenance
# replaces it): a one-off prompt template, and force_refresh (past the gateway's reply cache too).
ONE_OFF_TEMPLATE = "prompt_template"
FORCE_REFRESH = "force_refresh"


_HASH_FIELDS = ["cache_key", "deal_hash", "summary_hash", "prompt_hash", "context_hash", "campaign_hash",
                "context_version", "template"]  # fmt: skip


def complete_plan(plan_id: int, *, force_refresh: bool = False, result=None) -> Plan | None:
    """Write a pending plan; idempotent (a plan that is gone, ready or failed is left alone).
    `result`: the model's answer from a batch (`plan_bulk.on_batch_result`); the plan keeps the
    five hashes it was submitted with (what the model saw), so if the deal changed meanwhile the
    next request misses the cache. Held to the rules against the inputs the model saw when the
    pending row kept them (`complete_from_result`), else against the deal's current inputs.
    Without `result` the plan is written now, from the current inputs."""
    plan = Plan.objects.filter(pk=plan_id, status=Plan.Status.PENDING).first()
    if plan is None:
        return None
    if result is not None and plan.inputs is not None:
        if not complete_from_result(plan.pk, plan.inputs, result, deal_id=plan.deal_id):
            return None
        plan.refresh_from_db()
        return plan
    asked = plan.provenance or {}
    force_refresh = force_refresh or bool(asked.get(FORCE_REFRESH))
    try:
        composed = plans.compose(
            plans.resolve_deal(plan.deal_id),
            campaign_context=plan.campaign_context,
            template_text=asked.get(ONE_OFF_TEMPLATE),
        )
        if result is None:
            written = plan_ai.write_plan(
                composed.inputs, system=composed.system, force_refresh=force_refresh, about=plan.deal
            )
        else:
            written = plan_ai.written_from(result, composed.inputs)
    except PlanError as exc:
        Plan.objects.filter(pk=plan_id, status=Plan.Status.PENDING).update(
            status=Plan.Status.FAILED, error=exc.message[:300]
        )
        return None
    now = timezone.now()
    row = plans.new_plan(composed, written, now=now)
    fields = ["situation", "summary", "provenance", "generated_at", "expires_at"]
    if result is None:
        fields += _HASH_FIELDS
    with transaction.atomic():
        claimed = Plan.objects.filter(pk=plan_id, status=Plan.Status.PENDING).update(
            status=Plan.Status.READY, inputs=None, **{f: getattr(row, f) for f in fields}
        )
        if claimed != 1:
            return None
        plan.refresh_from_db()
        PlanItem.objects.bulk_create(plans.plan_items(plan, written.data["actions"]))
    return plan


def complete_from_result(plan_id: int, inputs: dict, result, *, deal_id: int) -> bool:
    """Complete a pending plan from a batch answer and the inputs the model was given (kept on the
    pending row): held to the rules by `enforce` against those inputs, so nothing is rebuilt from
    the deal, and the plan stays consistent with the five hashes it carries (a deal that changed
    meanwhile misses the cache next time). One thing is read again: who opted out since, so the
    plan never proposes contacting them. One statement on PostgreSQL (claim pending -> ready,
    insert the items); False if it was no longer pending."""
    gone = set(
        Contact.objects.filter(
            account_id=Subquery(Deal.objects.filter(pk=deal_id).values("account_id")), opted_out=True
        ).values_list("name", flat=True)
    )
    if gone.intersection(c["name"] for c in inputs.get("contacts") or []):
        inputs = {**inputs, "contacts": [c for c in inputs["contacts"] if c["name"] not in gone]}
    written = plan_ai.written_from(result, inputs)
    now = timezone.now()
    values = {
        "status": Plan.Status.READY,
        "situation": written.data.get("situation") or {},
        "summary": inputs.get("summary") or {},
        "provenance": {**(written.provenance or {}), "fixes": written.fixes},
        "generated_at": now,
        "expires_at": now + timedelta(minutes=settings.PLANS_CACHE_TTL_MINUTES),
        "inputs": None,
    }
    items = plans.item_values(written.data["actions"])
    if connection.vendor == "postgresql":
        return _claim_with_items(plan_id, values, items)
    with transaction.atomic():
        if Plan.objects.filter(pk=plan_id, status=Plan.Status.PENDING).update(**values) != 1:
            return False
        PlanItem.objects.bulk_create([PlanItem(plan_id=plan_id, **v) for v in items])
    return True


def _claim_with_items(plan_id: int, values: dict, items: list[dict]) -> bool:
    """PostgreSQL: `UPDATE ... WHERE status = pending RETURNING` in a WITH feeding the items'
    INSERT, so the claim and the items are one atomic statement (no items when not claimed)."""
    fields = [Plan._meta.get_field(name) for name in values]
    q = connection.ops.quote_name
    sets = ", ".join(f"{q(f.column)} = %s::{f.db_type(connection)}" for f in fields)
    items_sql, item_params = plans.items_insert_sql(items)
    sql = (
        f"WITH p AS (UPDATE {q(Plan._meta.db_table)} SET {sets} WHERE id = %s AND status = %s RETURNING id), "  # noqa: S608 - names from the models
        f"{items_sql} SELECT id FROM p"
    )
    params = [f.get_db_prep_save(values[f.name], connection) for f in fields] + [plan_id, Plan.Status.PENDING]
    with connection.cursor() as cur:
        cur.execute(sql, params + item_params)
        return cur.fetchone() is not None
