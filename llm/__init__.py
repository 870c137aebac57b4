"""The only code that talks to a model provider. It knows nothing about CRMs.

Features call `ask(...)` (or `ask_many(...)` for bulk runs) and register an offline writer for their
feature name with `@offline_writer("app.feature")`; see docs/llm.md.

The public names are resolved lazily so that config/settings.py can import the pure parsers in
`llm.config` before Django's app registry is ready.
"""

from typing import TYPE_CHECKING

__all__ = [
    "BulkItem",
    "BulkRun",
    "LLMResult",
    "ask",
    "ask_many",
    "bulk_handler",
    "offline_writer",
    "provider_name",
    "use_provider",
]

if TYPE_CHECKING:  # pragma: no cover
    from llm.gateway import (  # noqa: F401
        BulkItem,
        BulkRun,
        LLMResult,
        ask,
        ask_many,
        bulk_handler,
        offline_writer,
        provider_name,
        use_provider,
    )


def __getattr__(name):
    if name in __all__:
        from llm import gateway

        return getattr(gateway, name)
    raise AttributeError(f"module 'llm' has no attribute {name!r}")
