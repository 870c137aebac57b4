"""Deal nudges benchmark on PostgreSQL, the seed's approach timed in the same run.

    .venv/bin/python -m bench.nudges
    BENCH_DEALS=100000 BENCH_MESSAGES=1000000 BENCH_GENERATE=10000 .venv/bin/python -m bench.nudges
    BENCH_REUSE=1 ...   # keep the data loaded by the previous run

Uses DATABASE_URL (default postgres://postgres@127.0.0.1:5432/nt_bench_nudges; the name must contain
"bench"; it is created when missing). Measures:
  1. the stale scan with reply-speed signals (`scan.stale_verdicts`: refresh the stored signals,
     one narrow join, the pure rules):
       cold  - first scan, every deal's signals built from its touches (state reset);
       warm  - nothing new since the last scan (median of 3), on 1 and BENCH_WORKERS (2) workers;
       warm after BENCH_NEW_EMAIL_SHARE (1 %) of the deals got a new email (incremental refresh);
  2. the seed's approach on the same data: load crm_events.csv + emails.json, loop in Python;
  3. generating nudges for BENCH_GENERATE stale deals with the offline provider, writes included;
  4. the stream's first-event latency after a nudge is stored, through uvicorn (ASGI), 20 samples.
The load average is printed with each figure (the sandbox is shared).
"""

from __future__ import annotations

import csv
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

DEALS = int(os.environ.get("BENCH_DEALS", "100000"))
MESSAGES = int(os.environ.get("BENCH_MESSAGES", "1000000"))
GENERATE = int(os.environ.get("BENCH_GENERATE", "10000"))
REUSE = os.environ.get("BENCH_REUSE") == "1"
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
NEW_EMAIL_SHARE = float(os.environ.get("BENCH_NEW_EMAIL_SHARE", "0.01"))
WARM_SUBJECT = "Bench warm reply"
OUT = Path(os.environ.get("BENCH_DIR", tempfile.gettempdir())) / "nt_bench_nudges"


from bench.common import setup_django  # noqa: E402

setup_django("postgres://postgres@127.0.0.1:5432/nt_bench_nudges")

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from bench.nudges import data  # noqa: E402
from crm.models import Activity, Deal, Membership, Team  # noqa: E402
from nudges import rules, scan, services  # noqa: E402
from nudges.models import Nudge, SignalsState  # noqa: E402


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def add_replies(team_id: int, now: datetime, share: float) -> int:
    """A new inbound email on every 1/share-th open deal: what happens between two scans."""
    ids = list(
        Deal.objects.filter(team_id=team_id).order_by("id").values_list("id", "account_id", "primary_contact_id")
    )
    step = max(1, round(1 / share))
    rows = [
        Activity(
            account_id=account_id,
            contact_id=contact_id,
            deal_id=deal_id,
            kind="email",
            direction="in",
            occurred_at=now - timedelta(hours=1),
            subject=WARM_SUBJECT,
            body="Thanks, we are still reviewing.",
        )
        for deal_id, account_id, contact_id in ids[::step]
    ]
    Activity.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def stale_scan(team_ids, now, workers=1):
    return scan.stale_verdicts(team_ids=team_ids, now=now, workers=workers)


