"""The AI refinement of rule segments, through the LLM gateway.

The rules (notifications/segments.py) give every customer a segment; the refinement sees the facts
the rules test and every segment whose rule matches, and may move the customer to another segment in
use, explaining why. The rule result is always the fallback: while the refinement has not answered
for the customer's current data, when the model failed (the gateway's fallback), or when it answered
a segment not in use or gave no explanation, the rule's segment stands and the reason for rejecting
the answer is kept. Offline, `ai.refine_offline` (a deterministic reading of the same data) answers.

Each record keeps the hash of the inputs its refinement was made from: a rerun asks only for
customers whose data, rules or segments changed. Many customers go through the gateway's batch path
(`ask_many`, mode "auto"); `store_refinement` is its @bulk_handler.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.db import transaction

from crm.models import Account
from crm.validators import parse_id
from llm import BulkItem, LLMResult, ask_many, bulk_handler
from notifications import ai, prompts, segments
from notifications.facts import load_chunk, rule_facts, update_rows
from notifications.models import CustomerRecord, NotificationSettings

CHUNK = 500  # customers per gateway call of a refinement run


def inputs_for(record, facts: dict, rules: list, rule: segments.SegmentResult, names: list[str]) -> dict:
    return {
        "customer_id": record.customer_id,
        "facts": facts,
        "rule_segment": rule.segment,
        "rule_reason": rule.reason,
        "matching": [{"segment": s, "rule": r} for s, r in segments.matching_segments(facts, rules)],
        "segments": names,
        "version": ai.WRITER_VERSION,
    }


def hash_of(inputs: dict) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def effective(rule: segments.SegmentResult, refinement: dict, asked: dict) -> tuple[str, str, str, bool]:
    """(segment, reason, source "ai"|"rule", fresh): the refinement's answer when it was made from
    these inputs and accepted, otherwise the rule's. `fresh`: the stored refinement is for these inputs."""
    fresh = bool(refinement) and refinement.get("hash") == hash_of(asked)
    if fresh and not refinement.get("rejected") and refinement.get("segment") in asked["segments"]:
        return refinement["segment"], refinement["reason"], "ai", True
    return rule.segment, rule.reason, "rule", fresh


@dataclass(frozen=True)
class Verdict:
    segment: str
    reason: str
    rejected: str  # why the answer was not used ("" when it was)


def judge(result: LLMResult, names: list[str], rule_segment: str, rule_reason: str) -> Verdict:
    """Accept the model's answer only when it names a segment in use and explains itself."""
    if result.fallback_reason:
        return Verdict(rule_segment, rule_reason, f"the model failed ({result.fallback_reason[:200]})")
    data = result.data if isinstance(result.data, dict) else {}
    segment = data.get("segment")
    reason = data.get("reason")
    if not isinstance(segment, str) or segment.strip() not in names:
        return Verdict(rule_segment, rule_reason, f"answered a segment not in use: {str(segment)[:100]!r}")
    if not isinstance(reason, str) or not reason.strip():
        return Verdict(rule_segment, rule_reason, "gave no explanation")
    return Verdict(segment.strip(), " ".join(reason.split())[:300], "")


_FIELDS = ["refinement", "segment", "segment_reason", "segment_source"]
# What a refinement run reads of a record: the facts the rules test and the segment fields.
_LOADED = [
    "team_id", "account_id", "customer_id", "monthly_spend", "tenure_months", "engagement_score", "churn_risk",
    "tariff", "green_tariff", "region", "payment_status", "account_status", "segment", "segment_reason",
    "rule_segment", "segment_source", "refinement",
]  # fmt: skip


def _apply(record: CustomerRecord, asked_hash: str, result: LLMResult) -> bool:
    """Put one answer on the record in memory; False when the data moved on since it was asked."""
    pending = record.refinement or {}
    if pending.get("pending") != asked_hash:
        return False
    rule_reason = pending.get("rule_reason", "")
    record.segment_before = record.segment
    verdict = judge(result, pending.get("segments") or [], record.rule_segment, rule_reason)
    record.refinement = {
        "hash": asked_hash,
        "segment": verdict.segment if not verdict.rejected else "",
        "reason": verdict.reason if not verdict.rejected else "",
        "rejected": verdict.rejected,
        "answered": (result.data or {}).get("segment", "") if isinstance(result.data, dict) else "",
        "provider": result.provider,
        "offline": result.offline,
        "rule_reason": rule_reason,
    }
    record.segment, record.segment_reason = verdict.segment, verdict.reason[:300]
    record.segment_source = "rule" if verdict.rejected else "ai"
    return True


