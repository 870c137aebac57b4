"""Import of customer profiles + activity on PostgreSQL against a bare COPY and Django bulk_create, same run.

    .venv/bin/python -m bench.notifications.copy_import                  # 1,000,000 customers, 2,000,000 rows
    BENCH_ROWS=100000 BENCH_BULK_CREATE=20000 .venv/bin/python -m bench.notifications.copy_import

Uses DATABASE_URL (default postgres://postgres@127.0.0.1:5432/h7_bench; the name must contain "bench").
Generates BENCH_ROWS customers (one Customer Profiles row and one Account Activity row each, cached in
BENCH_DIR), then times:
  1. the ceiling: a bare COPY of both files into two unindexed tables with the final column types;
  1b. the second ceiling, what any importer must pay: a bare COPY of the same customers, already in the
     product's shape (files written beforehand, untimed), into the product's three tables with all their
     indexes and foreign keys (account, contact, customer record), commit included; no checks, no merge;
  1c. the same with the GIN pending lists of the account names raised as the import raises them;
  2. the product's import end to end (`crm.copyimport.run_copy_import` with the customer importer):
     decode checks, COPY into staging, every check in SQL, the merge into accounts, contacts and
     customer records (indexed, constrained, the trigram index on account names), commit, the stored
     run with its report. Segments and risk (`facts.recompute`) are timed on their own afterwards only
     with BENCH_RECOMPUTE=1: they are analysis, not import;
  3. the same import again (nothing changed: every row compared, nothing written);
  4. Django `bulk_create` of the same data (account, contact, record with its activity values) for
     BENCH_BULK_CREATE customers, the rows read with the csv module, 2,000 a batch.
Peak memory of this process (ru_maxrss) is printed after each step: it must not grow with BENCH_ROWS.
BENCH_QUICK=1 stops after the import (to compare one change). With BENCH_STEPS=1 the import's statements are timed one by one (the slowest printed, grouped by their
first words), the CPU time of this process beside each figure.
"""

from __future__ import annotations

import contextlib
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
STEPS = os.environ.get("BENCH_STEPS") == "1"
QUICK = os.environ.get("BENCH_QUICK") == "1"  # the ceilings and the import only (comparing one change)
OUT = Path(os.environ.get("BENCH_DIR", tempfile.gettempdir())) / f"h7_bench_copy_{ROWS}"

from bench.common import setup_django  # noqa: E402

