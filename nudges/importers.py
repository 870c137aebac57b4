"""Imports of the seed's files into the customer graph, with a row-level report.

`crm_events.csv` (deal_id,amount_eur,last_activity,stage) becomes Deals (one Account per new deal
until the emails name the customer); `emails.json` ([{deal_id, thread: [{from,to,ts,body}]}])
becomes Contacts and email Activities on those deals.

Every file is parsed and checked first; the good rows are then written in one transaction, so a
file is either imported (its good rows) or not at all. External ids make reruns update rather
than duplicate: the deal's `external_id` is the seed's deal_id, a message's is a hash of its
content.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from crm.models import Account, Activity, Contact, Deal, Membership, Stage, Team

CSV_COLUMNS = ("deal_id", "amount_eur", "last_activity", "stage")
# Seed stage names and common CRM spellings mapped onto our Stage slugs. Anything else is a row
# error: an import never creates a stage silently.
STAGE_ALIASES = {
    "closed won": "won",
    "closed_won": "won",
    "closed-won": "won",
    "closed lost": "lost",
    "closed_lost": "lost",
    "closed-lost": "lost",
    "negotiating": "negotiation",
    "qualified": "qualification",
    "prospect": "lead",
    "new": "lead",
}
PLACEHOLDER = "import_placeholder_name"


@dataclass(frozen=True)
class RowIssue:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}" if self.line else self.reason


@dataclass
class ImportReport:
    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowIssue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failed: str = ""  # a file-level problem: nothing was imported

    @property
    def imported(self) -> int:
        return self.created + self.updated + self.unchanged

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "rows": self.rows,
            "imported": self.imported,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": [{"line": e.line, "reason": e.reason} for e in self.errors],
            "notes": self.notes,
            "failed": self.failed,
        }

    def summary(self) -> str:
        if self.failed:
            return f"{self.kind}: not imported: {self.failed}"
        return (
            f"{self.kind}: {self.imported} of {self.rows} imported "
            f"({self.created} new, {self.updated} updated, {self.unchanged} unchanged), {len(self.errors)} skipped"
        )


class ImportError_(Exception):  # noqa: N801 - avoid shadowing the builtin
    pass


def _decode(raw: bytes | str, report: ImportReport) -> str:
    if isinstance(raw, str):
        text = raw
    else:
        if raw.startswith(b"\xef\xbb\xbf"):
            report.notes.append("The file starts with a UTF-8 byte order mark; ignored.")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ImportError_(f"the file is not UTF-8 text (byte {exc.start})") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r\n" in text:
        report.notes.append("Windows line endings (CRLF); accepted.")
    return text


def parse_when(value: str) -> datetime:
    """A date (midnight UTC) or an ISO 8601 timestamp; naive timestamps are UTC."""
    value = (value or "").strip()
    if not value:
        raise ValueError("empty")
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time.min, tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(value) from None
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)


def _stages() -> dict[str, Stage]:
    return {s.slug: s for s in Stage.objects.all()}


def resolve_stage(value: str, stages: dict[str, Stage]) -> Stage | None:
    key = (value or "").strip().lower()
    key = STAGE_ALIASES.get(key, key)
    return stages.get(key) or stages.get(key.replace(" ", "-")) or stages.get(key.replace(" ", "_"))


# --- crm_events.csv --------------------------------------------------------------------------


@dataclass(frozen=True)
class DealRow:
    line: int
    deal_id: str
    amount: Decimal
    last_activity: datetime
    stage: Stage


def parse_crm_events(text: str, report: ImportReport, stages: dict[str, Stage]) -> list[DealRow]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportError_("the file is empty") from None
    except csv.Error as exc:
        raise ImportError_(f"line 1: {exc}") from None
    columns = [h.strip().lower() for h in header]
    missing = [c for c in CSV_COLUMNS if c not in columns]
    if missing:
        raise ImportError_(f"line 1: missing column(s) {', '.join(missing)}; expected {','.join(CSV_COLUMNS)}")
    at = {c: columns.index(c) for c in CSV_COLUMNS}
    rows: list[DealRow] = []
    seen: dict[str, int] = {}
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            report.errors.append(RowIssue(reader.line_num, f"unreadable row: {exc}"))
            continue
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue  # blank lines (a trailing newline pair) are not rows
        report.rows += 1
        if len(values) < len(columns):
            report.errors.append(RowIssue(line, f"expected {len(columns)} fields, got {len(values)}"))
            continue
        deal_id = values[at["deal_id"]].strip()
        if not deal_id:
            report.errors.append(RowIssue(line, "missing deal_id"))
            continue
        if len(deal_id) > 100:
            report.errors.append(RowIssue(line, "deal_id longer than 100 characters"))
            continue
        raw_amount = values[at["amount_eur"]].strip()
        try:
            amount = Decimal(raw_amount)
        except InvalidOperation:
            report.errors.append(RowIssue(line, f"amount_eur {raw_amount!r} is not a number"))
            continue
        if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
            report.errors.append(RowIssue(line, f"amount_eur {raw_amount!r} is not a valid amount"))
            continue
        raw_when = values[at["last_activity"]].strip()
        try:
            when = parse_when(raw_when)
        except ValueError:
            report.errors.append(RowIssue(line, f"last_activity {raw_when!r} is not a date (YYYY-MM-DD)"))
            continue
        raw_stage = values[at["stage"]].strip()
        stage = resolve_stage(raw_stage, stages)
        if stage is None:
            known = ", ".join(sorted(stages))
            report.errors.append(RowIssue(line, f"unknown stage {raw_stage!r} (known: {known})"))
            continue
        if deal_id in seen:
            report.errors.append(RowIssue(line, f"duplicate deal_id {deal_id} (first on line {seen[deal_id]})"))
            continue
        seen[deal_id] = line
        rows.append(DealRow(line, deal_id, amount.quantize(Decimal("0.01")), when, stage))
    return rows


def _status_for(stage: Stage) -> str:
    return stage.slug if stage.slug in (Deal.Status.WON, Deal.Status.LOST) else Deal.Status.OPEN


def import_crm_events(raw: bytes | str, *, team: Team, actor=None) -> ImportReport:
    report = ImportReport(kind="crm_events.csv")
    try:
        text = _decode(raw, report)
        rows = parse_crm_events(text, report, _stages())
    except ImportError_ as exc:
        report.failed = str(exc)
        return report
    owner = actor if actor is not None and Membership.objects.filter(user=actor, team=team).exists() else None
    with transaction.atomic():
        existing = {d.external_id: d for d in Deal.objects.filter(team=team, external_id__in=[r.deal_id for r in rows])}
        for row in rows:
            deal = existing.get(row.deal_id)
            status = _status_for(row.stage)
            if deal is None:
                account = Account.objects.create(
                    team=team,
                    name=f"Imported deal {row.deal_id}",
                    external_id=f"deal:{row.deal_id}",
                    extra={PLACEHOLDER: True},
                )
                Deal.objects.create(
                    team=team,
                    account=account,
                    owner=owner,
                    name=f"Deal {row.deal_id}",
                    external_id=row.deal_id,
                    stage=row.stage,
                    amount=row.amount,
                    currency="EUR",
                    status=status,
                    last_activity_at=row.last_activity,
                )
                report.created += 1
                continue
            changed = []
            if deal.amount != row.amount:
                deal.amount = row.amount
                changed.append("amount")
            if deal.stage_id != row.stage.pk:
                deal.stage = row.stage
                deal.stage_changed_at = timezone.now()
                changed += ["stage", "stage_changed_at"]
            if deal.status != status:
                deal.status = status
                changed.append("status")
            # The source CRM's last activity moves the idle clock forward, never backwards:
            # touches logged here since the export must not be undone by a rerun.
            if deal.last_activity_at is None or row.last_activity > deal.last_activity_at:
                deal.last_activity_at = row.last_activity
                changed.append("last_activity_at")
            if changed:
                deal.save(update_fields=[*changed, "updated_at"])
                report.updated += 1
            else:
                report.unchanged += 1
    return report


# --- emails.json -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageRow:
    line: int
    sender: str
    to: str
    at: datetime
    body: str


@dataclass(frozen=True)
class ThreadRow:
    line: int
    deal_id: str
    messages: tuple[MessageRow, ...]


def _items_with_lines(text: str) -> list[tuple[int, object, str]]:
    """Top-level array items with the line each starts on; raises on malformed JSON."""
    decoder = json.JSONDecoder()
    n = len(text)

    def skip(i: int) -> int:
        while i < n and text[i] in " \t\r\n":
            i += 1
        return i

    def line_of(i: int) -> int:
        return text.count("\n", 0, i) + 1

    i = skip(0)
    if i >= n:
        raise ImportError_("the file is empty")
    if text[i] != "[":
        raise ImportError_(f"line {line_of(i)}: expected a JSON list of threads")
    i = skip(i + 1)
    items = []
    if i < n and text[i] == "]":
        if skip(i + 1) < n:
            raise ImportError_(f"line {line_of(skip(i + 1))}: unexpected text after the list")
        return items
    while True:
        try:
            value, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            raise ImportError_(f"line {exc.lineno}: invalid JSON: {exc.msg}") from None
        items.append((line_of(i), value, text[i:end]))
        i = skip(end)
        if i < n and text[i] == ",":
            i = skip(i + 1)
            continue
        if i < n and text[i] == "]":
            if skip(i + 1) < n:
                raise ImportError_(f"line {line_of(skip(i + 1))}: unexpected text after the list")
            return items
        raise ImportError_(f"line {line_of(min(i, n - 1))}: expected ',' or ']'")


def _message_lines(item_line: int, item_text: str) -> list[int]:
    """Best-effort line of each message: where each '"from"' key appears in the item."""
    lines, pos = [], 0
    while True:
        pos = item_text.find('"from"', pos)
        if pos < 0:
            return lines
        lines.append(item_line + item_text.count("\n", 0, pos))
        pos += 6


def parse_emails(text: str, report: ImportReport) -> list[ThreadRow]:
    threads: list[ThreadRow] = []
    seen_messages: dict[tuple, int] = {}
    for item_line, item, item_text in _items_with_lines(text):
        report.rows += 1
        if not isinstance(item, dict):
            report.errors.append(RowIssue(item_line, "a thread must be an object with deal_id and thread"))
            continue
        deal_id = str(item.get("deal_id") or "").strip()
        if not deal_id or isinstance(item.get("deal_id"), (dict, list, bool)):
            report.errors.append(RowIssue(item_line, "missing deal_id"))
            continue
        thread = item.get("thread")
        if not isinstance(thread, list):
            report.errors.append(RowIssue(item_line, f"deal {deal_id}: 'thread' must be a list of messages"))
            continue
        lines = _message_lines(item_line, item_text)
        messages: list[MessageRow] = []
        problem = ""
        for j, m in enumerate(thread):
            line = lines[j] if j < len(lines) else item_line
            if not isinstance(m, dict):
                problem = f"line {line}: message {j + 1} is not an object"
                break
            sender = str(m.get("from") or "").strip()
            to = str(m.get("to") or "").strip()
            if not sender or "@" not in sender:
                problem = f"line {line}: message {j + 1} has no valid 'from' address"
                break
            if to and "@" not in to:
                problem = f"line {line}: message {j + 1} has an invalid 'to' address {to!r}"
                break
            try:
                at = parse_when(str(m.get("ts") or ""))
            except ValueError:
                problem = f"line {line}: message {j + 1} has an unparseable timestamp {m.get('ts')!r}"
                break
            key = (deal_id, sender.lower(), to.lower(), at, str(m.get("body") or ""))
            if key in seen_messages:
                report.notes.append(f"line {line}: duplicate of the message on line {seen_messages[key]}; kept once.")
                continue
            seen_messages[key] = line
            messages.append(MessageRow(line, sender[:254], to[:254], at, str(m.get("body") or "")))
        if problem:
            report.errors.append(RowIssue(item_line, f"deal {deal_id}: {problem}; thread skipped"))
            continue
        threads.append(ThreadRow(item_line, deal_id, tuple(messages)))
    return threads


def _message_id(deal_id: str, m: MessageRow) -> str:
    digest = hashlib.sha256(f"{deal_id}|{m.sender.lower()}|{m.to.lower()}|{m.at.isoformat()}|{m.body}".encode())
    return "email:" + digest.hexdigest()[:32]


def _ours_predicate(team: Team, thread: ThreadRow):
    member_emails = {e.lower() for e in Membership.objects.filter(team=team).values_list("user__email", flat=True) if e}
    domains = {d.lower() for d in settings.NUDGES_OUR_EMAIL_DOMAINS}
    first = min(thread.messages, key=lambda m: m.at).sender.lower() if thread.messages else ""

    def is_ours(addr: str) -> bool:
        addr = addr.lower()
        if addr in member_emails or addr.rpartition("@")[2] in domains:
            return True
        if member_emails & {m.sender.lower() for m in thread.messages} or domains:
            return False
        # No known seller address in the thread: whoever opened it is the seller (outreach).
        return addr == first

    return is_ours


def _contact_name(addr: str) -> str:
    local = addr.split("@")[0].replace(".", " ").replace("_", " ").replace("-", " ")
    return local.title()[:200] or addr


def import_emails(raw: bytes | str, *, team: Team, actor=None) -> ImportReport:
    report = ImportReport(kind="emails.json")
    try:
        text = _decode(raw, report)
        threads = parse_emails(text, report)
    except ImportError_ as exc:
        report.failed = str(exc)
        return report
    deals = {
        d.external_id: d
        for d in Deal.objects.filter(team=team, external_id__in={t.deal_id for t in threads}).select_related("account")
    }
    good: list[ThreadRow] = []
    for t in threads:
        if t.deal_id not in deals:
            report.errors.append(RowIssue(t.line, f"emails for unknown deal {t.deal_id} (import crm_events.csv first)"))
        else:
            good.append(t)
    with transaction.atomic():
        for t in good:
            deal = deals[t.deal_id]
            account = deal.account
            is_ours = _ours_predicate(team, t)
            ordered = sorted(t.messages, key=lambda m: m.at)
            thread_id = f"import:{t.deal_id}:" + (
                hashlib.sha256(f"{ordered[0].sender}|{ordered[0].at.isoformat()}".encode()).hexdigest()[:16]
                if ordered
                else "empty"
            )
            if not ordered:
                report.unchanged += 1
                report.notes.append(f"line {t.line}: deal {t.deal_id} has an empty thread; nothing to import.")
                continue
            contacts: dict[str, Contact] = {c.email.lower(): c for c in account.contacts.all() if c.email}
            created = 0
            for m in ordered:
                ours = is_ours(m.sender)
                other = m.to if ours else m.sender
                contact = None
                if other and "@" in other:
                    contact = contacts.get(other.lower())
                    if contact is None:
                        contact = Contact.objects.create(
                            account=account,
                            name=_contact_name(other),
                            email=other,
                            external_id=f"email:{other.lower()}",
                        )
                        contacts[other.lower()] = contact
                        if account.extra.get(PLACEHOLDER):
                            account.name = other.rpartition("@")[2][:200]
                            account.extra = {k: v for k, v in account.extra.items() if k != PLACEHOLDER}
                            account.save(update_fields=["name", "extra", "updated_at"])
                _, was_created = Activity.objects.update_or_create(
                    account=account,
                    external_id=_message_id(t.deal_id, m),
                    defaults={
                        "deal": deal,
                        "contact": contact,
                        "kind": Activity.Kind.EMAIL,
                        "direction": Activity.Direction.OUTBOUND if ours else Activity.Direction.INBOUND,
                        "occurred_at": m.at,
                        "subject": f"Re: {deal.name}"[:300],
                        "body": m.body,
                        "thread_id": thread_id,
                        "from_addr": m.sender,
                        "to_addr": m.to,
                    },
                )
                created += was_created
                if contact is not None and deal.primary_contact_id is None and not ours:
                    deal.primary_contact = contact
                    deal.save(update_fields=["primary_contact", "updated_at"])
            if deal.primary_contact_id is None and contacts:
                deal.primary_contact = next(iter(contacts.values()))
                deal.save(update_fields=["primary_contact", "updated_at"])
            deal.record_touch(ordered[-1].at)
            if created:
                report.created += 1
            else:
                report.unchanged += 1
    return report
