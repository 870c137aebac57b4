"""Bulk runs: `ask_many` answers many items with one prompt (offline in-process with one ledger
insert, cache hits at once, the rest through the Message Batches API or synchronously), and
`collect_batches` hands finished batch items to the features' @bulk_handler."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from llm import clock, guardrails
from llm.errors import LLMError, PermanentLLMError, TemporaryLLMError
from llm.ledger import about_fields, budget_block, insert_offline_rows, record
from llm.models import CachedReply, LLMBatch, LLMBatchItem, Outcome
from llm.pipeline import Attempts, ask_prepared, finish_reply, model_result, reason_for
from llm.prepared import LLMResult, Prepared, key_of, offline_result, prepare, split_output
from llm.providers import (
    ModelReply,
    Provider,
)
from llm.registry import BULK_HANDLERS, OfflineWriter, get_provider, writer_for
from llm.reply_cache import cache_put, from_cache

log = logging.getLogger(__name__)


@dataclass
class BulkItem:
    key: str  # the feature's own id for the item, e.g. str(deal.pk)
    inputs: dict
    about: Any = None
    scope: int | None = None  # opaque to llm, stored on the ledger row (crm: the team id)


@dataclass
class BulkRun:
    results: dict[str, LLMResult]  # items answered now (offline, cache hits, synchronous calls)
    pending: list[str] = field(default_factory=list)  # item keys submitted to a batch
    batch_id: int | None = None  # LLMBatch row; its results reach the feature's @bulk_handler


def ask_many(
    *,
    feature: str,
    system: str,
    prompt: str,
    items: Iterable[BulkItem],
    schema: dict | None = None,
    max_tokens: int = 512,
    ttl: timedelta | int | None = None,
    force_refresh: bool = False,
    context: str = "",
    grounding: str = "flag",
    mode: str = "auto",
) -> BulkRun:
    """Many items, one system prompt and template.

    offline provider: every item in-process, one bulk insert into the ledger.
    anthropic: cache hits answered at once; the rest go to the Message Batches API when there are at
    least LLM_BATCH_MIN_ITEMS of them (or mode="batch") and the feature registered a @bulk_handler;
    otherwise, or when the submission fails, each item is asked synchronously (mode="sync" forces it).
    """
    if mode not in ("auto", "batch", "sync"):
        raise ValueError("mode must be auto, batch or sync")
    items = list(items)
    keys = [item.key for item in items]
    if len(set(keys)) != len(keys):
        raise ValueError("ask_many: item keys must be unique")
    writer = writer_for(feature)
    provider = get_provider()
    if provider.name == "offline":
        return _offline_bulk(feature, writer, items)

    common = {
        "feature": feature,
        "system": system,
        "context": context,
        "prompt": prompt,
        "schema": schema,
        "max_tokens": max_tokens,
        "grounding": grounding,
        "ttl": ttl,
        "force_refresh": force_refresh,
        "provider": provider,
    }
    preps = {
        item.key: prepare(inputs=item.inputs or {}, about=item.about, scope=item.scope, **common) for item in items
    }
    run = BulkRun(results={})
    todo = []
    for key, prep in preps.items():
        if prep.empty:
            run.results[key] = ask_prepared(prep, time.perf_counter())
        else:
            key_of(prep)
            todo.append(key)
    if todo and not force_refresh and preps[todo[0]].ttl_seconds:
        hits = {}
        cache_keys = [preps[k].key for k in todo]
        for start in range(0, len(cache_keys), 500):
            hits.update({h.key: h for h in CachedReply.objects.live().filter(key__in=cache_keys[start : start + 500])})
        remaining = []
        for key in todo:
            hit = hits.get(preps[key].key)
            if hit is None:
                remaining.append(key)
                continue
            result = from_cache(preps[key], hit)
            run.results[key] = record(preps[key], result, Outcome.CACHE_HIT)
        todo = remaining
    use_batch = (
        mode != "sync"
        and provider.supports_batches
        and feature in BULK_HANDLERS
        and (mode == "batch" or len(todo) >= settings.LLM_BATCH_MIN_ITEMS)
        and not budget_block(feature)
    )
    if todo and use_batch:
        batch = _submit_batch([preps[k] for k in todo], [k for k in todo])
        if batch is not None:
            run.pending, run.batch_id = todo, batch.pk
            return run
    for key in todo:
        run.results[key] = ask_prepared(preps[key], time.perf_counter())
    return run


def _offline_bulk(feature: str, writer: OfflineWriter, items: list[BulkItem]) -> BulkRun:
    """Every item in-process. Ledger rows go in with COPY on PostgreSQL and multi-row INSERTs of 400 items elsewhere: the ORM's
    per-field preparation cost more than the writers themselves (bench/llm_gateway). Their ids are
    not read back, so `call_id` is None on bulk offline results."""
    results, rows = {}, []
    content_types: dict[type, int] = {}
    perf = time.perf_counter
    screen = guardrails.screen_inputs
    for item in items:
        t0 = perf()
        inputs = item.inputs or {}
        flags = [f"injection:{n}" for n in screen({str(k): v for k, v in inputs.items()})]
        text, data = split_output(writer(inputs))
        latency = (perf() - t0) * 1000
        results[item.key] = LLMResult(text=text, data=data, flags=flags, latency_ms=latency)
        about, ct_id, object_id = item.about, None, ""
        if about is not None and getattr(about, "pk", None) is not None:
            ct_id = content_types.get(type(about))
            if ct_id is None:
                ct_id = content_types[type(about)] = ContentType.objects.get_for_model(about).pk
            object_id = str(about.pk)
        rows.append((round(latency, 3), flags, ct_id, object_id, item.scope))
    insert_offline_rows(feature, rows)
    return BulkRun(results=results)


def _submit_batch(preps: list[Prepared], keys: list[str]) -> LLMBatch | None:
    first = preps[0]
    with transaction.atomic():
        batch = LLMBatch.objects.create(
            feature=first.feature,
            provider=first.provider.name,
            model=first.model,
            system=first.system,
            context=first.context,
            prompt=first.prompt,
            schema=first.schema,
            max_tokens=first.max_tokens,
            ttl_seconds=first.ttl_seconds,
            grounding=first.grounding,
        )
        rows = LLMBatchItem.objects.bulk_create(
            [
                LLMBatchItem(
                    batch=batch,
                    item_key=key,
                    inputs=prep.values,
                    raw_inputs=prep.raw_inputs,
                    cache_key=prep.key,
                    trimmed_chars=prep.trimmed_chars,
                    flags=prep.flags,
                    scope=prep.scope,
                    **about_fields(prep.about),
                )
                for key, prep in zip(keys, preps, strict=True)
            ]
        )
    if any(row.pk is None for row in rows):  # backends that cannot return ids from bulk inserts
        rows = list(batch.items.order_by("pk"))
    requests = [
        (row.custom_id, prep.request(settings.LLM_TIMEOUT_SECONDS)) for row, prep in zip(rows, preps, strict=True)
    ]
    try:
        provider_id = first.provider.submit_batch(requests, timeout=settings.LLM_TIMEOUT_SECONDS)
    except LLMError as exc:
        log.warning("llm: batch submission for %s failed, answering synchronously: %s", first.feature, exc)
        LLMBatch.objects.filter(pk=batch.pk).update(status=LLMBatch.Status.FAILED, error=str(exc)[:300])
        batch.items.all().delete()
        return None
    LLMBatch.objects.filter(pk=batch.pk, status=LLMBatch.Status.SUBMITTING).update(
        status=LLMBatch.Status.SUBMITTED, provider_batch_id=provider_id
    )
    return batch


def _item_prep(batch: LLMBatch, item: LLMBatchItem, provider: Provider) -> Prepared:
    return Prepared(
        feature=batch.feature,
        system=batch.system,
        context=batch.context,
        prompt=batch.prompt,
        schema=batch.schema,
        max_tokens=batch.max_tokens,
        grounding=batch.grounding,
        raw_inputs=item.raw_inputs,
        values=item.inputs,
        trimmed_chars=item.trimmed_chars,
        flags=list(item.flags),
        empty=False,
        provider=provider,
        model=batch.model if provider.name == batch.provider else provider.default_model,
        ttl_seconds=batch.ttl_seconds,
        force_refresh=True,
        about=item.about,
        scope=item.scope,
        key=item.cache_key if provider.name == batch.provider else "",
    )


def collect_batches() -> dict[str, int]:
    """Fetch the results of every ended batch and hand each item's result to the feature's
    @bulk_handler. Idempotent: an item is claimed (pending -> done) in the same transaction as its
    handler call, so a crash re-delivers it and a second run skips it."""
    counts = {"batches": 0, "items": 0, "waiting": 0}
    for batch in LLMBatch.objects.filter(status=LLMBatch.Status.SUBMITTED).order_by("created_at"):
        if batch.feature not in BULK_HANDLERS:
            # This process never imported the feature's ai.py: keep the batch until one that did runs.
            log.error(
                "llm: no @bulk_handler(%r) registered in this process; batch %s left pending", batch.feature, batch.pk
            )
            counts["waiting"] += 1
            continue
        provider = get_provider()
        outcomes = {}
        if provider.name == batch.provider and provider.supports_batches:
            try:
                if not provider.batch_ended(batch.provider_batch_id, timeout=settings.LLM_TIMEOUT_SECONDS):
                    counts["waiting"] += 1
                    continue
                items = {i.custom_id: i for i in batch.items.filter(status=LLMBatchItem.Status.PENDING)}
                requests = {cid: _item_prep(batch, i, provider).request(0) for cid, i in items.items()}
                outcomes = {
                    o.custom_id: o
                    for o in provider.batch_results(
                        batch.provider_batch_id, requests, timeout=settings.LLM_TIMEOUT_SECONDS
                    )
                }
            except TemporaryLLMError as exc:
                log.info("llm: batch %s not collected this time: %s", batch.provider_batch_id, exc)
                counts["waiting"] += 1
                continue
            except PermanentLLMError as exc:
                log.warning("llm: batch %s cannot be collected (%s); answering synchronously", batch.pk, exc)
                LLMBatch.objects.filter(pk=batch.pk).update(error=str(exc)[:300])
        counts["items"] += _deliver(batch, provider, outcomes)
        LLMBatch.objects.filter(pk=batch.pk, status=LLMBatch.Status.SUBMITTED).update(
            status=LLMBatch.Status.COLLECTED, collected_at=timezone.now()
        )
        counts["batches"] += 1
    return counts


def _deliver(batch: LLMBatch, provider: Provider, outcomes: dict) -> int:
    handler = BULK_HANDLERS[batch.feature]
    delivered = 0
    for item in batch.items.filter(status=LLMBatchItem.Status.PENDING).order_by("pk"):
        with transaction.atomic():
            claimed = LLMBatchItem.objects.filter(pk=item.pk, status=LLMBatchItem.Status.PENDING).update(
                status=LLMBatchItem.Status.DONE
            )
            if not claimed:
                continue
            prep = _item_prep(batch, item, provider)
            started = time.perf_counter()
            outcome = outcomes.get(item.custom_id)
            if outcome is not None and outcome.reply is not None:
                result = _batched_result(prep, outcome.reply, started)
            else:
                # Errored, expired or missing from the results: answer it now, synchronously.
                result = ask_prepared(prep, started)
            handler(item.item_key, result)
            delivered += 1
    return delivered


def _batched_result(prep: Prepared, reply: ModelReply, started: float) -> LLMResult:
    deadline = clock.monotonic() + settings.LLM_DEADLINE_SECONDS
    tries = Attempts(count=1)
    tries.add(reply)
    error_kind = ""
    try:
        reply, data = finish_reply(prep, reply, deadline, tries)
        result = model_result(prep, reply, data, tries)
        outcome = Outcome.OK
    except LLMError as exc:
        result = tries.apply(offline_result(prep, reason=reason_for(exc), error_kind=exc.kind))
        error_kind, outcome = exc.kind, Outcome.FALLBACK
    result.latency_ms = (time.perf_counter() - started) * 1000
    if outcome == Outcome.OK:
        cache_put(prep, result)
    return record(prep, result, outcome, error_kind, batched=True)
