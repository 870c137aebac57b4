# ruff: noqa: S608 - table and column names come from the importer's declared columns; values are parameters.
"""The streaming write path of the import core: files too large to hold in memory, on PostgreSQL.

    run = run_copy_import(importer, [("Customer Profiles.csv", path)], team=team, actor=user)

The same run, report and rules as `crm.imports.run_import`, with memory that does not grow with the
file: each file is checked from its size and first bytes (empty, over the importer's size limit,
binary, UTF-16/32; a UTF-8 byte order mark is noted and skipped), its header is mapped by the
importer (`begin_file`, `header_map`), then it streams in 1 MiB chunks through COPY into a
temporary staging table of text columns, one per declared column, while an incremental decoder
checks it is UTF-8 throughout. `line` in the staging table is the line the record starts on
(1 = the header), exact unless a quoted cell holds a line break.

The importer then works in SQL, set-based:
- `check_staged(cursor, stages)` inserts the rows it rejects into the temporary table
  `import_rejects (file, line, col, reason, warning)` (`warning = true`: reported, imported anyway);
- `merge(cursor, stages, run) -> Counts` writes the good rows (staged rows with no reject).
The core reads back the report (every issue counted, the first ones kept with their cells for the
rejected-rows CSV), then commits, or rolls back for strict runs with rejected rows and dry runs.
A row COPY itself cannot read (wrong number of fields, a NUL byte) refuses the file with its line.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from crm.imports import (
    _MAX_STORED_ISSUES,
    _UTF8_BOM,
    Importer,
    ImportRefused,
    Issue,
    _storable,
    check_head,
    finish_run,
    not_utf8,
    start_run,
)
from crm.models import ImportRun

logger = logging.getLogger(__name__)

CHUNK = 1 << 20  # bytes per COPY write: 1 MiB keeps memory flat whatever the file size


@dataclass
class Stage:
    """One staged file: its temporary table, the importer's tag for it, header names per column."""

    name: str
    table: str
    tag: str
    columns: dict[str, str] = field(default_factory=dict)  # staged column -> header as written
    rows: int = 0


class _Rollback(Exception):
    pass


def run_copy_import(
    importer: Importer,
    files: list[tuple[str, Path]],
    *,
    team,
    actor=None,
    dry_run: bool = False,
    strict: bool = False,
) -> ImportRun:
    """Stream every file into staging, check and merge in SQL, store the run (PostgreSQL only)."""
    run = start_run(importer, [name for name, _ in files], team=team, actor=actor, dry_run=dry_run, strict=strict)
    issues: list[Issue] = []
    rejected_rows: list[dict] = []
    per_file: dict[str, dict] = {}
    refused = ""
    if connection.vendor != "postgresql":
        refused = "the streaming import needs PostgreSQL (DATABASE_URL=postgres://...)"
    else:
        try:
            with transaction.atomic(), connection.cursor() as c:
                cur = c.cursor  # psycopg's own cursor: COPY
                cur.execute("DROP TABLE IF EXISTS import_rejects")
                cur.execute(
                    "CREATE TEMP TABLE import_rejects (file text, line bigint, col text, reason text, "
                    "warning boolean NOT NULL DEFAULT false) ON COMMIT DROP"
                )
                stages = []
                for i, (name, path) in enumerate(files):
                    try:
                        stages.append(_stage(cur, importer, name, Path(path), f"import_stage_{i}"))
                    except ImportRefused as exc:
                        raise ImportRefused(str(exc) if len(files) == 1 else f"{name}: {exc}") from None
                    per_file[name] = {"rows": stages[-1].rows, "rejected": 0}
                importer.check_staged(cur, stages)
                cur.execute("CREATE INDEX ON import_rejects (file, line) WHERE NOT warning")
                cur.execute("ANALYZE import_rejects")
                _read_report(cur, importer, stages, issues, rejected_rows, per_file)
                run.rows = sum(s.rows for s in stages)
                run.rejected = sum(t["rejected"] for t in per_file.values())
                if strict and run.rejected:
                    run.status = ImportRun.Status.REJECTED
                    raise _Rollback
                counts = importer.merge(cur, stages, run)
                run.created, run.updated, run.unchanged = counts.created, counts.updated, counts.unchanged
                run.status = ImportRun.Status.PARTIAL if run.rejected else ImportRun.Status.IMPORTED
                if dry_run:
                    raise _Rollback
        except _Rollback:
            pass
        except ImportRefused as exc:
            refused = str(exc)
        except _database_errors() as exc:
            logger.exception("import %s: the database refused the rows", importer.kind)
            run.status = ImportRun.Status.FAILED
            refused = f"the database refused the rows ({exc.__class__.__name__}); nothing was written"
        except Exception:
            run.status = ImportRun.Status.FAILED
            finish_run(run, importer, issues, rejected_rows, "the import failed; nothing was written", per_file)
            raise
    if refused and run.status != ImportRun.Status.FAILED:
        run.status = ImportRun.Status.REFUSED
        run.created = run.updated = run.unchanged = 0
    finish_run(run, importer, issues, rejected_rows, refused, per_file)
    if run.rejected > run.report["issues_total"]:  # only the first ones were read back
        run.report["issues_total"] = run.rejected
        run.save(update_fields=["report"])
    return run


