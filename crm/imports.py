"""The importer core every file import shares.

A feature declares what a row looks like and how good rows are written; the core does the rest:

    class CrmEventsImporter(Importer):
        kind = "nudges.crm_events"
        label = "crm_events.csv"
        columns = (Column("deal_id"), Column("amount_eur", aliases=("amount",)), ...)

        def parse_row(self, row, line):  # raise RowError(column, reason) for a bad row
            ...
        def write(self, rows, run) -> Counts:
            ...

    run = run_import(CrmEventsImporter(), [("deals.csv", raw)], team=team, actor=user)

`run_import` decodes each file (UTF-8, byte order mark tolerated; other encodings, binary files,
empty and oversized files are refused with a reason), reads its records (CSV by the declared
columns; JSON importers override `records(text)`), refuses values the database cannot hold (NUL,
lone surrogates, JSON nested too deep) before `parse_row` sees them, parses EVERY row, and only then
writes the good rows in one transaction: an import is all its good rows or nothing. Strict mode
writes nothing if any row was rejected; a dry run writes nothing but reports what would happen
(the write runs and is rolled back, so the counts are exact). Every run is stored as a
`crm.ImportRun` with its report and its rejected rows, downloadable as CSV (`rejected_rows_csv`).

A format made of several linked files (the five customer files of notifications) uses the same run:
`begin_file(name, text)` tells the importer which file comes next, `header_map` may match headers
its own way, `check(rows)` rejects rows across files once every file is parsed, `warn()` reports a
row that is imported anyway, `counts_by_file` splits the counts per file. An importer that can undo
its runs implements `undo(run)` (and `undo_blocker(run)`); `undo_run` undoes a whole run while no
newer run of the same format in the team depends on it. Files too large to hold in memory go
through the streaming COPY path in `crm/copyimport.py` and are recorded the same way.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, models, transaction
from django.utils import timezone

from crm.errors import ServiceError
from crm.models import ImportRun
from crm.validators import JSON_MAX_DEPTH, clean_json, clean_text

logger = logging.getLogger(__name__)

# Magic numbers of the files people upload by mistake instead of CSV or JSON.
_BINARY_SIGNATURES = {
    b"PK\x03\x04": "a ZIP archive (an Excel .xlsx or an OpenDocument file?)",
    b"\xd0\xcf\x11\xe0": "an old Office document (.xls or .doc)",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive",
}
_UTF16_32_BOMS = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff", b"\xff\xfe", b"\xfe\xff")
_UTF8_BOM = b"\xef\xbb\xbf"
# Text files have no NUL bytes; UTF-16 text without a BOM and binary files are full of them. A few
# in the first 8 KiB are treated as bad cells (refused per row), many as a binary file.
_SNIFF_BYTES = 8192
_BINARY_NUL_SHARE = 0.05
# Reasons and rejected cells are stored in JSON: long values are cut so one row cannot bloat a run.
_MAX_STORED_CELL = 2000
_MAX_STORED_ISSUES = 1000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class ImportRefused(Exception):
    """The whole file is unusable (encoding, size, header, malformed JSON): nothing is imported."""


class RowError(Exception):
    """One row is rejected; `column` names the culprit (None for the row as a whole)."""

    def __init__(self, column: str | None, reason: str):
        super().__init__(reason)
        self.column = column
        self.reason = reason


@dataclass(frozen=True)
class Column:
    name: str
    required: bool = True
    aliases: tuple[str, ...] = ()


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.created + other.created, self.updated + other.updated, self.unchanged + other.unchanged)


@dataclass(frozen=True)
class Issue:
    line: int
    reason: str
    column: str = ""
    file: str = ""

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        return f"{where}{f', {self.column}' if self.column else ''}: {self.reason}"


@dataclass
class Record:
    """One row as read: `data` goes to parse_row, `raw` is kept for the rejected-rows download."""

    line: int
    data: Any
    raw: dict[str, str] = field(default_factory=dict)
    problem: str = ""  # set by the reader: the row is rejected with this reason, its cells kept


def _storable(value: str, limit: int = _MAX_STORED_CELL) -> str:
    """A rejected value as jsonb can keep it: refused characters replaced, length capped."""
    text = "".join("\ufffd" if ch == "\x00" or "\ud800" <= ch <= "\udfff" else ch for ch in str(value))
    return text if len(text) <= limit else text[:limit] + "…"


class Importer:
    """Subclass per file format. Instances are single use: `run_import` binds team and actor."""

    kind = ""  # "app.format", stored on the run
    label = ""  # the format's name as people know it, e.g. "crm_events.csv"
    columns: tuple[Column, ...] = ()
    json_max_depth = JSON_MAX_DEPTH
    max_bytes_setting = "CRM_IMPORT_MAX_BYTES"  # the setting that caps one file's size

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.kind:
            IMPORTERS[cls.kind] = cls

    def __init__(self) -> None:
        self.team = None
        self.actor = None
        self.notes: list[str] = []
        self.warnings: list[Issue] = []
        self.counts_by_file: dict[str, Counts] = {}

    @property
    def max_bytes(self) -> int:
        return getattr(settings, self.max_bytes_setting)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def warn(self, file: str, line: int, column: str, reason: str) -> None:
        """A row reported but imported anyway (the report's `warnings`)."""
        self.warnings.append(Issue(line, reason, column, file))

    def begin_file(self, name: str, text: str) -> str | None:
        """Called before each file's records are read, with its text (the streaming path passes the
        header line): multi-file formats tell files apart here and return a tag for the file; may
        raise ImportRefused."""
        return None

    def header_map(self, header: list[str]) -> dict[str, int]:
        """{column name: position} of a CSV header; ImportRefused when a required column is missing."""
        return _header_map(self, header)

    def records(self, text: str) -> Iterable[Record | Issue]:
        """CSV by the declared columns; JSON importers override this (see `crm.import_json.json_list_records`)."""
        return csv_records(self, text)

    def parse_row(self, row, line: int) -> object:
        raise NotImplementedError

    def check(self, rows: list) -> list[tuple[int, RowError]]:
        """Checks across rows and files once every row is parsed: (index in rows, why) to reject."""
        return []

    def write(self, rows: list, run: ImportRun) -> Counts:
        raise NotImplementedError

    # The streaming COPY path (crm/copyimport.py): the same checks, set-based in SQL.

    def columns_for(self, tag: str) -> tuple[Column, ...]:
        """The declared columns of a file `begin_file` tagged (multi-file formats differ per file)."""
        return self.columns

    def check_staged(self, cursor, stages: list) -> None:
        """Insert the staged rows to reject into `import_rejects (file, line, col, reason, warning)`."""
        raise NotImplementedError

    def merge(self, cursor, stages: list, run: ImportRun) -> Counts:
        """Write the staged rows with no reject; returns the counts."""
        raise NotImplementedError

    def after_import(self, run: ImportRun) -> None:
        """After a run that wrote rows has committed (not for dry runs): recompute what depends on them."""

    def undo_blocker(self, run: ImportRun) -> str:
        """Why this run cannot be undone beyond what the core checks ("" when it can)."""
        return "" if type(self).undo is not Importer.undo else "this format cannot be undone"

    def undo(self, run: ImportRun) -> None:
        """Remove what the run created and restore what it changed (inside a transaction)."""
        raise NotImplementedError


IMPORTERS: dict[str, type[Importer]] = {}

# --- decoding ----------------------------------------------------------------------------------


def check_head(head: bytes, size: int, importer: Importer) -> None:
    """Refuse an empty, oversized, binary or UTF-16/32 file from its size and first bytes."""
    if not size:
        raise ImportRefused("the file is empty (0 bytes)")
    limit = importer.max_bytes
    if size > limit:
        raise ImportRefused(
            f"the file is {size:,} bytes; at most {limit:,} are accepted ({importer.max_bytes_setting})"
        )
    for signature, what in _BINARY_SIGNATURES.items():
        if head.startswith(signature):
            raise ImportRefused(f"the file is {what}, not UTF-8 text; export it as CSV or JSON")
    for bom in _UTF16_32_BOMS:
        if head.startswith(bom):
            raise ImportRefused("the file is not UTF-8 text (it is UTF-16 or UTF-32); save it as UTF-8")
    head = head[:_SNIFF_BYTES]
    if head.count(0) > len(head) * _BINARY_NUL_SHARE:
        raise ImportRefused("the file looks binary (it is full of NUL bytes), not UTF-8 text")
    if head.startswith(_UTF8_BOM):
        importer.note("The file starts with a UTF-8 byte order mark; ignored.")


def not_utf8(raw: bytes, exc: UnicodeDecodeError, lines_before: int = 0) -> ImportRefused:
    line = lines_before + raw.count(b"\n", 0, exc.start) + 1
    return ImportRefused(f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02X} on line {line}); save it as UTF-8")


