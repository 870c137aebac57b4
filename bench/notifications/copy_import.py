"""Bulk import of customer profiles + activity on PostgreSQL against a bare COPY, same run.

    .venv/bin/python -m bench.notifications.copy_import
    BENCH_ROWS=1000000 BENCH_BULK_CREATE=100000 .venv/bin/python -m bench.notifications.copy_import

Uses DATABASE_URL (default postgres://postgres@127.0.0.1:5432/h7_bench). Generates BENCH_ROWS customers
(one Customer Profiles row and one Account Activity row each), then times:
  1. the ceiling: a bare COPY of both files into two unindexed tables with the final column types;
  2. `notifications.bulkload.load`: COPY into staging, checks in SQL, merge into accounts, contacts and
     customer records (indexed, constrained) and the activity update, one transaction;
  3. Django `bulk_create` of the same data (accounts, contacts, records) for BENCH_BULK_CREATE customers,
     the rows parsed with the csv module, 2,000 a batch.
Peak memory (ru_maxrss) is printed after each step.
"""

from __future__ import annotations

import csv
import os
import resource
import tempfile
import time
from decimal import Decimal
from pathlib import Path

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/h7_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
BULK_CREATE = int(os.environ.get("BENCH_BULK_CREATE", "100000"))
OUT = Path(os.environ.get("BENCH_DIR", tempfile.gettempdir())) / f"h7_bench_copy_{ROWS}"

from bench.common import ensure_database  # noqa: E402

ensure_database(os.environ["DATABASE_URL"])

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from crm.models import Account, Contact, Team  # noqa: E402
from notifications import bulkload, sampledata  # noqa: E402
from notifications.models import CustomerRecord  # noqa: E402


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def rss() -> str:
    return f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"


BARE = {
    "profiles": "customer_id varchar(64), first_name varchar(100), last_name varchar(100), email varchar(254), "
    "phone varchar(40), region varchar(100), tariff varchar(100), payment_method varchar(50), monthly_spend_gbp numeric(9,2), "
    "tenure_months int, green_tariff boolean, preferred_channel varchar(20), marketing_consent boolean",
    "activity": "customer_id varchar(64), account_status varchar(50), engagement_score smallint, churn_risk float8, "
    "last_login date, payment_status varchar(10), contract_end date, outcome varchar(20), outcome_date date",
}