def _stage(cur, importer: Importer, name: str, path: Path, table: str) -> Stage:
    try:
        size = path.stat().st_size
        f = path.open("rb")
    except OSError as exc:
        raise ImportRefused(f"cannot read the file ({exc.strerror})") from None
    with f:
        check_head(f.read(8192), size, importer)
        f.seek(0)
        first = f.readline()
        if first.startswith(_UTF8_BOM):
            first = first[len(_UTF8_BOM) :]
        try:
            header_text = first.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise not_utf8(first, exc) from None
        try:
            header = next(csv.reader(io.StringIO(header_text)))
        except (StopIteration, csv.Error):
            raise ImportRefused("line 1: no header") from None
        tag = importer.begin_file(name, header_text) or ""
        at = importer.header_map(header)
        by_position = {i: column for column, i in at.items()}
        names = [by_position.get(i, f"_skip{i}") for i in range(len(header))]
        if any(not n.isidentifier() for n in names):
            raise ImportRefused("the importer declared a column that is not an identifier")
        columns = [c.name for c in importer.columns_for(tag)]
        missing = [c for c in columns if c not in at]  # optional columns the file lacks stay NULL
        defs = ", ".join(f"{c} text" for c in [*names, *missing])
        cur.execute(f"DROP TABLE IF EXISTS {table}")  # a second run inside one outer transaction
        cur.execute(
            f"CREATE TEMP TABLE {table} (line bigint GENERATED BY DEFAULT AS IDENTITY (START WITH 2), {defs}) "
            "ON COMMIT DROP"
        )
        decoder = codecs.getincrementaldecoder("utf-8")()
        lines_before = 1
        try:
            with cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN WITH (FORMAT csv)") as copy:
                while chunk := f.read(CHUNK):
                    try:
                        decoder.decode(chunk)
                    except UnicodeDecodeError as exc:
                        raise not_utf8(chunk, exc, lines_before) from None
                    lines_before += chunk.count(b"\n")
                    copy.write(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise ImportRefused("the file is not UTF-8 text (it ends inside a character); save it as UTF-8") from None
        except _database_errors() as exc:
            raise ImportRefused(_copy_error(exc)) from None
    # COPY reports the rows it stored. The staging table gets no ANALYZE: the importer reads it once,
    # sequentially (and analyses what it joins on).
    stage = Stage(name, table, tag, {n: header[i] for i, n in enumerate(names)}, max(cur.rowcount, 0))
    if "\r\n" in header_text:
        importer.note("Windows line endings (CRLF); accepted.")
    return stage


# The pending list a bulk insert gives each GIN index of the tables it loads: one merge into the index per
# 256 MB of new entries instead of one per 64 kB (the limit the co-pilot's name indexes keep for fast
# lookups). Measured on 200,000 new accounts: docs/benchmarks.md, Customer notifications.
BULK_GIN_PENDING_KB = 256 * 1024


@contextlib.contextmanager
def bulk_gin_inserts(cur, table: str) -> Iterator[None]:
    """Insert many rows into `table` with its GIN indexes' pending lists raised for this transaction,
    then merge each list into its index in one pass and put the limit back, all before commit.

    The limit is an index storage parameter (it overrides the `gin_pending_list_limit` setting, so
    SET LOCAL would not reach it): ALTER INDEX inside the transaction takes a SHARE UPDATE EXCLUSIVE
    lock, which lets other sessions read and write the table; they see the old value throughout, and
    a rollback restores it. `maintenance_work_mem` bounds the memory of the final merge.
    """
    cur.execute(
        """SELECT i.indexrelid::regclass::text, i.indexrelid::regclass::oid, c.reloptions
           FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
           WHERE i.indrelid = %s::regclass AND am.amname = 'gin'""",
        [table],
    )
    indexes = cur.fetchall()
    for name, _, _ in indexes:
        cur.execute(f"ALTER INDEX {name} SET (gin_pending_list_limit = {BULK_GIN_PENDING_KB})")
    if indexes:
        cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
    yield
    for name, oid, options in indexes:
        before = next((o.split("=", 1)[1] for o in options or [] if o.startswith("gin_pending_list_limit=")), None)
        if before is None:
            cur.execute(f"ALTER INDEX {name} RESET (gin_pending_list_limit)")
        else:
            cur.execute(f"ALTER INDEX {name} SET (gin_pending_list_limit = {int(before)})")
        cur.execute("SELECT gin_clean_pending_list(%s::regclass)", [oid])


def _database_errors() -> tuple[type[Exception], ...]:
    """Django's and psycopg's own: the staging and merge SQL runs on psycopg's cursor (for COPY)."""
    import psycopg

    return (DatabaseError, psycopg.Error)


def _copy_error(exc: Exception) -> str:
    """COPY's own complaint, with the line it names (its line 1 is our line 2: the header is not copied)."""
    diag = getattr(exc.__cause__ or exc, "diag", None)
    message = (getattr(diag, "message_primary", "") or str(exc)).strip()
    context = getattr(diag, "context", "") or ""
    line = ""
    if ", line " in context:
        number = context.split(", line ", 1)[1].split(",", 1)[0].split(":", 1)[0]
        if number.isdigit():
            line = f"line {int(number) + 1}: "
    return f"{line}unreadable row ({_storable(message, 200)})"


def _read_report(cur, importer: Importer, stages: list[Stage], issues, rejected_rows, per_file) -> None:
    cur.execute("SELECT file, count(*) FROM import_rejects WHERE NOT warning GROUP BY file")
    for name, n in cur.fetchall():
        per_file[name]["rejected"] = n
    cur.execute(
        "SELECT file, line, col, reason FROM import_rejects WHERE warning ORDER BY file, line LIMIT %s",
        [_MAX_STORED_ISSUES],
    )
    for name, line, column, reason in cur.fetchall():
        importer.warn(name, line, column or "", reason)
    limit = max(settings.CRM_IMPORT_MAX_REJECTED_ROWS, _MAX_STORED_ISSUES)
    for stage in stages:
        cur.execute(
            f"SELECT r.line, r.col, r.reason, (to_jsonb(s) - 'line')::text FROM import_rejects r "
            f"JOIN {stage.table} s ON s.line = r.line WHERE r.file = %s AND NOT r.warning "
            f"ORDER BY r.line LIMIT %s",
            [stage.name, limit],
        )
        for line, column, reason, cells in cur.fetchall():
            issues.append(Issue(line, reason, column or "", stage.name))
            rejected_rows.append(
                {
                    "file": stage.name,
                    "line": line,
                    "cells": {
                        stage.columns.get(k, k): v or "" for k, v in json.loads(cells).items() if k in stage.columns
                    },
                }
            )