def decode(raw: bytes | str, importer: Importer) -> str:
    """UTF-8 text of one file, or ImportRefused saying why not and what to do."""
    if isinstance(raw, str):  # already text (tests, callers that decoded)
        text = raw
    else:
        check_head(raw[:_SNIFF_BYTES], len(raw), importer)
        if raw.startswith(_UTF8_BOM):
            raw = raw[len(_UTF8_BOM) :]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise not_utf8(raw, exc) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise ImportRefused("the file is empty")
    if "\r\n" in text:
        importer.note("Windows line endings (CRLF); accepted.")
    return text


# --- CSV -----------------------------------------------------------------------------------------


def _header_map(importer: Importer, header: list[str]) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    at: dict[str, int] = {}
    missing = []
    for column in importer.columns:
        for spelling in (column.name, *column.aliases):
            if spelling.lower() in names:
                at[column.name] = names.index(spelling.lower())
                break
        else:
            if column.required:
                missing.append(column.name)
    if missing:
        expected = ",".join(c.name for c in importer.columns)
        raise ImportRefused(f"line 1: missing column(s) {', '.join(missing)}; expected {expected}")
    extra = [header[i].strip() for i in range(len(header)) if i not in at.values() and header[i].strip()]
    if extra:
        importer.note(f"Ignored column(s): {', '.join(_storable(e, 100) for e in extra[:20])}.")
    return at


