"""The shared reply cache (`CachedReply` rows, keyed by everything that shaped a reply) and the
single flight: identical misses at the same moment make one model call, the others wait for it."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache as django_cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from llm import clock
from llm.models import CachedReply
from llm.prepared import LLMResult, Prepared, key_of

log = logging.getLogger(__name__)
_CACHE_COLUMNS = ("text", "data", "flags", "provider", "model", "input_tokens", "output_tokens")


# One SQL statement built from the model's fields, as the ledger insert (see llm.ledger).
def cache_get(prep: Prepared) -> LLMResult | None:
    from django.db import connection

    meta = CachedReply._meta
    quote = connection.ops.quote_name
    sql = (
        f"SELECT {', '.join(quote(meta.get_field(c).column) for c in _CACHE_COLUMNS)} FROM {quote(meta.db_table)} "  # noqa: S608
        f"WHERE {quote(meta.get_field('key').column)} = %s AND {quote(meta.get_field('expires_at').column)} > %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [key_of(prep), connection.ops.adapt_datetimefield_value(timezone.now())])
        found = cursor.fetchone()
    if found is None:
        return None
    values = dict(zip(_CACHE_COLUMNS, found, strict=True))
    for name in ("data", "flags"):
        values[name] = meta.get_field(name).from_db_value(values[name], None, connection)
    return from_cache(prep, CachedReply(**values))


def from_cache(prep: Prepared, hit: CachedReply) -> LLMResult:
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


def cache_put(prep: Prepared, result: LLMResult) -> None:
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
            CachedReply.objects.update_or_create(key=key_of(prep), defaults=defaults)
    except IntegrityError:
        pass  # another worker stored the same key a moment ago; theirs is as good as ours


PEER_POLL_SECONDS = 0.1


def _inflight_key(prep: Prepared) -> str:
    return f"llm:inflight:{key_of(prep)}"


def claim(prep: Prepared) -> bool:
    """Mark this key as being asked (in the shared Django cache: Redis when configured). False when
    another caller holds it. A cache outage never blocks a call: the caller then just asks."""
    try:
        return django_cache.add(_inflight_key(prep), 1, timeout=int(settings.LLM_DEADLINE_SECONDS) + 5)
    except Exception:  # noqa: BLE001 - any cache backend error
        log.warning("llm single-flight: cache unavailable, asking without the lock", exc_info=True)
        return True


def release(prep: Prepared) -> None:
    try:
        django_cache.delete(_inflight_key(prep))
    except Exception:  # noqa: BLE001 - the claim expires on its own
        log.warning("llm single-flight: could not release %s", _inflight_key(prep), exc_info=True)


def holds_sqlite_write_lock() -> bool:
    """SQLite transactions here begin IMMEDIATE (config/settings.py), so a caller inside one holds
    the database's only write lock: waiting would keep the peer from storing the reply it waits for.
    Such a caller asks the model itself, as before the single flight."""
    from django.db import connection

    return connection.vendor == "sqlite" and connection.in_atomic_block


def wait_for_peer(prep: Prepared) -> LLMResult | None:
    """Another caller is asking the model exactly this: wait for its reply to land in the reply
    cache instead of paying for the same answer twice. None (ask yourself) when the peer finished
    without storing one (it fell back) or the deadline passed."""
    deadline = clock.monotonic() + settings.LLM_DEADLINE_SECONDS
    while clock.monotonic() < deadline:
        clock.sleep(PEER_POLL_SECONDS)
        hit = cache_get(prep)
        if hit is not None:
            return hit
        try:
            if django_cache.get(_inflight_key(prep)) is None:
                return None
        except Exception:  # noqa: BLE001
            return None
    return None
