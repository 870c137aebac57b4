"""The co-pilot's tool cache: results per tool, per visibility scope and arguments, with a TTL per
tool (the seed's 5 minutes for records, 10 for the playbook) and hit/miss statistics.

It lives in Django's cache, so with `REDIS_URL` set every web process and worker shares one cache
(thread- and process-safe: Redis does the locking); without it, the local-memory cache is per
process and guarded by its own lock. The key includes the asker's visible team ids, so one rep's
cached answer is never served to someone who may not see it. A served hit touches no database.
"""

from __future__ import annotations

import hashlib
import json
import time

from django.conf import settings
from django.core.cache import cache

PREFIX = "assistant:tool"
PLAYBOOK_GENERATION = "assistant:playbook-generation"


def _ttl(tool: str) -> int:
    return int(settings.ASSISTANT_TOOL_TTLS.get(tool, settings.ASSISTANT_TOOL_TTLS.get("*", 300)))


def scope_key(team_ids) -> str:
    return "all" if team_ids is None else ",".join(str(t) for t in sorted(team_ids)) or "none"


def _key(tool: str, scope: str, args: dict) -> str:
    raw = json.dumps({"scope": scope, "args": args}, sort_keys=True, default=str)
    if tool == "search_playbook":
        # A re-imported playbook bumps the generation, so cached searches of the old text are not served.
        raw += f"|gen={playbook_generation()}"
    return f"{PREFIX}:{tool}:{hashlib.sha256(raw.encode()).hexdigest()[:32]}"


def _count(tool: str, what: str) -> None:
    key = f"{PREFIX}:stats:{tool}:{what}"
    if not cache.add(key, 1, None):
        try:
            cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.add(key, 1, None)


def _remember(tool: str, key: str, ttl: int) -> None:
    """Keys and expiry per tool, for the size figure only (best effort across processes)."""
    index_key = f"{PREFIX}:index:{tool}"
    now = time.time()
    index = {k: exp for k, exp in (cache.get(index_key) or {}).items() if exp > now}
    index[key] = now + ttl
    cache.set(index_key, index, None)


def get_or_call(tool: str, team_ids, args: dict, fn):
    """Return `(value, cached)`; `fn()` runs only on a miss and its (JSON-ready) value is stored."""
    key = _key(tool, scope_key(team_ids), args)
    hit = cache.get(key)
    if hit is not None:
        _count(tool, "hits")
        return hit, True
    _count(tool, "misses")
    value = fn()
    ttl = _ttl(tool)
    cache.set(key, value, ttl)
    _remember(tool, key, ttl)
    return value, False


def playbook_generation() -> int:
    return cache.get(PLAYBOOK_GENERATION, 0)


def playbook_changed() -> None:
    if not cache.add(PLAYBOOK_GENERATION, 1, None):
        cache.incr(PLAYBOOK_GENERATION)


def stats(tools=("lookup_client", "account_records", "search_playbook")) -> dict:
    now = time.time()
    per_tool = {}
    for tool in tools:
        hits = cache.get(f"{PREFIX}:stats:{tool}:hits", 0)
        misses = cache.get(f"{PREFIX}:stats:{tool}:misses", 0)
        size = sum(1 for exp in (cache.get(f"{PREFIX}:index:{tool}") or {}).values() if exp > now)
        per_tool[tool] = {"hits": hits, "misses": misses, "size": size, "ttl_seconds": _ttl(tool)}
    hits = sum(t["hits"] for t in per_tool.values())
    misses = sum(t["misses"] for t in per_tool.values())
    total = hits + misses
    return {
        "hits": hits,
        "misses": misses,
        "size": sum(t["size"] for t in per_tool.values()),
        "hit_rate": round(hits / total, 3) if total else 0.0,
        "tools": per_tool,
    }


def clear() -> None:
    for tool in ("lookup_client", "account_records", "search_playbook"):
        index = cache.get(f"{PREFIX}:index:{tool}") or {}
        cache.delete_many(
            [*index, f"{PREFIX}:index:{tool}", f"{PREFIX}:stats:{tool}:hits", f"{PREFIX}:stats:{tool}:misses"]
        )
