"""Plans for many deals in one run (bench/plans, and a nightly "plan my pipeline" job).

Per chunk of deals: four queries gather every deal's data (deals with their account, stage, owner
and contact; the accounts' contacts; the deals' activities; stored summaries), summaries are
rebuilt only where their inputs changed (one upsert), the five-input cache is checked for the whole
chunk in one query, the rest go through the gateway's bulk entry (`llm.ask_many`), and plans and
items are stored with two bulk inserts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from crm.models import Activity, Contact, Deal
from nudges import context, plan_ai, plans, summary
from nudges.models import DealSummary, NudgeSettings, Plan, PlanItem
from nudges.plan_prompts import PLAN_PROMPT


@dataclass
class BulkStats:
    deals: int = 0
    written: int = 0
    cached: int = 0
    summaries_rebuilt: int = 0
    model_calls: int = 0
    plan_ids: list[int] = field(default_factory=list)


def _timelines(deal_ids: list[int]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = defaultdict(list)
    rows = (
        Activity.objects.filter(deal_id__in=deal_ids)
        .order_by("deal_id", "-occurred_at", "-pk")
        .values(*summary.ACTIVITY_FIELDS)
    )
    for row in rows.iterator(chunk_size=5000):
        timeline = out[row["deal_id"]]
        if len(timeline) < summary.TIMELINE_LIMIT:
            timeline.append(row)
    return out


def plan_many(*, deal_ids: list[int], campaign_context: str = "", now=None, chunk: int = 1000) -> BulkStats:
    now = now or timezone.now()
    stats = BulkStats()
    campaign = " ".join((campaign_context or "").split())[:500]
    team_setup: dict[int, tuple] = {}
    for start in range(0, len(deal_ids), chunk):
        part = deal_ids[start : start + chunk]
        deals = list(Deal.objects.filter(pk__in=part).select_related(*plans.DEAL_RELATED).order_by("pk"))
        stats.deals += len(deals)
        contacts: dict[int, list[dict]] = defaultdict(list)
        for c in (
            Contact.objects.filter(account_id__in={d.account_id for d in deals})
            .order_by("pk")
            .values(*summary.CONTACT_FIELDS)
        ):
            contacts[c["account_id"]].append(c)
        timelines = _timelines([d.pk for d in deals])
        stored = {s.deal_id: s for s in DealSummary.objects.filter(deal_id__in=[d.pk for d in deals])}
        composed, upserts = [], []
        for deal in deals:
            if deal.team_id not in team_setup:
                version = context.current(deal.team_id)
                body, template = plans.template_for(deal.team_id)
                team_setup[deal.team_id] = (
                    version,
                    template,
                    plans.system_prompt(
                        body, title=version.title, version=version.version, sections=version.sections, now=now
                    ),
                    summary.digest([body, PLAN_PROMPT]),
                    NudgeSettings.for_team(deal.team_id).rule_config(),
                )
            version, template, system, prompt_hash, config = team_setup[deal.team_id]
            data = summary.assemble(deal, contacts[deal.account_id][:50], timelines.get(deal.pk, []))
            input_hash = summary.summary_input_hash(data, now, config)
            old = stored.get(deal.pk)
            if old is not None and old.input_hash == input_hash:
                summ = old.data
            else:
                summ = summary.summarize(data, now, config)
                upserts.append(DealSummary(deal_id=deal.pk, input_hash=input_hash, data=summ, built_at=now))
            hashes = {
                "deal": summary.digest(data),
                "summary": input_hash,
                "prompt": prompt_hash,
                "context": version.content_hash,
                "campaign": summary.digest(campaign),
            }
            inputs = plans.build_inputs(data, summ, sections=version.sections, campaign=campaign, now=now)
            composed.append(plans.Composed(deal, data, summ, inputs, system, hashes, version, template))
        if upserts:
            DealSummary.objects.bulk_create(
                upserts,
                update_conflicts=True,
                unique_fields=["deal"],
                update_fields=["input_hash", "data", "built_at"],
            )
            stats.summaries_rebuilt += len(upserts)
        hits = set(
            Plan.objects.fresh(now)
            .filter(deal_id__in=[c.deal.pk for c in composed], status=Plan.Status.READY)
            .filter(cache_key__in=[c.cache_key for c in composed])
            .values_list("deal_id", "cache_key")
        )
        todo = [c for c in composed if (c.deal.pk, c.cache_key) not in hits]
        stats.cached += len(composed) - len(todo)
        by_system: dict[str, list] = defaultdict(list)
        for c in todo:
            by_system[c.system].append(c)
        written = {}
        for system, group in by_system.items():
            written.update(plan_ai.write_plans([(str(c.deal.pk), c.inputs, c.deal) for c in group], system=system))
        stats.model_calls += sum(
            1 for w in written.values() if not w.provenance.get("offline", True) and not w.provenance.get("cached")
        )
        _store(todo, written, now, stats)
    return stats


def _store(todo: list, written: dict, now, stats: BulkStats) -> None:
    with transaction.atomic():
        rows = [plans.new_plan(c, written[str(c.deal.pk)], now=now) for c in todo]
        created = Plan.objects.bulk_create(rows, batch_size=500)
        items: list[PlanItem] = []
        for plan, c in zip(created, todo, strict=True):
            items.extend(plans.plan_items(plan, written[str(c.deal.pk)].data["actions"]))
        PlanItem.objects.bulk_create(items, batch_size=2000)
    stats.written += len(created)
    stats.plan_ids.extend(p.pk for p in created)