def _save(records: list[CustomerRecord]) -> None:
    update_rows(
        CustomerRecord,
        _FIELDS,
        [(json.dumps(r.refinement), r.segment, r.segment_reason, r.segment_source, r.pk) for r in records],
    )
    # The account mirrors the effective segment (Account.segment): only where it moved.
    update_rows(Account, ["segment"], [(r.segment, r.account_id) for r in records if r.segment != r.segment_before])


@bulk_handler(ai.SEGMENT)
def store_refinement(key: str, result: LLMResult) -> None:
    """A batch item's answer: `key` is "<record pk>:<inputs hash>"."""
    pk, _, asked_hash = key.partition(":")
    record = CustomerRecord.objects.select_for_update().filter(pk=parse_id(pk)).first()
    if record is not None and _apply(record, asked_hash, result):
        _save([record])


@dataclass
class RefineStats:
    customers: int = 0
    asked: int = 0  # items sent through the gateway (answered now or batched)
    unchanged: int = 0  # refinement already made from the same inputs: no call
    batched: int = 0  # submitted to a Message Batch; stored when it is collected
    reassigned: int = 0  # answered now with a segment other than the rule's
    rejected: int = 0


def refine_segments(team, record_ids: list[int] | None = None, *, force_refresh: bool = False) -> RefineStats:
    """Ask the refinement for every customer (or the given ones) whose inputs changed since their last
    refinement; answers arriving now are stored at once, batched ones by `store_refinement`."""
    conf = NotificationSettings.for_team(team)
    rules = segments.parse_rules(conf.segment_rules)
    names = segments.segment_names(rules)
    qs = CustomerRecord.objects.filter(team=team).order_by("pk")
    if record_ids is not None:
        qs = qs.filter(pk__in=record_ids)
    ids = list(qs.values_list("pk", flat=True))
    stats = RefineStats(customers=len(ids))
    for start in range(0, len(ids), CHUNK):
        with transaction.atomic():
            chunk = list(qs.filter(pk__in=ids[start : start + CHUNK]).only(*_LOADED).select_for_update())
            channels, interactions, _ = load_chunk(chunk, notifications=False)
            todo: dict[str, tuple[CustomerRecord, dict, str]] = {}
            for rec in chunk:
                facts = rule_facts(rec, channels.get(rec.account_id, ""), interactions.get(rec.account_id, []))
                rule = segments.classify(facts, rules)
                asked = inputs_for(rec, facts, rules, rule, names)
                asked_hash = hash_of(asked)
                if not force_refresh and (rec.refinement or {}).get("hash") == asked_hash:
                    stats.unchanged += 1
                    continue
                rec.refinement = {"pending": asked_hash, "rule_reason": rule.reason, "segments": names}
                todo[f"{rec.pk}:{asked_hash}"] = (rec, asked, asked_hash)
            run = ask_many(
                feature=ai.SEGMENT,
                system=prompts.SEGMENT_SYSTEM,
                prompt=prompts.SEGMENT_PROMPT,
                items=[
                    # The ledger links each call to the account: its id is all it needs.
                    BulkItem(key=k, inputs=a, about=Account(pk=r.account_id), scope=r.team_id)
                    for k, (r, a, _) in todo.items()
                ],
                schema=prompts.SEGMENT_SCHEMA,
                max_tokens=200,
                ttl=ai.TTL,
                force_refresh=force_refresh,
                mode="auto",  # the Message Batches API for many customers: half price, stored when collected
            )
            stats.asked += len(todo)
            stats.batched += len(run.pending)
            # Batched items wait with their inputs' hash; `store_refinement` checks it when they arrive.
            update_rows(
                CustomerRecord,
                ["refinement"],
                [(json.dumps(todo[k][0].refinement), todo[k][0].pk) for k in run.pending],
            )
            answered = []
            for key, result in run.results.items():
                rec, _, asked_hash = todo[key]
                if _apply(rec, asked_hash, result):
                    answered.append(rec)
                    stats.rejected += bool(rec.refinement.get("rejected"))
                    stats.reassigned += rec.segment != rec.rule_segment
            _save(answered)
    return stats
