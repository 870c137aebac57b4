"""Gateway entry point (first cut: offline provider only; issue 3 adds providers, cache, ledger)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

OfflineWriter = Callable[[dict], "str | dict"]
_OFFLINE_WRITERS: dict[str, OfflineWriter] = {}


def offline_writer(feature: str):
    """Register the deterministic, data-grounded writer used when no model is available."""

    def decorator(fn: OfflineWriter) -> OfflineWriter:
        _OFFLINE_WRITERS[feature] = fn
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

    @property
    def offline(self) -> bool:
        return self.provider == "offline"


def ask(
    *,
    feature: str,
    system: str,
    prompt: str,
    inputs: dict,
    schema: dict | None = None,
    max_tokens: int = 512,
    ttl: timedelta | None = None,
    force_refresh: bool = False,
    about: Any = None,
) -> LLMResult:
    started = time.perf_counter()
    writer = _OFFLINE_WRITERS.get(feature)
    if writer is None:
        raise LookupError(f"No offline writer registered for feature {feature!r}")
    out = writer(inputs)
    text = out if isinstance(out, str) else ""
    data = out if not isinstance(out, str) else None
    return LLMResult(text=text, data=data, latency_ms=(time.perf_counter() - started) * 1000)
