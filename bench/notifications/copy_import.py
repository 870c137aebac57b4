"""Import of customer profiles + activity on PostgreSQL against a bare COPY and Django bulk_create, same run.

    .venv/bin/python -m bench.notifications.copy_import                  # 1,000,000 customers, 2,000,000 rows
    BENCH_ROWS=100000 BENCH_BULK_CREATE=20000 .venv/bin/python -m bench.notifications.copy_import

Uses DATABASE_URL (default postgres://postgres@127.0.0.1:5432/h7_bench; the name must contain "bench").
Generates BENCH_ROWS customers (one Customer Profiles row and one Account Activity row each, cached in
BENCH_DIR), then times:
  1. the ceiling: a bare COPY of both files into two unindexed tables with the final column types;
  2. the product's import end to end (`crm.copyimport.run_copy_import` with the customer importer):
     decode checks, COPY into staging, every check in SQL, the merge into accounts, contacts and
     customer records (indexed, constrained, the trigram index on account names), commit, the stored
     run with its report. Segments and risk (`facts.recompute`) are timed on their own afterwards only
     with BENCH_RECOMPUTE=1: they are analysis, not import;
  3. the same import again (nothing changed: every row compared, nothing written);
  4. Django `bulk_create` of the same data (account, contact, record with its activity values) for
     BENCH_BULK_CREATE customers, the rows read with the csv module, 2,000 a batch.
Peak memory of this process (ru_maxrss) is printed after each step: it must not grow with BENCH_ROWS.
"""

from __future__ import annotations

import csv
import os
import resource
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
BULK_CREATE = int(os.environ.get("BENCH_BULK_CREATE", "100000"))
RECOMPUTE = os.environ.get("BENCH_RECOMPUTE") == "1"
OUT = Path(os.environ.get("BENCH_DIR", tempfile.gettempdir())) / f"h7_bench_copy_{ROWS}"

from bench.common import setup_django  # noqa: E402

setup_django("postgres://postgres@127.0.0.1:5432/h7_bench")

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from crm.copyimport import CHUNK, run_copy_import  # noqa: E402
from crm.models import Account, Contact, Team  # noqa: E402
from notifications import facts, sampledata  # noqa: E402
from notifications.importing import CustomerFilesImporter  # noqa: E402
from notifications.models import CustomerRecord  # noqa: E402


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
                while chunk := f.read(CHUNK):
                    copy.write(chunk)
    took = time.perf_counter() - t
    with connection.cursor() as cur:
        for kind in paths:
            cur.execute(f"DROP TABLE h7_bare_{kind}")
    return took


def clear(slug: str) -> Team:
    """A previous run's rows, removed in SQL (the ORM's cascade holds them all in memory)."""
    with connection.cursor() as cur:
        cur.execute("SELECT id FROM crm_team WHERE slug = %s", [slug])
        row = cur.fetchone()
        if row:
            for sql in (
                "DELETE FROM notifications_notification WHERE team_id = %s",
                "DELETE FROM notifications_customerrecord WHERE team_id = %s",
                "DELETE FROM crm_contact WHERE account_id IN (SELECT id FROM crm_account WHERE team_id = %s)",
                "DELETE FROM crm_account WHERE team_id = %s",
                "DELETE FROM crm_importrun WHERE team_id = %s",
            ):
                cur.execute(sql, row)
    return Team.objects.get_or_create(slug=slug, defaults={"name": slug})[0]


def django_bulk_create(team, paths, limit: int) -> float:
    t = time.perf_counter()
    with (
        paths["profiles"].open(newline="", encoding="utf-8") as fp,
        paths["activity"].open(newline="", encoding="utf-8") as fa,
        transaction.atomic(),
    ):
        batch = []
        for i, (p, a) in enumerate(zip(csv.DictReader(fp), csv.DictReader(fa), strict=False)):
            if i >= limit:
                break
            batch.append((p, a))
            if len(batch) == 2000:
                _create(team, batch)
                batch = []
        if batch:
            _create(team, batch)
    return time.perf_counter() - t


def _date(v: str):
    return v or None