def seed_approach(csv_path: Path, json_path: Path, now: datetime):
    """The seed's main.py shape: load both files, loop deals in Python, metrics per stale deal."""
    with open(csv_path, newline="") as f:
        deals = list(csv.DictReader(f))
    with open(json_path) as f:
        emails = json.load(f)
    threads = {t["deal_id"]: t["thread"] for t in emails}  # (the seed scanned the list per deal)
    out = []
    for row in deals:
        last = datetime.fromisoformat(row["last_activity"]).replace(tzinfo=UTC)
        idle = (now - last).days
        urgency = idle * float(row["amount_eur"])
        if idle < 7 or urgency <= 250:
            continue
        thread = sorted(threads.get(row["deal_id"], []), key=lambda m: m["ts"])
        stamps = [datetime.fromisoformat(m["ts"]) for m in thread]
        gaps = [(b - a).total_seconds() / 3600 for a, b in zip(stamps, stamps[1:], strict=False)]
        reply = sum(gaps) / len(gaps) if gaps else None
        text = " ".join(m["body"] for m in thread).lower()
        tone = "casual" if any(w in text for w in ("hi ", "hey", "cheers", "!")) else "formal"
        out.append({"deal_id": row["deal_id"], "urgency": urgency, "reply_hours": reply, "tone": tone})
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stream_latency(team_id: int, deal_ids: list[int], samples: int = 20) -> list[float]:
    import httpx

    user, _ = get_user_model().objects.get_or_create(username="bench-rep")
    Membership.objects.get_or_create(user=user, team_id=team_id)
    token, _ = Token.objects.get_or_create(user=user)
    port = free_port()
    env = {**os.environ, "DEBUG": "1", "LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--port", str(port), "--log-level", "warning"],
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        latencies = []
        for deal_id in deal_ids[:samples]:
            last = Nudge.objects.order_by("-id").values_list("id", flat=True).first() or 0
            arrived: queue.Queue = queue.Queue()
            ready = threading.Event()

            def listen(last_id=last, ready=ready, arrived=arrived):
                headers = {"Authorization": f"Token {token.key}", "Last-Event-ID": str(last_id)}
                with httpx.stream("GET", f"{base}/api/nudges/stream/", headers=headers, timeout=30) as r:
                    for line in r.iter_lines():
                        if line.startswith("retry:"):
                            ready.set()
                        if line.startswith("event: nudge"):
                            arrived.put(time.perf_counter())
                            return

            reader = threading.Thread(target=listen, daemon=True)
            reader.start()
            ready.wait(10)
            time.sleep(0.05)  # connected and polling
            services.refresh_nudges(deal_ids=[deal_id])  # committed on return
            stored = time.perf_counter()
            latencies.append((arrived.get(timeout=10) - stored) * 1000)
            reader.join(5)
        return latencies
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    call_command("migrate", verbosity=0)
    now = data.utc_now()
    OUT.mkdir(parents=True, exist_ok=True)
    team = Team.objects.filter(slug="bench").first()
    if not (REUSE and team):
        t = time.perf_counter()
        info = data.generate(deals=DEALS, messages=MESSAGES, now=now, out_dir=OUT)
        print(
            f"data: {info['deals']:,} deals, {info['messages']:,} emails loaded with COPY in {time.perf_counter() - t:.1f}s"
        )
        team = Team.objects.get(slug="bench")
    Nudge.objects.all().delete()
    Activity.objects.filter(subject=WARM_SUBJECT).delete()  # replies added by a previous run
    print(f"machine: {os.cpu_count()} CPUs, {load()}")

    # Cold: the first scan on empty signal tables builds every deal's signals.
    SignalsState.objects.all().delete()
    with connection.cursor() as cur:
        cur.execute("DELETE FROM nudges_dealsignals")
        cur.execute("DELETE FROM nudges_contactsignals")
        for table in ("nudges_dealsignals", "nudges_contactsignals"):
            cur.execute(f"VACUUM ANALYZE {table}")
    t = time.perf_counter()
    stale, checked = stale_scan([team.pk], now)
    cold_s = time.perf_counter() - t
    ghosted = sum(1 for v in stale if rules.GHOSTED in v.codes)
    print(
        f"stale scan, cold (builds signals of all deals): {checked:,} open deals -> {len(stale):,} stale "
        f"({ghosted:,} ghosted) in {cold_s:.2f}s  [{load()}]"
    )
    with connection.cursor() as cur:  # what autovacuum does soon after a full rewrite of the tables
        for table in ("nudges_dealsignals", "nudges_contactsignals"):
            cur.execute(f"VACUUM ANALYZE {table}")
    results = {}
    for workers in (1, WORKERS):
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            stale, checked = stale_scan([team.pk], now, workers)
            runs.append(time.perf_counter() - t)
        results[workers] = statistics.median(runs)
        print(
            f"stale scan, warm, {workers} worker(s): {len(stale):,} stale in {results[workers]:.2f}s "
            f"(median of 3: {', '.join(f'{r:.2f}' for r in runs)})  [{load()}]"
        )
    t = time.perf_counter()
    scan.collect_facts(team_ids=[team.pk], refresh=False)
    print(f"  of which the narrow join and row loading (1 worker): {time.perf_counter() - t:.2f}s")
    added = add_replies(team.pk, now, NEW_EMAIL_SHARE)
    after = []
    for _ in range(3):
        t = time.perf_counter()
        stale, checked = stale_scan([team.pk], now)
        after.append(time.perf_counter() - t)
    print(
        f"stale scan after {added:,} deals got a new email: {len(stale):,} stale; first scan (refreshes them) "
        f"{after[0]:.2f}s, then {after[1]:.2f}s (re-reads the same id range once), {after[2]:.2f}s  [{load()}]"
    )
    warm_s = results[1]

    t = time.perf_counter()
    seed = seed_approach(OUT / "crm_events.csv", OUT / "emails.json", now)
    seed_s = time.perf_counter() - t
    print(
        f"seed approach (load CSV+JSON, loop in Python): {len(seed):,} stale in {seed_s:.2f}s -> "
        f"{seed_s / cold_s:.1f}x the cold scan, {seed_s / warm_s:.1f}x the warm scan, "
        f"{seed_s / after[0]:.1f}x the scan after new emails  [{load()}]"
    )

    ids = [v.deal_id for v in stale][: GENERATE + 20]
    gen_ids, stream_ids = ids[:GENERATE], ids[GENERATE:]
    t = time.perf_counter()
    total = services.RefreshSummary()
    for chunk in services.chunked(gen_ids, 500):
        total.add(services.refresh_nudges(deal_ids=chunk, now=now))
    gen_s = time.perf_counter() - t
    print(
        f"generate: {total.created:,} nudges for {len(gen_ids):,} stale deals in {gen_s:.2f}s "
        f"= {total.created / gen_s:,.0f} nudges/s (offline provider, writes included)  [{load()}]"
    )
    t = time.perf_counter()
    again = services.RefreshSummary()
    for chunk in services.chunked(gen_ids, 500):
        again.add(services.refresh_nudges(deal_ids=chunk, now=now))
    print(
        f"rerun on unchanged inputs: {again.unchanged:,} unchanged, {again.created + again.updated} written "
        f"in {time.perf_counter() - t:.2f}s"
    )

    lat = stream_latency(team.pk, stream_ids)
    lat.sort()
    print(
        f"stream first-event latency after store (uvicorn, {len(lat)} samples): median {statistics.median(lat):.0f} ms, "
        f"p95 {lat[int(len(lat) * 0.95) - 1]:.0f} ms, max {lat[-1]:.0f} ms"
    )


if __name__ == "__main__":
    main()
