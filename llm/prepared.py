"""One call made ready: inputs screened, serialized and trimmed, model chosen, cache key computed
(`Prepared`); what a call returns (`LLMResult`); schema validation; the offline writer's answer."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import jsonschema
from django.conf import settings

from llm import guardrails, prompting
from llm.providers import (
    ModelRequest,
    Provider,
)
from llm.registry import writer_for
from llm.scopes import current_scope

log = logging.getLogger(__name__)
GROUNDING = ("flag", "fallback", "off")


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


@dataclass
class Prepared:
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
    scope: int | None = None  # opaque to llm: the caller's grouping (crm passes a team id)
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


def prepare(
    *,
    feature,
    system,
    context,
    prompt,
    inputs,
    schema,
    max_tokens,
    grounding,
    ttl,
    force_refresh,
    about,
    provider,
    scope=None,
) -> Prepared:
    if grounding not in GROUNDING:
        raise ValueError(f"grounding must be one of {GROUNDING}")
    serialized = {str(name): prompting.serialize(value) for name, value in inputs.items()}
    flags = [f"injection:{name}" for name in guardrails.screen_inputs({str(k): v for k, v in inputs.items()})]
    trimmed = prompting.trim_values(serialized, settings.LLM_MAX_INPUT_CHARS)
    flags += [f"input_trimmed:{name}:{cut}" for name, cut in trimmed.removed.items()]
    model = settings.LLM_MODELS.get(feature) or provider.default_model
    return Prepared(
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
        scope=scope if scope is not None else current_scope(),
    )


def key_of(prep: Prepared) -> str:
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


_validators: dict[str, jsonschema.protocols.Validator] = {}


def validator_for(schema: dict):
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
    error = jsonschema.exceptions.best_match(validator_for(schema).iter_errors(data))
    if error is None:
        return ""
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"at {where}: {error.message}"[:500]


def split_output(out) -> tuple[str, Any]:
    if isinstance(out, str):
        return out, None
    return json.dumps(out, ensure_ascii=False, sort_keys=True, default=str), out


def offline_result(prep: Prepared, *, reason: str = "", error_kind: str = "", extra_flags=()) -> LLMResult:
    text, data = split_output(writer_for(prep.feature)(prep.raw_inputs))
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