def csv_records(importer: Importer, text: str) -> Iterator[Record | Issue]:
    """Rows keyed by the declared column names; a short or unreadable row is an Issue."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportRefused("the file is empty") from None
    except csv.Error as exc:
        raise ImportRefused(f"line 1: {exc}") from None
    at = importer.header_map(header)
    width = len(header)
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Issue(reader.line_num, f"unreadable row: {exc}")
            continue
        if not any(v.strip() for v in values):
            continue  # blank lines (a trailing newline pair) are not rows
        raw = {(header[i] if i < width else f"extra {i - width + 1}"): v for i, v in enumerate(values)}
        if len(values) < width:
            yield Record(reader.line_num, None, raw, problem=f"expected {width} fields, got {len(values)}")
            continue
        yield Record(reader.line_num, {name: values[i] for name, i in at.items()}, raw)


# --- the run -------------------------------------------------------------------------------------


def _check_storable(record: Record) -> None:
    """Values the database would refuse, before the importer builds anything from them."""
    if isinstance(record.data, dict) and all(isinstance(v, str) for v in record.data.values()):
        for column, value in record.data.items():
            try:
                clean_text(value, field=column, label=column)
            except ServiceError as exc:
                raise RowError(column, exc.message) from None
    elif record.data is not None:
        try:
            clean_json(record.data)
        except ServiceError as exc:
            raise RowError(None, exc.message) from None


def _parse(importer: Importer, record: Record):
    if record.problem:
        raise RowError(None, record.problem)
    _check_storable(record)
    try:
        return importer.parse_row(record.data, record.line)
    except ServiceError as exc:  # a shared validator refusing a value
        raise RowError(exc.field, exc.message) from None
    except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError, RecursionError) as exc:
        # A parser bug must not sink the file: the row is rejected and the bug logged.
        logger.warning("import %s: line %s unreadable", importer.kind, record.line, exc_info=True)
        raise RowError(None, f"unreadable row ({exc.__class__.__name__})") from None


class _DryRun(Exception):
    pass


def run_import(
    importer: Importer,
    files: list[tuple[str, bytes | str]],
    *,
    team,
    actor=None,
    dry_run: bool = False,
    strict: bool = False,
) -> ImportRun:
    """Parse every row of every file, then write the good ones in one transaction; store the run."""
    run = start_run(importer, [name for name, _ in files], team=team, actor=actor, dry_run=dry_run, strict=strict)
    issues: list[Issue] = []
    rejected_rows: list[dict] = []
    good: list = []
    sources: list[tuple[str, Record]] = []  # where each good row came from, for checks across files
    per_file: dict[str, dict] = {}
    refused = ""
    for name, raw in files:
        tally = per_file.setdefault(name, {"rows": 0, "rejected": 0})
        try:
            text = decode(raw, importer)
            importer.begin_file(name, text)
            for record in importer.records(text):
                run.rows += 1
                tally["rows"] += 1
                if isinstance(record, Issue):
                    issues.append(Issue(record.line, record.reason, record.column, name))
                    rejected_rows.append({"file": name, "line": record.line, "cells": {}})
                    tally["rejected"] += 1
                    continue
                try:
                    good.append(_parse(importer, record))
                    sources.append((name, record))
                except RowError as exc:
                    issues.append(Issue(record.line, exc.reason, exc.column or "", name))
                    rejected_rows.append({"file": name, "line": record.line, "cells": record.raw})
                    tally["rejected"] += 1
        except ImportRefused as exc:
            refused = str(exc) if len(files) == 1 else f"{name}: {exc}"
            break
    if not refused and good:
        try:
            refused = _check_across(importer, good, sources, issues, rejected_rows, per_file)
        except ImportRefused as exc:
            refused = str(exc)
    run.rejected = len(issues)
    if refused:
        run.status = ImportRun.Status.REFUSED
        good = []
    elif strict and issues:
        run.status = ImportRun.Status.REJECTED
    else:
        try:
            with transaction.atomic():
                counts = importer.write(good, run) if good else Counts()
                if dry_run:
                    raise _DryRun
        except _DryRun:
            pass
        except DatabaseError as exc:
            # The validators should make this unreachable; if not, nothing was written and the
            # run says so instead of a traceback.
            logger.exception("import %s: the database refused the rows", importer.kind)
            run.status = ImportRun.Status.FAILED
            refused = f"the database refused the rows ({exc.__class__.__name__}); nothing was written"
        except Exception:
            # A bug in write(): the transaction rolled back; the run must not stay "running".
            run.status = ImportRun.Status.FAILED
            finish_run(run, importer, issues, rejected_rows, "the import failed; nothing was written", per_file)
            raise
        if run.status != ImportRun.Status.FAILED:
            run.created, run.updated, run.unchanged = counts.created, counts.updated, counts.unchanged
            run.status = ImportRun.Status.PARTIAL if issues else ImportRun.Status.IMPORTED
    finish_run(run, importer, issues, rejected_rows, refused, per_file)
    return run


def _check_across(importer, good, sources, issues, rejected_rows, per_file) -> str:
    """Let the importer reject rows across files; the rejected ones leave `good` in place."""
    rejections = importer.check(good)
    if not rejections:
        return ""
    drop = set()
    for index, error in sorted(rejections, key=lambda r: r[0]):
        if index in drop:
            continue
        drop.add(index)
        name, record = sources[index]
        issues.append(Issue(record.line, error.reason, error.column or "", name))
        rejected_rows.append({"file": name, "line": record.line, "cells": record.raw})
        per_file[name]["rejected"] += 1
    good[:] = [row for i, row in enumerate(good) if i not in drop]
    return ""


def start_run(importer: Importer, names: list[str], *, team, actor, dry_run: bool, strict: bool) -> ImportRun:
    """The stored run, created before anything is read (so a crash still leaves a record)."""
    importer.team = team
    importer.actor = actor if getattr(actor, "is_authenticated", False) else None
    return ImportRun.objects.create(
        team=team,
        actor=importer.actor,
        kind=importer.kind,
        label=importer.label,
        file_names=[_storable(name, 200) for name in names],
        dry_run=dry_run,
        strict=strict,
    )


def finish_run(run, importer, issues, rejected_rows, refused: str, per_file: dict[str, dict] | None = None) -> None:
    """Store the report and the rejected rows; then, for a run that wrote rows, the importer's follow-up."""
    _store_report(run, issues, rejected_rows, importer.notes, refused)
    run.report["warnings"] = [_issue_dict(i) for i in importer.warnings[:_MAX_STORED_ISSUES]]
    run.report["warnings_total"] = len(importer.warnings)
    if per_file and len(per_file) > 1 or importer.counts_by_file:
        run.report["files"] = [
            {
                "name": _storable(name, 200),
                **tally,
                **asdict(importer.counts_by_file.get(name, Counts())),
            }
            for name, tally in (per_file or {}).items()
        ]
    run.finished_at = timezone.now()
    run.save()
    if not run.dry_run and run.status in (ImportRun.Status.IMPORTED, ImportRun.Status.PARTIAL):
        importer.after_import(run)