setup_django("postgres://postgres@127.0.0.1:5432/h7_bench")

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from crm.copyimport import CHUNK, bulk_gin_inserts, run_copy_import  # noqa: E402
from crm.models import Account, Contact, ImportRun, Team  # noqa: E402
from notifications import facts, sampledata  # noqa: E402
from notifications.importing import CustomerFilesImporter  # noqa: E402
from notifications.models import CustomerRecord  # noqa: E402


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu() -> float:
    """CPU seconds of this process (PostgreSQL's work is in its own backend)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


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


# The product's three tables, in the order of their columns in the files written by `product_files`.
PRODUCT_COLUMNS = {
    "crm_account": "id, team_id, name, kind, external_id, industry, total_spend, lifetime_value, churn_risk, "
    "is_vip, segment, account_status, extra, created_at, updated_at",
    "crm_contact": "account_id, name, title, email, phone, preferred_channel, language, opted_out, external_id, "
    "created_at, time_zone",
    "notifications_customerrecord": "team_id, account_id, customer_id, region, tariff, payment_method, monthly_spend, "
    "tenure_months, green_tariff, marketing_consent, has_activity, account_status, engagement_score, churn_risk, "
    "last_login, payment_status, contract_end, outcome, outcome_on, segment, segment_reason, risk_score, risk_raw, "
    "risk_factors, priority, updated_at, import_run_id",
}
# Text columns whose blank is '' (COPY reads an unquoted blank as NULL; dates keep NULL).
NOT_NULL = {
    "crm_account": "name, external_id, industry, segment, account_status",
    "crm_contact": "name, title, email, phone, external_id, time_zone",
    "notifications_customerrecord": "customer_id, region, tariff, payment_method, account_status, payment_status, "
    "outcome, segment, segment_reason",
}


def product_files(paths, team, run_id: int) -> tuple[dict[str, Path], int]:
    """The same customers as rows of the product's three tables (untimed: the ceiling times only COPY).
    Account ids are a block reserved from the sequence, as the import does."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_get_serial_sequence('crm_account', 'id')")
        seq = cur.fetchone()[0]
        cur.execute("SELECT nextval(%s::regclass)", [seq])
        first = cur.fetchone()[0]
        cur.execute("SELECT setval(%s::regclass, %s)", [seq, first + ROWS])
    out = {t: OUT / f"ceiling_{t}.csv" for t in PRODUCT_COLUMNS}
    at = "2026-11-27 00:00:00+00"
    handles = {t: p.open("w", newline="", encoding="utf-8") for t, p in out.items()}
    try:
        w = {t: csv.writer(h) for t, h in handles.items()}
        with (
            paths["profiles"].open(newline="", encoding="utf-8") as fp,
            paths["activity"].open(newline="", encoding="utf-8") as fa,
        ):
            for i, (p, a) in enumerate(zip(csv.DictReader(fp), csv.DictReader(fa), strict=True)):
                aid = first + 1 + i
                name = f"{p['first_name']} {p['last_name']}"
                w["crm_account"].writerow(
                    [aid, team.pk, name, "person", p["customer_id"], "", 0, 0, a["churn_risk"], "f", "",
                     a["account_status"], "{}", at, at]
                )  # fmt: skip
                w["crm_contact"].writerow(
                    [aid, name, "", p["email"], p["phone"], p["preferred_channel"], "en",
                     "f" if p["marketing_consent"] == "yes" else "t", p["customer_id"], at, ""]
                )  # fmt: skip
                w["notifications_customerrecord"].writerow(
                    [team.pk, aid, p["customer_id"], p["region"], p["tariff"], p["payment_method"],
                     p["monthly_spend_gbp"], p["tenure_months"], "t" if p["green_tariff"] == "yes" else "f",
                     "t" if p["marketing_consent"] == "yes" else "f", "t", a["account_status"],
                     a["engagement_score"], a["churn_risk"], a["last_login"], a["payment_status"], a["contract_end"],
                     "closed" if a["outcome"] == "closed" else "switched" if a["outcome"] else "", a["outcome_date"],
                     "", "", 1, 0, "[]", "Low", at, run_id]
                )  # fmt: skip
    finally:
        for h in handles.values():
            h.close()
    return out, first


def product_copy(files: dict[str, Path], gin_raised: bool) -> float:
    """COPY into the product's tables, indexes and deferred foreign keys included; commit timed. With
    `gin_raised`, the account names' GIN indexes take the import's raised pending list, merged once."""
    t = time.perf_counter()
    with transaction.atomic(), connection.cursor() as c:
        cur = c.cursor
        for table, path in files.items():
            gin = bulk_gin_inserts(cur, table) if gin_raised else contextlib.nullcontext()
            with (
                gin,
                path.open("rb") as f,
                cur.copy(
                    f"COPY {table} ({PRODUCT_COLUMNS[table]}) FROM STDIN (FORMAT csv, FORCE_NOT_NULL ({NOT_NULL[table]}))"
                ) as copy,
            ):
                while chunk := f.read(CHUNK):
                    copy.write(chunk)
    return time.perf_counter() - t


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


_steps: dict[str, list[tuple[float, float]]] = {}  # statement -> [(wall, CPU of the PostgreSQL backend)]