def _create(team, rows) -> None:
    accounts = Account.objects.bulk_create(
        [
            Account(
                team=team,
                name=f"{p['first_name']} {p['last_name']}",
                kind="person",
                external_id=p["customer_id"],
                account_status=a["account_status"],
                churn_risk=float(a["churn_risk"]),
            )
            for p, a in rows
        ]
    )
    Contact.objects.bulk_create(
        [
            Contact(
                account=acc,
                name=acc.name,
                email=p["email"],
                phone=p["phone"],
                preferred_channel=p["preferred_channel"],
                opted_out=p["marketing_consent"] != "yes",
                external_id=p["customer_id"],
            )
            for acc, (p, _) in zip(accounts, rows, strict=True)
        ]  # fmt: skip
    )
    CustomerRecord.objects.bulk_create(
        [
            CustomerRecord(
                team=team,
                account=acc,
                customer_id=p["customer_id"],
                region=p["region"],
                tariff=p["tariff"],
                payment_method=p["payment_method"],
                monthly_spend=Decimal(p["monthly_spend_gbp"]),
                tenure_months=int(p["tenure_months"]),
                green_tariff=p["green_tariff"] == "yes",
                marketing_consent=p["marketing_consent"] == "yes",
                has_activity=True,
                account_status=a["account_status"],
                engagement_score=int(a["engagement_score"]),
                churn_risk=float(a["churn_risk"]),
                last_login=_date(a["last_login"]),
                payment_status=a["payment_status"],
                contract_end=_date(a["contract_end"]),
                outcome="closed" if a["outcome"] == "closed" else "switched" if a["outcome"] else "",
                outcome_on=_date(a["outcome_date"]),
            )
            for acc, (p, a) in zip(accounts, rows, strict=True)
        ]  # fmt: skip
    )


def timed_import(team, paths) -> tuple[float, object]:
    files = [(p.name, p) for p in paths.values()]
    t = time.perf_counter()
    run = run_copy_import(CustomerFilesImporter(recompute=False), files, team=team)
    return time.perf_counter() - t, run


def main() -> None:
    call_command("migrate", verbosity=0)
    print(f"machine: {os.cpu_count()} CPUs, {load()}")
    t = time.perf_counter()
    if not (OUT / sampledata.FILES["activity"]).exists():
        sampledata.write(OUT, ROWS, seed=11, kinds=("profiles", "activity"))
    paths = {k: OUT / sampledata.FILES[k] for k in ("profiles", "activity")}
    size = sum(p.stat().st_size for p in paths.values())
    rows = 2 * ROWS
    print(f"data: {ROWS:,} customers, {rows:,} rows, {size / 1e6:.0f} MB, ready in {time.perf_counter() - t:.0f}s")

    ceiling = bare_copy(paths)
    print(
        f"1. bare COPY into unindexed tables: {rows:,} rows in {ceiling:.1f}s = {rows / ceiling:,.0f} rows/s ({load()})"
    )

    team = clear("h7-bench-bulk")
    before = rss_mb()
    took, run = timed_import(team, paths)
    assert run.status == "imported" and run.created == rows, run.report
    print(
        f"2. import (checks, staging, merge, commit, report): {rows:,} rows in {took:.1f}s = {rows / took:,.0f} rows/s, "
        f"{ceiling / took:.0%} of the bare COPY ({load()}); peak RSS {rss_mb():.0f} MB (before: {before:.0f} MB)"
    )
    if RECOMPUTE:
        t = time.perf_counter()
        facts.recompute(team)
        print(f"   segments and risk recomputed: {ROWS:,} customers in {time.perf_counter() - t:.1f}s ({load()})")
    took2, again = timed_import(team, paths)
    assert again.unchanged == rows, again.report
    print(
        f"3. the same import again, nothing changed: {rows / took2:,.0f} rows/s ({load()}); peak RSS {rss_mb():.0f} MB"
    )

    orm_team = clear("h7-bench-orm")
    n = min(BULK_CREATE, ROWS)
    orm = django_bulk_create(orm_team, paths, n)
    print(
        f"4. Django bulk_create (account, contact, record with activity): {2 * n:,} rows in {orm:.1f}s = "
        f"{2 * n / orm:,.0f} rows/s; the import is {(rows / took) / (2 * n / orm):.1f}x bulk_create ({load()}); "
        f"peak RSS {rss_mb():.0f} MB"
    )
    clear("h7-bench-orm")


if __name__ == "__main__":
    main()