def _issue_dict(i: Issue) -> dict:
    return {**asdict(i), "reason": _storable(i.reason), "file": _storable(i.file, 200)}


def _store_report(run: ImportRun, issues: list[Issue], rejected_rows: list[dict], notes: list[str], refused: str):
    kept = [_issue_dict(i) for i in issues]
    run.report = {
        "issues": kept[:_MAX_STORED_ISSUES],
        "issues_total": len(issues),
        "notes": [_storable(n) for n in notes],
        "refused": _storable(refused),
    }
    limit = settings.CRM_IMPORT_MAX_REJECTED_ROWS
    by_line = {(i.file, i.line): i for i in issues}
    stored = []
    for row in rejected_rows[:limit]:
        issue = by_line.get((row["file"], row["line"]))
        stored.append(
            {
                "file": _storable(row["file"], 200),
                "line": row["line"],
                "column": issue.column if issue else "",
                "reason": _storable(issue.reason) if issue else "",
                "cells": {_storable(k, 200): _storable(v) for k, v in row["cells"].items()},
                # PostgreSQL's jsonb reorders object keys: the header order is kept beside them.
                "columns": [_storable(k, 200) for k in row["cells"]],
            }
        )
    run.rejected_rows = stored


# --- helpers for write() and the download ----------------------------------------------------------