def backend_cpu(pid: int) -> float:
    """CPU seconds of the PostgreSQL backend serving this connection (the import's work runs there, so
    this figure moves much less with the other load on the box than the wall clock)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # another host: wall clock only
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_statements() -> None:
    """BENCH_STEPS=1: time every statement psycopg runs (an instrument of the bench only), COPY and
    COMMIT included: wall clock and the backend's CPU."""
    import re

    import psycopg

    def key(query) -> str:
        text = query if isinstance(query, str) else str(getattr(query, "_obj", query))
        words = re.sub(r"\s+", " ", text).strip()
        head = re.match(r"(CREATE TEMP TABLE \w+|INSERT INTO \w+|UPDATE \w+|DELETE FROM \w+|COPY \w+|\w+ ?\w*)", words)
        return head.group(1) if head else words[:40]

    @contextlib.contextmanager
    def timing(name: str, pid: int):
        t, c = time.perf_counter(), backend_cpu(pid)
        try:
            yield
        finally:
            _steps.setdefault(name, []).append((time.perf_counter() - t, backend_cpu(pid) - c))

    execute, copy, commit = psycopg.Cursor.execute, psycopg.Cursor.copy, psycopg.Connection.commit

    def timed_execute(self, query, params=None, **kw):
        with timing(key(query), self.connection.info.backend_pid):
            return execute(self, query, params, **kw)

    @contextlib.contextmanager
    def timed_copy(self, statement, params=None, **kw):
        with timing(key(statement), self.connection.info.backend_pid), copy(self, statement, params, **kw) as c:
            yield c

    def timed_commit(self):
        with timing("COMMIT (the deferred foreign-key checks)", self.info.backend_pid):
            return commit(self)

    psycopg.Cursor.execute, psycopg.Cursor.copy, psycopg.Connection.commit = timed_execute, timed_copy, timed_commit


def print_steps() -> None:
    wall = sum(w for v in _steps.values() for w, _ in v)
    busy = sum(c for v in _steps.values() for _, c in v)
    print("     wall     backend CPU")
    for k, v in sorted(_steps.items(), key=lambda kv: -sum(w for w, _ in kv[1]))[:16]:
        print(f"     {sum(w for w, _ in v):6.2f}s  {sum(c for _, c in v):6.2f}s  {len(v):4}x  {k}")
    print(f"     {wall:6.2f}s  {busy:6.2f}s  in all statements")
    _steps.clear()


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

    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    b0 = backend_cpu(pid)
    ceiling = bare_copy(paths)
    print(
        f"1. bare COPY into unindexed tables: {rows:,} rows in {ceiling:.1f}s = {rows / ceiling:,.0f} rows/s; "
        f"PostgreSQL backend CPU {backend_cpu(pid) - b0:.1f}s ({load()})"
    )

    ceiling_team = clear("h7-bench-ceiling")
    ceiling_run = ImportRun.objects.create(team=ceiling_team, kind="customers", label="ceiling")
    files, _ = product_files(paths, ceiling_team, ceiling_run.pk)
    if STEPS:
        time_statements()
    products = []
    for gin_raised in (False, True):
        ImportRun.objects.get_or_create(pk=ceiling_run.pk, defaults={"team": ceiling_team, "kind": "customers"})
        _steps.clear()
        b0 = backend_cpu(pid)
        products.append(product_copy(files, gin_raised))
        print(
            f"1{'c' if gin_raised else 'b'}. bare COPY into the product's three tables (indexes, foreign keys, commit"
            f"{'; GIN pending lists raised as the import does' if gin_raised else ''}): {rows:,} rows in "
            f"{products[-1]:.1f}s = {rows / products[-1]:,.0f} rows/s; PostgreSQL backend CPU "
            f"{backend_cpu(pid) - b0:.1f}s ({load()})"
        )
        if STEPS:
            print_steps()
        clear("h7-bench-ceiling")
    for path in files.values():
        path.unlink()

    team = clear("h7-bench-bulk")
    _steps.clear()
    before = rss_mb()
    c0, b0 = cpu(), backend_cpu(pid)
    took, run = timed_import(team, paths)
    assert run.status == "imported" and run.created == rows, run.report
    print(
        f"2. import (checks, staging, merge, commit, report): {rows:,} rows in {took:.1f}s = {rows / took:,.0f} rows/s, "
        f"{ceiling / took:.0%} of the bare COPY, {products[0] / took:.0%} of the COPY into the product's tables "
        f"({products[1] / took:.0%} with the GIN lists raised); "
        f"CPU: PostgreSQL backend {backend_cpu(pid) - b0:.1f}s, this process {cpu() - c0:.1f}s ({load()}); peak RSS {rss_mb():.0f} MB (before: {before:.0f} MB)"
    )
    if STEPS:
        print_steps()
    if RECOMPUTE:
        t = time.perf_counter()
        facts.recompute(team)
        print(f"   segments and risk recomputed: {ROWS:,} customers in {time.perf_counter() - t:.1f}s ({load()})")
    if QUICK:
        return
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
