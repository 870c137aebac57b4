"""The one way every feature asks a model: `ask(...)` for one item, `ask_many(...)` for a bulk run.

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
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import jsonschema
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache as django_cache
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from llm import guardrails, prompting
from llm.config import price_for
from llm.errors import LLMError, PermanentLLMError, SchemaError, TemporaryLLMError
from llm.models import CachedReply, ErrorKind, LLMBatch, LLMBatchItem, LLMCall, Outcome
from llm.providers import (
    AnthropicProvider,
    ModelReply,
    ModelRequest,
    OfflineProvider,
    OpenAICompatibleProvider,
    Provider,
    Repair,
)

log = logging.getLogger(__name__)

OfflineWriter = Callable[[dict], "str | dict"]
_OFFLINE_WRITERS: dict[str, OfflineWriter] = {}
BulkHandler = Callable[[str, "LLMResult"], None]
_BULK_HANDLERS: dict[str, BulkHandler] = {}
GROUNDING = ("flag", "fallback", "off")

# Seams for tests and the benchmark (never sleep for real in tests).
_sleep = time.sleep
_monotonic = time.monotonic


def offline_writer(feature: str):
    """Register the deterministic, data-grounded writer used when no model is available.

    It receives the original `inputs` dict and returns a str, or a dict when the feature asks with
    a schema (it should satisfy that schema)."""

    def decorator(fn: OfflineWriter) -> OfflineWriter:
        _OFFLINE_WRITERS[feature] = fn
        return fn

    return decorator


def bulk_handler(feature: str):
    """Register the function that stores one item's result of an `ask_many` batch run. Called as
    `fn(item_key, result)` by the periodic collect task, inside a transaction per item."""

    def decorator(fn: BulkHandler) -> BulkHandler:
        _BULK_HANDLERS[feature] = fn
        return fn

    return decorator


@dataclass
class LLMResult:
    text: str
    data: Any = None
    provider: str = "offline"
    model: str = "offline"
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cached: bool = False
    latency_ms: float = 0.0
    fallback_reason: str = ""
    flags: list[str] = field(default_factory=list)
    # Added by issue 3 (all optional):
    cache_write_tokens: int = 0
    cost_usd: Decimal = Decimal("0")
    attempts: int = 0
    error_kind: str = ""
    call_id: int | None = None  # the LLMCall ledger row

    @property
    def offline(self) -> bool:
        return self.provider == "offline"

    @property
    def injection_suspected(self) -> bool:
        return any(f.startswith("injection:") for f in self.flags)

    @property
    def invented(self) -> list[str]:
        """What the reply states that its inputs do not contain, e.g. ["phone:+44 20 7946 0999"]."""
        return [f.removeprefix("invented:") for f in self.flags if f.startswith("invented:")]

    @property
    def needs_review(self) -> bool:
        return self.injection_suspected or bool(self.invented)

    @property
    def provenance(self) -> dict:
        """A JSON-ready summary for a feature to store beside its draft (see templates/llm/provenance.html)."""
        return {
            "provider": self.provider,
            "model": self.model,
            "offline": self.offline,
            "cached": self.cached,
            "fallback_reason": self.fallback_reason,
            "flags": list(self.flags),
            "call_id": self.call_id,
        }


# --- providers ---------------------------------------------------------------------------------

_override: list[Provider] = []
_built: dict[tuple, Provider] = {}
_built_lock = threading.Lock()


@contextmanager
def use_provider(provider: Provider):
    """Route every call through `provider` for the duration (tests, the benchmark, a shell)."""
    _override.append(provider)
    try:
        yield provider
    finally:
        _override.remove(provider)


def get_provider() -> Provider:
    if _override:
        return _override[-1]
    config = (
        settings.LLM_PROVIDER,
        settings.ANTHROPIC_API_KEY,
        settings.LLM_BASE_URL,
        settings.LLM_API_KEY,
        settings.LLM_MODEL,
        settings.LLM_JSON_MODE,
        settings.LLM_CONNECT_TIMEOUT_SECONDS,
    )
    with _built_lock:
        provider = _built.get(config)
        if provider is None:
            provider = _build(*config)
            _built[config] = provider
    return provider


def _build(name, anthropic_key, base_url, api_key, model, json_mode, connect_timeout) -> Provider:
    if name == "anthropic":
        return AnthropicProvider(api_key=anthropic_key, model=model, connect_timeout=connect_timeout)
    if name == "openai-compatible":
        return OpenAICompatibleProvider(
            base_url=base_url, model=model, api_key=api_key, json_mode=json_mode, connect_timeout=connect_timeout
        )
    return OfflineProvider()


def provider_name() -> str:
    """ "offline", "anthropic" or "openai-compatible": what answers right now."""
    return get_provider().name


# --- preparation -------------------------------------------------------------------------------


@dataclass
class _Prepared:
    feature: str
    system: str
    context: str
    prompt: str
    schema: dict | None
    max_tokens: int
    grounding: str
    raw_inputs: dict
    values: dict[str, str]
    trimmed_chars: int
    flags: list[str]
    empty: bool
    provider: Provider
    model: str
    ttl_seconds: int
    force_refresh: bool
    about: Any
    key: str = ""

    @property
    def tool_schema(self) -> dict | None:
        """Tool input must be an object; any other schema is wrapped in {"result": ...}."""
        if self.schema is None or self.schema.get("type") == "object":
            return self.schema
        return {"type": "object", "properties": {"result": self.schema}, "required": ["result"]}

    def unwrap(self, data):
        if self.schema is not None and self.schema.get("type") != "object" and isinstance(data, dict):
            return data.get("result")
        return data

    def request(self, timeout: float) -> ModelRequest:
        return ModelRequest(
            model=self.model,
            system=f"{self.system}\n\n{prompting.DATA_RULE}" if self.system else prompting.DATA_RULE,
            context=self.context,
            user=prompting.render_user(self.prompt, self.values),
            max_tokens=self.max_tokens,
            schema=self.tool_schema,
            tool_name=_tool_name(self.feature),
            timeout=timeout,
        )


def _tool_name(feature: str) -> str:
    return "record_" + "".join(c if c.isalnum() else "_" for c in feature)[:56]


def _ttl_seconds(feature: str, ttl: timedelta | int | None) -> int:
    if ttl is None:
        return settings.LLM_CACHE_TTLS.get(feature, settings.LLM_CACHE_TTL)
    if isinstance(ttl, timedelta):
        return max(0, int(ttl.total_seconds()))
    return max(0, int(ttl))


def _writer(feature: str) -> OfflineWriter:
    writer = _OFFLINE_WRITERS.get(feature)
    if writer is None:
        raise LookupError(
            f"No offline writer registered for feature {feature!r}: decorate one with "
            f"@offline_writer({feature!r}) in the feature's ai.py and import it from AppConfig.ready()"
        )
    return writer


def _prepare(
    *, feature, system, context, prompt, inputs, schema, max_tokens, grounding, ttl, force_refresh, about, provider
) -> _Prepared:
    if grounding not in GROUNDING:
        raise ValueError(f"grounding must be one of {GROUNDING}")
    serialized = {str(name): prompting.serialize(value) for name, value in inputs.items()}
    flags = [f"injection:{name}" for name in guardrails.screen_inputs(serialized)]
    trimmed = prompting.trim_values(serialized, settings.LLM_MAX_INPUT_CHARS)
    flags += [f"input_trimmed:{name}:{cut}" for name, cut in trimmed.removed.items()]
    model = settings.LLM_MODELS.get(feature) or provider.default_model
    return _Prepared(
        feature=feature,
        system=system or "",
        context=context or "",
        prompt=prompt or "",
        schema=schema,
        max_tokens=max_tokens,
        grounding=grounding,
        raw_inputs=inputs,
        values=trimmed.values,
        trimmed_chars=trimmed.removed_total,
        flags=flags,
        empty=not any(v.strip() for v in serialized.values()),
        provider=provider,
        model=model if provider.name != "offline" else "offline",
        ttl_seconds=_ttl_seconds(feature, ttl),
        force_refresh=force_refresh,
        about=about,
    )


def _key(prep: _Prepared) -> str:
    if not prep.key:
        prep.key = prompting.cache_key(
            provider=prep.provider.name,
            model=prep.model,
            feature=prep.feature,
            system=prep.system,
            context=prep.context,
            prompt=prep.prompt,
            values=prep.values,
            schema=prep.schema,
            max_tokens=prep.max_tokens,
        )
    return prep.key


# --- schema validation -------------------------------------------------------------------------

_validators: dict[str, jsonschema.protocols.Validator] = {}


def _validator(schema: dict):
    key = json.dumps(schema, sort_keys=True)
    validator = _validators.get(key)
    if validator is None:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)  # raises jsonschema.SchemaError for a malformed schema
        validator = cls(schema)
        _validators[key] = validator
    return validator


def schema_error(schema: dict, data) -> str:
    """ "" when `data` satisfies `schema`, else the most relevant error, short enough to send back."""
    error = jsonschema.exceptions.best_match(_validator(schema).iter_errors(data))
    if error is None:
        return ""
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"at {where}: {error.message}"[:500]


# --- offline -----------------------------------------------------------------------------------


def _split(out) -> tuple[str, Any]:
    if isinstance(out, str):
        return out, None
    return json.dumps(out, ensure_ascii=False, sort_keys=True, default=str), out


def _offline_result(prep: _Prepared, *, reason: str = "", error_kind: str = "", extra_flags=()) -> LLMResult:
    text, data = _split(_writer(prep.feature)(prep.raw_inputs))
    flags = list(prep.flags) + list(extra_flags)
    if prep.schema is not None and data is not None:
        try:
            problem = schema_error(prep.schema, data)
        except jsonschema.SchemaError:
            problem = "the schema itself is invalid"
        if problem:
            log.warning("offline writer for %s returned data outside its schema: %s", prep.feature, problem)
            flags.append("offline_schema_mismatch")
    return LLMResult(text=text, data=data, fallback_reason=reason, error_kind=error_kind, flags=flags)


# --- the model path ----------------------------------------------------------------------------


@dataclass
class _Attempts:
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


def _call_with_retries(provider: Provider, request: ModelRequest, repair, deadline: float, tries: _Attempts):
    """The one retry loop: temporary errors only, retry-after honoured, never past the deadline."""
    for attempt in range(settings.LLM_MAX_RETRIES + 1):
        remaining = deadline - _monotonic()
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
            if _monotonic() + wait + 1 >= deadline:
                raise
            log.info("llm: temporary error (%s); retrying in %.1f s", exc, wait)
            _sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def _finish(prep: _Prepared, reply: ModelReply, deadline: float, tries: _Attempts, *, repair_allowed=True):
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


def _model_result(prep: _Prepared, reply: ModelReply, data, tries: _Attempts) -> LLMResult:
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


def _ask_model(prep: _Prepared, started: float) -> tuple[LLMResult, str]:
    """(result, error_kind) from the provider, or the offline fallback with the failure recorded."""
    deadline = _monotonic() + settings.LLM_DEADLINE_SECONDS
    tries = _Attempts()
    try:
        if prep.schema is not None:
            _validator(prep.tool_schema)
        reply = _call_with_retries(prep.provider, prep.request(0), None, deadline, tries)
        reply, data = _finish(prep, reply, deadline, tries)
        result = _model_result(prep, reply, data, tries)
    except LLMError as exc:
        log.warning("llm: %s fell back to offline: %s", prep.feature, exc)
        result = tries.apply(_offline_result(prep, reason=_reason(exc), error_kind=exc.kind))
        return result, exc.kind
    except jsonschema.SchemaError as exc:
        log.error("llm: %s passed an invalid JSON schema: %s", prep.feature, exc.message)
        result = _offline_result(prep, reason=f"invalid schema: {exc.message}"[:300], error_kind=ErrorKind.INTERNAL)
        return result, ErrorKind.INTERNAL
    except Exception as exc:  # noqa: BLE001 - a bug in a provider must not take a page down
        log.exception("llm: %s failed unexpectedly", prep.feature)
        result = tries.apply(
            _offline_result(prep, reason=f"gateway error ({exc.__class__.__name__})", error_kind="internal")
        )
        return result, ErrorKind.INTERNAL
    invented = result.invented
    if invented and prep.grounding == "fallback":
        fallback = _offline_result(
            prep,
            reason=f"the reply invented facts ({', '.join(invented[:3])})"[:300],
            error_kind=ErrorKind.INVENTED,
            extra_flags=[f for f in result.flags if f.startswith("invented:")],
        )
        # The tokens were spent even though the reply was discarded: the ledger must show them.
        return tries.apply(fallback), ErrorKind.INVENTED
    return result, ""


def _reason(exc: LLMError) -> str:
    label = {"temporary": "model unavailable", "permanent": "model refused the request", "schema": "reply unusable"}
    return f"{label.get(exc.kind, 'model error')}: {exc}"[:300]


# --- budgets -----------------------------------------------------------------------------------


def budget_status(feature: str, now=None) -> tuple[Any, Decimal] | None:
    """(Budget, used today) for a feature with a budget, else None."""
    budget = settings.LLM_BUDGETS.get(feature) or settings.LLM_BUDGETS.get("*")
    if budget is None:
        return None
    now = now or timezone.now()
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = LLMCall.objects.filter(feature=feature, created_at__gte=start, cache_hit=False)
    if budget.unit == "usd":
        used = rows.aggregate(v=Sum("cost_usd"))["v"] or Decimal("0")
    else:
        used = rows.aggregate(
            v=Sum(F("input_tokens") + F("output_tokens") + F("cache_read_tokens") + F("cache_write_tokens"))
        )["v"] or Decimal("0")
    return budget, Decimal(used)


def _budget_block(feature: str) -> str:
    status = budget_status(feature)
    if status is None:
        return ""
    budget, used = status
    if used < budget.limit:
        return ""
    return f"daily AI budget for {feature} used up ({budget.describe(used)} today); resets at midnight"


# --- ledger and cache --------------------------------------------------------------------------


def estimate_cost(model: str, result: LLMResult, *, batched: bool = False) -> Decimal:
    price = price_for(model, settings.LLM_PRICES)
    if price is None:
        return Decimal("0")
    cost = (
        result.input_tokens * price.input
        + result.output_tokens * price.output
        + result.cache_read_tokens * price.cache_read
        + result.cache_write_tokens * price.cache_write
    ) / Decimal(1_000_000)
    if batched:
        cost /= 2  # Message Batches are billed at half price
    return cost.quantize(Decimal("0.000001"))


def _about_fields(about) -> dict:
    if about is None or getattr(about, "pk", None) is None:
        return {}
    return {"content_type": ContentType.objects.get_for_model(about), "object_id": str(about.pk)}


def _ledger_row(prep: _Prepared, result: LLMResult, outcome: str, error_kind: str, *, batched=False) -> LLMCall:
    # A fallback row names the configured model (whose tokens, if any, were spent), not "offline".
    model = prep.model if result.offline else result.model
    if not result.cached and (result.input_tokens or result.output_tokens):
        result.cost_usd = estimate_cost(model, result, batched=batched)
    return LLMCall(
        feature=prep.feature,
        provider=prep.provider.name,
        model=model,
        outcome=outcome,
        cache_hit=result.cached,
        batched=batched,
        input_tokens=0 if result.cached else result.input_tokens,
        output_tokens=0 if result.cached else result.output_tokens,
        cache_read_tokens=0 if result.cached else result.cache_read_tokens,
        cache_write_tokens=0 if result.cached else result.cache_write_tokens,
        cost_usd=Decimal("0") if result.cached else result.cost_usd,
        latency_ms=round(result.latency_ms, 3),
        attempts=result.attempts,
        error_kind=error_kind,
        fallback_reason=result.fallback_reason[:300],
        flags=result.flags,
        trimmed_chars=prep.trimmed_chars,
        cache_key=prep.key,
        **_about_fields(prep.about),
    )


def _record(prep, result, outcome, error_kind="", *, batched=False) -> LLMResult:
    result.call_id = _insert_call(_ledger_row(prep, result, outcome, error_kind, batched=batched))
    return result


# The two statements every call runs (ledger insert, cache lookup) are written once as SQL from
# the models' own field definitions: compiling them through the ORM cost more than the rest of a
# cached call put together (bench/llm_gateway). Values still go through each field's own
# get_db_prep_save / from_db_value, so types and JSON handling match the ORM exactly.


def _insert_call(row: LLMCall) -> int:
    from django.db import connection

    fields = [f for f in LLMCall._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    sql = f"INSERT INTO {quote(LLMCall._meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608 - names from the model
    returning = connection.features.can_return_columns_from_insert
    if returning:
        sql += f" RETURNING {quote(LLMCall._meta.pk.column)}"
    values = [f.get_db_prep_save(f.pre_save(row, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row.pk = cursor.fetchone()[0] if returning else cursor.lastrowid
    return row.pk


_CACHE_COLUMNS = ("text", "data", "flags", "provider", "model", "input_tokens", "output_tokens")


def _cache_get(prep: _Prepared) -> LLMResult | None:
    from django.db import connection

    meta = CachedReply._meta
    quote = connection.ops.quote_name
    sql = (
        f"SELECT {', '.join(quote(meta.get_field(c).column) for c in _CACHE_COLUMNS)} FROM {quote(meta.db_table)} "  # noqa: S608
        f"WHERE {quote(meta.get_field('key').column)} = %s AND {quote(meta.get_field('expires_at').column)} > %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [_key(prep), connection.ops.adapt_datetimefield_value(timezone.now())])
        found = cursor.fetchone()
    if found is None:
        return None
    values = dict(zip(_CACHE_COLUMNS, found, strict=True))
    for name in ("data", "flags"):
        values[name] = meta.get_field(name).from_db_value(values[name], None, connection)
    return _from_cache(prep, CachedReply(**values))


def _from_cache(prep: _Prepared, hit: CachedReply) -> LLMResult:
    return LLMResult(
        text=hit.text,
        data=hit.data,
        provider=hit.provider,
        model=hit.model,
        input_tokens=hit.input_tokens,
        output_tokens=hit.output_tokens,
        cached=True,
        flags=list(prep.flags) + list(hit.flags),
    )


def _cache_put(prep: _Prepared, result: LLMResult) -> None:
    if not prep.ttl_seconds:
        return
    now = timezone.now()
    input_flags = set(prep.flags)
    defaults = {
        "feature": prep.feature,
        "provider": result.provider,
        "model": result.model,
        "text": result.text,
        "data": result.data,
        "flags": [f for f in result.flags if f not in input_flags],
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "created_at": now,
        "expires_at": now + timedelta(seconds=prep.ttl_seconds),
    }
    try:
        with transaction.atomic():
            CachedReply.objects.update_or_create(key=_key(prep), defaults=defaults)
    except IntegrityError:
        pass  # another worker stored the same key a moment ago; theirs is as good as ours


# --- ask ---------------------------------------------------------------------------------------


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
    context: str = "",
    grounding: str = "flag",
) -> LLMResult:
    """Ask the configured model for one item. See the module docstring and docs/llm.md.

    `prompt` is the template (part of the cache key); `inputs` are the values, sent as delimited
    data. `context` is an optional large stable prefix (company context, playbook excerpts) that is
    prompt-cached with the system prompt. `ttl` None uses LLM_CACHE_TTLS/LLM_CACHE_TTL; 0 disables the
    reply cache. `grounding`: "flag" records invented facts in flags, "fallback" also replaces such a
    reply with the offline one, "off" skips the check.
    """
    started = time.perf_counter()
    _writer(feature)  # fail fast, before any spend, when the feature forgot its offline writer
    prep = _prepare(
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
        provider=get_provider(),
    )
    return _ask_prepared(prep, started)


def _ask_prepared(prep: _Prepared, started: float) -> LLMResult:
    def done(result: LLMResult, outcome: str, error_kind: str = "") -> LLMResult:
        result.latency_ms = (time.perf_counter() - started) * 1000
        return _record(prep, result, outcome, error_kind)

    if prep.provider.name == "offline":
        return done(_offline_result(prep), Outcome.OFFLINE)
    if prep.empty:
        result = _offline_result(prep, reason="nothing to send: every input is empty", error_kind=ErrorKind.EMPTY)
        return done(result, Outcome.FALLBACK, ErrorKind.EMPTY)
    claimed = False
    if prep.ttl_seconds and not prep.force_refresh:
        hit = _cache_get(prep)
        if hit is None:
            claimed = _claim(prep)
            if not claimed and not _holds_sqlite_write_lock():
                hit = _wait_for_peer(prep)
        if hit is not None:
            return done(hit, Outcome.CACHE_HIT)
    else:
        _key(prep)
    try:
        blocked = _budget_block(prep.feature)
        if blocked:
            result = _offline_result(prep, reason=blocked, error_kind=ErrorKind.BUDGET)
            return done(result, Outcome.FALLBACK, ErrorKind.BUDGET)
        result, error_kind = _ask_model(prep, started)
        if result.offline:
            return done(result, Outcome.FALLBACK, error_kind)
        _cache_put(prep, result)
        return done(result, Outcome.OK)
    finally:
        if claimed:
            _release(prep)


# --- single flight: one model call per key at a time ------------------------------------------

_PEER_POLL_SECONDS = 0.1


def _inflight_key(prep: _Prepared) -> str:
    return f"llm:inflight:{_key(prep)}"


def _claim(prep: _Prepared) -> bool:
    """Mark this key as being asked (in the shared Django cache: Redis when configured). False when
    another caller holds it. A cache outage never blocks a call: the caller then just asks."""
    try:
        return django_cache.add(_inflight_key(prep), 1, timeout=int(settings.LLM_DEADLINE_SECONDS) + 5)
    except Exception:  # noqa: BLE001 - any cache backend error
        log.warning("llm single-flight: cache unavailable, asking without the lock", exc_info=True)
        return True


def _release(prep: _Prepared) -> None:
    try:
        django_cache.delete(_inflight_key(prep))
    except Exception:  # noqa: BLE001 - the claim expires on its own
        log.warning("llm single-flight: could not release %s", _inflight_key(prep), exc_info=True)


def _holds_sqlite_write_lock() -> bool:
    """SQLite transactions here begin IMMEDIATE (config/settings.py), so a caller inside one holds
    the database's only write lock: waiting would keep the peer from storing the reply it waits for.
    Such a caller asks the model itself, as before the single flight."""
    from django.db import connection

    return connection.vendor == "sqlite" and connection.in_atomic_block


def _wait_for_peer(prep: _Prepared) -> LLMResult | None:
    """Another caller is asking the model exactly this: wait for its reply to land in the reply
    cache instead of paying for the same answer twice. None (ask yourself) when the peer finished
    without storing one (it fell back) or the deadline passed."""
    deadline = _monotonic() + settings.LLM_DEADLINE_SECONDS
    while _monotonic() < deadline:
        _sleep(_PEER_POLL_SECONDS)
        hit = _cache_get(prep)
        if hit is not None:
            return hit
        try:
            if django_cache.get(_inflight_key(prep)) is None:
                return None
        except Exception:  # noqa: BLE001
            return None
    return None


# --- bulk --------------------------------------------------------------------------------------


@dataclass
class BulkItem:
    key: str  # the feature's own id for the item, e.g. str(deal.pk)
    inputs: dict
    about: Any = None


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
    writer = _writer(feature)
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
    preps = {item.key: _prepare(inputs=item.inputs or {}, about=item.about, **common) for item in items}
    run = BulkRun(results={})
    todo = []
    for key, prep in preps.items():
        if prep.empty:
            run.results[key] = _ask_prepared(prep, time.perf_counter())
        else:
            _key(prep)
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
            result = _from_cache(preps[key], hit)
            run.results[key] = _record(preps[key], result, Outcome.CACHE_HIT)
        todo = remaining
    use_batch = (
        mode != "sync"
        and provider.supports_batches
        and feature in _BULK_HANDLERS
        and (mode == "batch" or len(todo) >= settings.LLM_BATCH_MIN_ITEMS)
        and not _budget_block(feature)
    )
    if todo and use_batch:
        batch = _submit_batch([preps[k] for k in todo], [k for k in todo])
        if batch is not None:
            run.pending, run.batch_id = todo, batch.pk
            return run
    for key in todo:
        run.results[key] = _ask_prepared(preps[key], time.perf_counter())
    return run


def _offline_bulk(feature: str, writer: OfflineWriter, items: list[BulkItem]) -> BulkRun:
    """Every item in-process. Ledger rows go in with COPY on PostgreSQL and multi-row INSERTs of 400 items elsewhere: the ORM's
    per-field preparation cost more than the writers themselves (bench/llm_gateway). Their ids are
    not read back, so `call_id` is None on bulk offline results."""
    results, rows = {}, []
    content_types: dict[type, int] = {}
    perf = time.perf_counter
    screen = guardrails.screen_inputs
    serialize = prompting.serialize
    for item in items:
        t0 = perf()
        inputs = item.inputs or {}
        flags = [f"injection:{n}" for n in screen({str(k): serialize(v) for k, v in inputs.items()})]
        text, data = _split(writer(inputs))
        latency = (perf() - t0) * 1000
        results[item.key] = LLMResult(text=text, data=data, flags=flags, latency_ms=latency)
        about, ct_id, object_id = item.about, None, ""
        if about is not None and getattr(about, "pk", None) is not None:
            ct_id = content_types.get(type(about))
            if ct_id is None:
                ct_id = content_types[type(about)] = ContentType.objects.get_for_model(about).pk
            object_id = str(about.pk)
        rows.append((round(latency, 3), flags, ct_id, object_id))
    _insert_offline_rows(feature, rows)
    return BulkRun(results=results)


def _insert_offline_rows(feature: str, rows: list[tuple]) -> None:
    from django.db import connection

    fields = {f.attname: f for f in LLMCall._meta.concrete_fields if f.attname != "id"}
    constant = LLMCall(feature=feature, provider="offline", model="offline", outcome=Outcome.OFFLINE)
    constant.created_at = timezone.now()
    varying = ("latency_ms", "flags", "content_type_id", "object_id")
    fixed = [name for name in fields if name not in varying]
    prepared = [fields[name].get_db_prep_save(getattr(constant, name), connection) for name in fixed]
    flags_field = fields["flags"]
    no_flags = flags_field.get_db_prep_save([], connection)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(fields[name].column) for name in (*fixed, *varying))
    one_row = "(" + ", ".join(["%s"] * (len(fixed) + len(varying))) + ")"
    table = quote(LLMCall._meta.db_table)
    if connection.vendor == "postgresql":
        # COPY: a 400-row VALUES statement costs psycopg more to parse than the rows cost to store.
        plain = [getattr(constant, name) for name in fixed]
        with transaction.atomic(), connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for latency, flags, ct, oid in rows:
                    copy.write_row((*plain, latency, json.dumps(flags), ct, oid))
        return
    chunk = 400  # 400 rows x 22 columns stays under SQLite's 32,766 bound parameters
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            params = []
            for latency, flags, ct, oid in part:
                params += prepared
                params += (latency, flags_field.get_db_prep_save(flags, connection) if flags else no_flags, ct, oid)
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([one_row] * len(part))}",  # noqa: S608 - names from the model
                params,
            )


def _submit_batch(preps: list[_Prepared], keys: list[str]) -> LLMBatch | None:
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
                    **_about_fields(prep.about),
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


def _item_prep(batch: LLMBatch, item: LLMBatchItem, provider: Provider) -> _Prepared:
    return _Prepared(
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
        key=item.cache_key if provider.name == batch.provider else "",
    )


def collect_batches() -> dict[str, int]:
    """Fetch the results of every ended batch and hand each item's result to the feature's
    @bulk_handler. Idempotent: an item is claimed (pending -> done) in the same transaction as its
    handler call, so a crash re-delivers it and a second run skips it."""
    counts = {"batches": 0, "items": 0, "waiting": 0}
    for batch in LLMBatch.objects.filter(status=LLMBatch.Status.SUBMITTED).order_by("created_at"):
        if batch.feature not in _BULK_HANDLERS:
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
    handler = _BULK_HANDLERS[batch.feature]
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
                result = _ask_prepared(prep, started)
            handler(item.item_key, result)
            delivered += 1
    return delivered


def _batched_result(prep: _Prepared, reply: ModelReply, started: float) -> LLMResult:
    deadline = _monotonic() + settings.LLM_DEADLINE_SECONDS
    tries = _Attempts(count=1)
    tries.add(reply)
    error_kind = ""
    try:
        reply, data = _finish(prep, reply, deadline, tries)
        result = _model_result(prep, reply, data, tries)
        outcome = Outcome.OK
    except LLMError as exc:
        result = tries.apply(_offline_result(prep, reason=_reason(exc), error_kind=exc.kind))
        error_kind, outcome = exc.kind, Outcome.FALLBACK
    result.latency_ms = (time.perf_counter() - started) * 1000
    if outcome == Outcome.OK:
        _cache_put(prep, result)
    return _record(prep, result, outcome, error_kind, batched=True)
