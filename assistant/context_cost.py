"""What the answer call sends the model, whole playbook against retrieval, and what it costs.

No model is reachable where this is measured, so answer quality cannot be compared; what each mode
puts in front of the model can: whether the passages a question needs are in the prompt, how many
tokens the prompt holds, and the input cost per question with Anthropic prompt caching (the gateway
marks the system prompt and the `context` prefix with cache_control; the first call writes the
prefix at 1.25 x the input price, later calls within the cache's five minutes read it at 0.1 x).

Pure: takes texts and a price, returns numbers; `bench/assistant_context` feeds it the real requests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

# No tokenizer is at hand offline (Anthropic counts tokens server-side), so tokens are estimated at
# 4 characters each: Anthropic's rule of thumb for English prose; JSON-heavy prompts run a little
# denser, so the estimates are slightly low for the record sources.
CHARS_PER_TOKEN = 4
# A prefix shorter than this is not cached at all (Anthropic's minimum for Sonnet and Opus; 2,048
# for Haiku): it is billed as ordinary input on every call.
MIN_CACHEABLE_TOKENS = 1024
MILLION = Decimal(1_000_000)


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass(frozen=True)
class Request:
    """One answer call: the cacheable prefix (system prompt, plus the playbook in whole mode) and the
    part that changes per question (the question and its retrieved sources, the schema)."""

    prefix: str
    variable: str

    @property
    def prefix_tokens(self) -> int:
        return estimate_tokens(self.prefix)

    @property
    def variable_tokens(self) -> int:
        return estimate_tokens(self.variable)

    @property
    def tokens(self) -> int:
        return self.prefix_tokens + self.variable_tokens


def input_costs(requests: list[Request], price, *, min_cacheable: int = MIN_CACHEABLE_TOKENS) -> list[Decimal]:
    """Input cost in USD of each request, sent in order within the cache's lifetime: a prefix seen for
    the first time is written to the cache, a prefix seen before is read from it, and one shorter
    than `min_cacheable` is plain input every time. `price` has input, cache_read and cache_write in
    USD per million tokens (llm.config.Price)."""
    seen: set[str] = set()
    out = []
    for r in requests:
        prefix_tokens = r.prefix_tokens
        if prefix_tokens < min_cacheable:
            prefix_cost = prefix_tokens * price.input
        elif r.prefix in seen:
            prefix_cost = prefix_tokens * price.cache_read
        else:
            seen.add(r.prefix)
            prefix_cost = prefix_tokens * price.cache_write
        out.append((prefix_cost + r.variable_tokens * price.input) / MILLION)
    return out


def coverage(expected: list[str], present: set[str]) -> float:
    """Share of the expected passage headings that the prompt holds."""
    if not expected:
        raise ValueError("nothing expected")
    return sum(h in present for h in expected) / len(expected)


def switch_point(passage_chars: list[int], budget_chars: int) -> int | None:
    """How many passages of these sizes (in order) fit the whole-playbook budget before `auto`
    switches to retrieval; None when all of them fit."""
    total = 0
    for n, size in enumerate(passage_chars):
        total += size
        if total > budget_chars:
            return n
    return None
