"""The one way every feature asks a model for one item: `ask(...)` (bulk runs: `llm.bulk.ask_many`).

Order of work in `ask`:
  1. screen and trim the inputs (flags: injection:<input>, input_trimmed:<input>:<chars>);
  2. offline provider configured -> the feature's offline writer, done;
  3. nothing to send (every input empty) -> offline writer, reason recorded;
  4. cache lookup (unless force_refresh or ttl 0) -> hit, done; on a miss, claim the key, or wait
     for the caller already asking exactly this and take its reply from the cache (single flight);
  5. daily budget used up -> offline writer, reason recorded;
  6. the provider, with retries on temporary errors (here and only here), an overall deadline,
     schema validation and one repair turn;
  7. output guardrails (length, "never invents"); store in the cache; one ledger row.
Any provider failure ends in the offline writer's output with `fallback_reason` set: a page that
calls `ask` never sees an exception from a model.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jsonschema
from django.conf import settings

from llm import clock, guardrails, reply_cache
from llm.errors import LLMError, SchemaError, TemporaryLLMError
from llm.ledger import budget_block, record
from llm.models import ErrorKind, Outcome
from llm.prepared import LLMResult, Prepared, key_of, offline_result, prepare, schema_error, validator_for
from llm.providers import (
    ModelReply,
    ModelRequest,
    Provider,
    Repair,
)
from llm.registry import get_provider, writer_for

log = logging.getLogger(__name__)


@dataclass
class Attempts:
    """HTTP requests made and tokens spent across retries and the repair turn of one item."""

    count: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    model: str = ""

    def add(self, reply: ModelReply) -> None:
        self.input_tokens += reply.input_tokens
        self.output_tokens += reply.output_tokens
        self.cache_read_tokens += reply.cache_read_tokens
        self.cache_write_tokens += reply.cache_write_tokens
        self.model = reply.model or self.model

    def apply(self, result: LLMResult) -> LLMResult:
        result.attempts = self.count
        result.input_tokens, result.output_tokens = self.input_tokens, self.output_tokens
        result.cache_read_tokens, result.cache_write_tokens = self.cache_read_tokens, self.cache_write_tokens
        if self.model and not result.offline:
            result.model = self.model
        return result


def _call_with_retries(provider: Provider, request: ModelRequest, repair, deadline: float, tries: Attempts):
    """The one retry loop: temporary errors only, retry-after honoured, never past the deadline."""
    for attempt in range(settings.LLM_MAX_RETRIES + 1):
        remaining = deadline - clock.monotonic()
        if remaining < 1:
            raise TemporaryLLMError(f"no time left inside LLM_DEADLINE_SECONDS ({settings.LLM_DEADLINE_SECONDS:g} s)")
        request.timeout = min(settings.LLM_TIMEOUT_SECONDS, remaining)
        tries.count += 1
        try:
            reply = provider.complete(request, repair=repair)
            tries.add(reply)
            return reply
        except TemporaryLLMError as exc:
            if attempt == settings.LLM_MAX_RETRIES:
                raise
            if exc.retry_after is not None:
                if exc.retry_after > settings.LLM_RETRY_AFTER_MAX_SECONDS:
                    raise TemporaryLLMError(
                        f"{exc} (asked to retry after {exc.retry_after:g} s, more than "
                        f"LLM_RETRY_AFTER_MAX_SECONDS={settings.LLM_RETRY_AFTER_MAX_SECONDS:g})",
                        status=exc.status,
                        retry_after=exc.retry_after,
                    ) from exc
                wait = exc.retry_after
            else:
                # Exponential backoff with jitter: 0.5-1 s, 1-2 s, 2-4 s ... capped at 8 s.
                wait = min(8.0, 2.0**attempt) * random.uniform(0.5, 1.0)  # noqa: S311
            if clock.monotonic() + wait + 1 >= deadline:
                raise
            log.info("llm: temporary error (%s); retrying in %.1f s", exc, wait)
            clock.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def finish_reply(prep: Prepared, reply: ModelReply, deadline: float, tries: Attempts, *, repair_allowed=True):
    """Validate a reply against the schema, asking once for a repair. Returns (reply, data)."""
    if prep.schema is None:
        return reply, None
    error = reply.parse_error or schema_error(prep.tool_schema, reply.data)
    if not error:
        return reply, prep.unwrap(reply.data)
    if not repair_allowed:
        raise SchemaError(error)
    log.info("llm: %s reply rejected (%s); asking once more", prep.feature, error)
    retry = _call_with_retries(prep.provider, prep.request(0), Repair(reply, error), deadline, tries)
    second = retry.parse_error or schema_error(prep.tool_schema, retry.data)
    if second:
        raise SchemaError(f"still invalid after one repair: {second}")
    return retry, prep.unwrap(retry.data)


def model_result(prep: Prepared, reply: ModelReply, data, tries: Attempts) -> LLMResult:
    flags = list(prep.flags)
    if prep.schema is not None:
        text = json.dumps(data, ensure_ascii=False, sort_keys=True)
        outputs = _strings(data)
    else:
        text, cut = guardrails.limit_output(reply.text, settings.LLM_MAX_OUTPUT_CHARS)
        if cut:
            flags.append("output_truncated")
        outputs = [text]
    if reply.stop_reason in ("max_tokens", "length"):
        flags.append("max_tokens_reached")
    if prep.grounding != "off":
        sources = [prep.system, prep.context, prep.prompt, *prep.values.values()]
        flags += guardrails.find_invented(outputs, sources)
    result = LLMResult(text=text, data=data, provider=prep.provider.name, model=reply.model or prep.model, flags=flags)
    return tries.apply(result)


def _strings(data) -> list[str]:
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for v in data.values() for s in _strings(v)]
    if isinstance(data, list):
        return [s for v in data for s in _strings(v)]
    return []


def _ask_model(prep: Prepared, started: float) -> tuple[LLMResult, str]:
    """(result, error_kind) from the provider, or the offline fallback with the failure recorded."""
    deadline = clock.monotonic() + settings.LLM_DEADLINE_SECONDS
    tries = Attempts()
    try:
        if prep.schema is not None:
            validator_for(prep.tool_schema)
        reply = _call_with_retries(prep.provider, prep.request(0), None, deadline, tries)
        reply, data = finish_reply(prep, reply, deadline, tries)
        result = model_result(prep, reply, data, tries)
    except LLMError as exc:
        log.warning("llm: %s fell back to offline: %s", prep.feature, exc)
        result = tries.apply(offline_result(prep, reason=reason_for(exc), error_kind=exc.kind))
        return result, exc.kind
    except jsonschema.SchemaError as exc:
        log.error("llm: %s passed an invalid JSON schema: %s", prep.feature, exc.message)
        result = offline_result(prep, reason=f"invalid schema: {exc.message}"[:300], error_kind=ErrorKind.INTERNAL)
        return result, ErrorKind.INTERNAL
    except Exception as exc:  # noqa: BLE001 - a bug in a provider must not take a page down
        log.exception("llm: %s failed unexpectedly", prep.feature)
        result = tries.apply(
            offline_result(prep, reason=f"gateway error ({exc.__class__.__name__})", error_kind="internal")
        )
        return result, ErrorKind.INTERNAL
    invented = result.invented
    if invented and prep.grounding == "fallback":
        fallback = offline_result(
            prep,
            reason=f"the reply invented facts ({', '.join(invented[:3])})"[:300],
            error_kind=ErrorKind.INVENTED,
            extra_flags=[f for f in result.flags if f.startswith("invented:")],
        )
        # The tokens were spent even though the reply was discarded: the ledger must show them.
        return tries.apply(fallback), ErrorKind.INVENTED
    return result, ""


def reason_for(exc: LLMError) -> str:
    label = {"temporary": "model unavailable", "permanent": "model refused the request", "schema": "reply unusable"}
    return f"{label.get(exc.kind, 'model error')}: {exc}"[:300]


def ask(
    *,
    feature: str,
    system: str,
    prompt: str,
    inputs: dict,
    schema: dict | None = None,
    max_tokens: int = 512,
    ttl: timedelta | int | None = None,
    force_refresh: bool = False,
    about: Any = None,
    scope: int | None = None,
    context: str = "",
    grounding: str = "flag",
) -> LLMResult:
    """Ask the configured model for one item. See the module docstring and docs/llm.md.

    `prompt` is the template (part of the cache key); `inputs` are the values, sent as delimited
    data. `context` is an optional large stable prefix (company context, playbook excerpts) that is
    prompt-cached with the system prompt. `ttl` None uses LLM_CACHE_TTLS/LLM_CACHE_TTL; 0 disables the
    reply cache. `grounding`: "flag" records invented facts in flags, "fallback" also replaces such a
    reply with the offline one, "off" skips the check. `scope` is an opaque integer stored on the
    ledger row (crm passes the team id) that decides who sees the row (llm.scopes); not in the key.
    """
    started = time.perf_counter()
    writer_for(feature)  # fail fast, before any spend, when the feature forgot its offline writer
    prep = prepare(
        feature=feature,
        system=system,
        context=context,
        prompt=prompt,
        inputs=inputs or {},
        schema=schema,
        max_tokens=max_tokens,
        grounding=grounding,
        ttl=ttl,
        force_refresh=force_refresh,
        about=about,
        scope=scope,
        provider=get_provider(),
    )
    return ask_prepared(prep, started)


def ask_prepared(prep: Prepared, started: float) -> LLMResult:
    def done(result: LLMResult, outcome: str, error_kind: str = "") -> LLMResult:
        result.latency_ms = (time.perf_counter() - started) * 1000
        return record(prep, result, outcome, error_kind)

    if prep.provider.name == "offline":
        return done(offline_result(prep), Outcome.OFFLINE)
    if prep.empty:
        result = offline_result(prep, reason="nothing to send: every input is empty", error_kind=ErrorKind.EMPTY)
        return done(result, Outcome.FALLBACK, ErrorKind.EMPTY)
    claimed = False
    if prep.ttl_seconds and not prep.force_refresh:
        hit = reply_cache.cache_get(prep)
        if hit is None:
            claimed = reply_cache.claim(prep)
            if not claimed and not reply_cache.holds_sqlite_write_lock():
                hit = reply_cache.wait_for_peer(prep)
        if hit is not None:
            return done(hit, Outcome.CACHE_HIT)
    else:
        key_of(prep)
    try:
        blocked = budget_block(prep.feature)
        if blocked:
            result = offline_result(prep, reason=blocked, error_kind=ErrorKind.BUDGET)
            return done(result, Outcome.FALLBACK, ErrorKind.BUDGET)
        result, error_kind = _ask_model(prep, started)
        if result.offline:
            return done(result, Outcome.FALLBACK, error_kind)
        reply_cache.cache_put(prep, result)
        return done(result, Outcome.OK)
    finally:
        if claimed:
            reply_cache.release(prep)
