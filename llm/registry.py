"""What answers a call: the provider in use (settings, or `use_provider` in tests and the
benchmark) and the features' registered offline writers and bulk handlers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import contextmanager
from typing import TYPE_CHECKING

from django.conf import settings

from llm.providers import (
    AnthropicProvider,
    BedrockProvider,
    OfflineProvider,
    OpenAICompatibleProvider,
    Provider,
)

if TYPE_CHECKING:  # pragma: no cover
    from llm.prepared import LLMResult  # noqa: F401 - prepared imports this module

log = logging.getLogger(__name__)
OfflineWriter = Callable[[dict], "str | dict"]
_OFFLINE_WRITERS: dict[str, OfflineWriter] = {}
BulkHandler = Callable[[str, "LLMResult"], None]
BULK_HANDLERS: dict[str, BulkHandler] = {}


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
        BULK_HANDLERS[feature] = fn
        return fn

    return decorator


def writer_for(feature: str) -> OfflineWriter:
    writer = _OFFLINE_WRITERS.get(feature)
    if writer is None:
        raise LookupError(
            f"No offline writer registered for feature {feature!r}: decorate one with "
            f"@offline_writer({feature!r}) in the feature's ai.py and import it from AppConfig.ready()"
        )
    return writer


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
        settings.LLM_BEDROCK_REGION,
        settings.LLM_BEDROCK_BASE_URL,
    )
    with _built_lock:
        provider = _built.get(config)
        if provider is None:
            provider = _build(*config)
            _built[config] = provider
    return provider


def _build(
    name, anthropic_key, base_url, api_key, model, json_mode, connect_timeout, bedrock_region, bedrock_url
) -> Provider:
    if name == "anthropic":
        return AnthropicProvider(api_key=anthropic_key, model=model, connect_timeout=connect_timeout)
    if name == "bedrock":
        return BedrockProvider(
            model=model, region=bedrock_region, base_url=bedrock_url, connect_timeout=connect_timeout
        )
    if name == "openai-compatible":
        return OpenAICompatibleProvider(
            base_url=base_url, model=model, api_key=api_key, json_mode=json_mode, connect_timeout=connect_timeout
        )
    return OfflineProvider()


def provider_name() -> str:
    """ "offline", "anthropic", "bedrock" or "openai-compatible": what answers right now."""
    return get_provider().name
