"""LLM gateway benchmark: per-call overhead (offline provider, cache hit) and offline bulk throughput,
each timed against the naive approach in the same run.

    .venv/bin/python -m bench.llm_gateway            # SQLite file in a temp dir
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nt_llm_bench .venv/bin/python -m bench.llm_gateway
    BENCH_N=5000 BENCH_BULK=50000 ...                 # bigger runs

SQLite: a fresh file in a temp dir. PostgreSQL: the named database (its name must contain "bench") is
migrated and the benchmark's own rows (feature "bench.reply") are deleted before each run.
BENCH_SQLITE_WAL=1 runs SQLite in WAL mode with synchronous=NORMAL.
"""

import os
import statistics
import sys
import tempfile
import time

from bench.common import setup_django

tmp = tempfile.mkdtemp(prefix="llm-bench-")
setup_django(f"sqlite:///{tmp}/bench.sqlite3")

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from bench.llm_gateway import data  # noqa: E402
from llm import BulkItem, ask, ask_many, offline_writer, use_provider  # noqa: E402
from llm.models import CachedReply, LLMCall  # noqa: E402
from llm.testing import FakeProvider, reply  # noqa: E402

N = int(os.environ.get("BENCH_N", "2000"))
BULK = int(os.environ.get("BENCH_BULK", "20000"))
SYSTEM = "You write short, polite support replies for NextTouch. British English. " * 20
PROMPT = "Reply to {customer} about the ticket below. Use only facts from the data."

offline_writer("bench.reply")(data.offline_reply)


def timed(fn, n: int) -> float:
    """Milliseconds per call, median of 3 runs of n calls."""
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        fn(n)
        runs.append((time.perf_counter() - start) * 1000 / n)
    return statistics.median(runs)


def _in_transaction(fn, n):
    from django.db import transaction

    with transaction.atomic():
        fn(n)


def main() -> None:
    using_temp = os.environ["DATABASE_URL"].startswith(f"sqlite:///{tmp}")
    if not using_temp and "bench" not in connection.settings_dict["NAME"]:
        sys.exit("Refusing to run against a database whose name does not contain 'bench'.")
    call_command("migrate", verbosity=0)
    wal = os.environ.get("BENCH_SQLITE_WAL") == "1" and connection.vendor == "sqlite"
    if wal:  # what a SQLite deployment would configure: commits stop waiting for fsync
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
    LLMCall.objects.filter(feature="bench.reply").delete()  # a kept PostgreSQL bench database
    CachedReply.objects.filter(feature="bench.reply").delete()
    rows = data.items(N)
    bulk_rows = data.items(BULK, seed=11)
    out = []

    # 1. Offline provider, one call at a time: gateway vs calling the writer directly.
    def naive_offline(n):
        for i in range(n):
            data.offline_reply(rows[i % len(rows)])

    def gateway_offline(n):
        for i in range(n):
            ask(feature="bench.reply", system=SYSTEM, prompt=PROMPT, inputs=rows[i % len(rows)])

    naive_ms = timed(naive_offline, N)
    offline_ms = timed(gateway_offline, N)
    out.append(("Offline provider, autocommit", offline_ms, "writer called directly", naive_ms))

    # 2. Cache hit vs the same call without a cache (zero-latency fake model: pure bookkeeping).
    fake = FakeProvider([reply("Hello Dana, thank you for your message. We will reply today.")])
    with use_provider(fake):
        for row in rows:  # warm the cache
            ask(feature="bench.reply", system=SYSTEM, prompt=PROMPT, inputs=row, ttl=3600)

        def cached(n):
            for i in range(n):
                result = ask(feature="bench.reply", system=SYSTEM, prompt=PROMPT, inputs=rows[i % len(rows)], ttl=3600)
                assert result.cached

        def uncached(n):
            for i in range(n):
                ask(feature="bench.reply", system=SYSTEM, prompt=PROMPT, inputs=rows[i % len(rows)], ttl=0)

        cached_ms = timed(cached, N)
        uncached_ms = timed(uncached, N)
        # House style: features call ask() from an @transaction.atomic service, so the ledger row
        # rides on the commit the feature makes anyway. This is the gateway's own overhead.
        cached_tx_ms = timed(lambda n: _in_transaction(cached, n), N)
        uncached_tx_ms = timed(lambda n: _in_transaction(uncached, n), N)
        offline_tx_ms = timed(lambda n: _in_transaction(gateway_offline, n), N)
    out.append(("Cache hit, autocommit", cached_ms, "no cache, 0 ms fake model", uncached_ms))
    out.append(("Cache hit, in caller's transaction", cached_tx_ms, "no cache, 0 ms fake model", uncached_tx_ms))
    out.append(("Offline, in caller's transaction", offline_tx_ms, "writer called directly", naive_ms))

    # 3. Bulk offline: ask_many vs a loop of ask().
    bulk_items = [BulkItem(key=str(i), inputs=row) for i, row in enumerate(bulk_rows)]

    def bulk(n):
        ask_many(feature="bench.reply", system=SYSTEM, prompt=PROMPT, items=bulk_items[:n])

    def loop(n):
        for item in bulk_items[:n]:
            ask(feature="bench.reply", system=SYSTEM, prompt=PROMPT, inputs=item.inputs)

    bulk_ms = timed(bulk, BULK)
    loop_ms = timed(loop, min(BULK, N))
    out.append(("Offline bulk, per item (ask_many)", bulk_ms, "loop of ask()", loop_ms))

    vendor = connection.vendor
    load = os.getloadavg()[0]
    print(
        f"LLM gateway benchmark on {vendor}{' (WAL, synchronous=NORMAL)' if wal else ''}; N={N}, bulk={BULK}; "
        f"{os.cpu_count()} CPUs, load {load:.1f}; ledger rows written: {LLMCall.objects.count():,}"
    )
    print(f"{'case':<36} {'ms/call':>9} {'per s':>10}   {'baseline':<28} {'ms/call':>9} {'baseline/ours':>13}")
    for name, ours, naive_name, naive in out:
        print(f"{name:<36} {ours:>9.4f} {1000 / ours:>10,.0f}   {naive_name:<28} {naive:>9.4f} {naive / ours:>12.2f}x")
    print(
        f"targets: cached call < 2 ms (gateway overhead, in a transaction): {'met' if cached_tx_ms < 2 else 'MISSED'}; "
        f"offline bulk >= 10,000/s: {'met' if 1000 / bulk_ms >= 10_000 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
