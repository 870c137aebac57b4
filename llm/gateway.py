"""The gateway's public face: every name features use, gathered from the modules that do the work.

- `llm.pipeline`: `ask` (screen, offline, cache, budget, provider with retries, guardrails, ledger);
- `llm.bulk`: `ask_many`, Message Batches submission and `collect_batches`;
- `llm.ledger`: the usage ledger and daily budgets;
- `llm.reply_cache`: the shared reply cache and the single flight;
- `llm.prepared`: one call made ready (`LLMResult`, schema validation, the offline answer);
- `llm.registry`: the provider in use, offline writers and bulk handlers;
- `llm.clock`: the sleep/monotonic seam tests replace.

Features import from `llm` itself (`llm.ask`, `llm.offline_writer`, ...), which resolves here.
"""

from llm.bulk import BulkItem, BulkRun, ask_many, collect_batches
from llm.ledger import budget_status, estimate_cost
from llm.pipeline import ask
from llm.prepared import LLMResult, schema_error
from llm.registry import bulk_handler, get_provider, offline_writer, provider_name, use_provider

__all__ = [
    "BulkItem",
    "BulkRun",
    "LLMResult",
    "ask",
    "ask_many",
    "budget_status",
    "bulk_handler",
    "collect_batches",
    "estimate_cost",
    "get_provider",
    "offline_writer",
    "provider_name",
    "schema_error",
    "use_provider",
]