def bare_copy(paths) -> float:
    t = time.perf_counter()
    with transaction.atomic(), connection.cursor() as c:
        cur = c.cursor
        for kind, path in paths.items():
            cur.execute(f"DROP TABLE IF EXISTS h7_bare_{kind}")
            cur.execute(f"CREATE TABLE h7_bare_{kind} ({BARE[kind]})")
            with (
                path.open("rb") as f,
                cur.copy(f"COPY h7_bare_{kind} FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
            ):
                while chunk := f.read(bulkload.CHUNK):
                    copy.write(chunk)
    took = time.perf_counter() - t
    with connection.cursor() as cur:
        for kind in paths:
            cur.execute(f"DROP TABLE h7_bare_{kind}")
    return took


def django_bulk_create(team, path: Path, limit: int) -> float:
    t = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as f, transaction.atomic():
        reader = csv.DictReader(f)
        batch = []
        for i, row in enumerate(reader):
            if i >= limit:
                break
            batch.append(row)
            if len(batch) == 2000:
                _create(team, batch)
                batch = []
        if batch:
            _create(team, batch)
    return time.perf_counter() - t


def _create(team, rows) -> None:
    accounts = Account.objects.bulk_create(
        [
            Account(team=team, name=f"{r['first_name']} {r['last_name']}", kind="person", external_id=r["customer_id"])
            for r in rows
        ]
    )
    Contact.objects.bulk_create(
        [
            Contact(
                account=a,
                name=a.name,
                email=r["email"],
                phone=r["phone"],
                preferred_channel=r["preferred_channel"],
                opted_out=r["marketing_consent"] != "yes",
                external_id=r["customer_id"],
            )
            for a, r in zip(accounts, rows, strict=True)
        ]  # fmt: skip
    )
    CustomerRecord.objects.bulk_create(
        [
            CustomerRecord(
                team=team,
                account=a,
                customer_id=r["customer_id"],
                region=r["region"],
                tariff=r["tariff"],
                payment_method=r["payment_method"],
                monthly_spend=Decimal(r["monthly_spend_gbp"]),
                tenure_months=int(r["tenure_months"]),
                green_tariff=r["green_tariff"] == "yes",
                marketing_consent=r["marketing_consent"] == "yes",
            )
            for a, r in zip(accounts, rows, strict=True)
        ]  # fmt: skip
    )


def main() -> None:
    call_command("migrate", verbosity=0)
    print(f"machine: {os.cpu_count()} CPUs, {load()}")
    t = time.perf_counter()
    if not (OUT / sampledata.FILES["activity"]).exists():
        sampledata.write(OUT, ROWS, seed=11, kinds=("profiles", "activity"))
    paths = {k: OUT / sampledata.FILES[k] for k in ("profiles", "activity")}
    size = sum(p.stat().st_size for p in paths.values())
    print(
        f"data: {ROWS:,} customers, {2 * ROWS:,} rows, {size / 1e6:.0f} MB, ready in {time.perf_counter() - t:.0f}s; {rss()}"
    )

    ceiling = bare_copy(paths)
    print(
        f"bare COPY into unindexed tables: {2 * ROWS:,} rows in {ceiling:.1f}s = {2 * ROWS / ceiling:,.0f} rows/s ({load()})"
    )

    with (
        connection.cursor() as cur
    ):  # a previous run's rows, removed in SQL (the ORM's cascade holds them all in memory)
        for name in ("h7-bench-bulk", "h7-bench-orm"):
            cur.execute("SELECT id FROM crm_team WHERE slug = %s", [name])
            row = cur.fetchone()
            if row:
                cur.execute("DELETE FROM notifications_customerrecord WHERE team_id = %s", row)
                cur.execute(
                    "DELETE FROM crm_contact WHERE account_id IN (SELECT id FROM crm_account WHERE team_id = %s)", row
                )
                cur.execute("DELETE FROM crm_account WHERE team_id = %s", row)
    team, _ = Team.objects.get_or_create(slug="h7-bench-bulk", defaults={"name": "H7 bench bulk"})
    t = time.perf_counter()
    result = bulkload.load(team=team, profiles=paths["profiles"], activity=paths["activity"])
    took = time.perf_counter() - t
    assert result.rejected == {"profiles": 0, "activity": 0}, result.issues[:5]
    print(
        f"bulkload (staging, checks, merge): {2 * ROWS:,} rows in {took:.1f}s = {2 * ROWS / took:,.0f} rows/s, "
        f"{ceiling / took:.0%} of the bare COPY ({load()}); {rss()}"
    )
    t = time.perf_counter()
    again = bulkload.load(team=team, profiles=paths["profiles"], activity=paths["activity"])
    took2 = time.perf_counter() - t
    print(f"bulkload again, nothing changed: {2 * ROWS / took2:,.0f} rows/s ({load()}); rejected {again.rejected}")

    orm_team, _ = Team.objects.get_or_create(slug="h7-bench-orm", defaults={"name": "H7 bench ORM"})
    n = min(BULK_CREATE, ROWS)
    orm = django_bulk_create(orm_team, paths["profiles"], n)
    print(
        f"Django bulk_create (profiles only: account, contact, record): {n:,} customers in {orm:.1f}s = {n / orm:,.0f}/s; "
        f"bulkload profile+activity rows/s over bulk_create customers/s: {(2 * ROWS / took) / (n / orm):.1f}x ({load()}); {rss()}"
    )


if __name__ == "__main__":
    main()