def upsert(model: type[models.Model], *, lookup: dict, values: dict) -> tuple[models.Model, str]:
    """Create or update the row found by its external id; returns (row, created|updated|unchanged)."""
    obj = model._default_manager.filter(**lookup).first()
    if obj is None:
        return model._default_manager.create(**lookup, **values), "created"
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    if not changed:
        return obj, "unchanged"
    for name in changed:
        setattr(obj, name, values[name])
    update_fields = list(changed)
    if any(f.name == "updated_at" for f in model._meta.concrete_fields):
        update_fields.append("updated_at")
    obj.save(update_fields=update_fields)
    return obj, "updated"


def spreadsheet_safe(cell) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula (CSV injection)."""
    text = "" if cell is None else str(cell)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def rejected_rows_csv(run: ImportRun) -> str:
    """The rejected rows as CSV: where, which column, why, then the row's own cells."""
    headers: list[str] = []
    for row in run.rejected_rows:
        for key in row.get("columns") or row["cells"]:
            if key not in headers:
                headers.append(key)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["file", "line", "column", "reason", *headers])
    for row in run.rejected_rows:
        cells = [row["file"], row["line"], row["column"], row["reason"], *(row["cells"].get(h, "") for h in headers)]
        writer.writerow([spreadsheet_safe(c) for c in cells])
    return out.getvalue()
