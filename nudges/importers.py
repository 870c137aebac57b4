"""The nudge seed's two files, as thin parsers on the importer core (`crm/imports.py`).

`crm_events.csv` (deal_id,amount_eur,last_activity,stage) becomes Deals (one Account per new deal
until the emails name the customer); `emails.json` ([{deal_id, thread: [{from,to,ts,body}]}])
becomes Contacts and email Activities on those deals.

The core decodes, reports rows with line, column and reason, and writes the good rows in one
transaction. External ids make reruns update rather than duplicate: the deal's `external_id` is the
seed's deal_id, a message's is a hash of its content. Every value is checked against the column it
lands in AFTER the prefixes added here (`deal:`, `email:`), so nothing the database refuses or
cannot read back (year 10000, an over-long id) gets as far as a write.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from crm.import_json import json_list_records
from crm.imports import Column, Counts, Importer, RowError, run_import, upsert
from crm.models import Account, Activity, Contact, Deal, ImportRun, Membership, Stage, Team
from crm.validators import bounded_datetime, clean_text, decimal_for

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
ACCOUNT_PREFIX = "deal:"
CONTACT_PREFIX = "email:"


def _room(model, field_name: str, prefix: str = "") -> int:
    """Characters left in a column once the importer's prefix is in."""
    return model._meta.get_field(field_name).max_length - len(prefix)


# deal_id lands in Deal.external_id as is and in Account.external_id behind "deal:".
DEAL_ID_MAX = min(_room(Deal, "external_id"), _room(Account, "external_id", ACCOUNT_PREFIX))
# An address lands in Contact.email, Activity.from_addr/to_addr and Contact.external_id behind "email:".
ADDRESS_MAX = min(_room(Contact, "email"), _room(Activity, "from_addr"), _room(Contact, "external_id", CONTACT_PREFIX))


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


def resolve_stage(value: str, stages: dict[str, Stage]) -> Stage | None:
    key = (value or "").strip().lower()
    key = STAGE_ALIASES.get(key, key)
    return stages.get(key) or stages.get(key.replace(" ", "-")) or stages.get(key.replace(" ", "_"))


def _status_for(stage: Stage) -> str:
    return stage.slug if stage.slug in (Deal.Status.WON, Deal.Status.LOST) else Deal.Status.OPEN


# --- crm_events.csv --------------------------------------------------------------------------


@dataclass(frozen=True)
class DealRow:
    line: int
    deal_id: str
    amount: Decimal
    last_activity: datetime
    stage: Stage


class CrmEventsImporter(Importer):
    kind = "nudges.crm_events"
    label = "crm_events.csv"
    columns = tuple(Column(name) for name in CSV_COLUMNS)

    def __init__(self) -> None:
        super().__init__()
        self.stages = {s.slug: s for s in Stage.objects.all()}
        self.seen: dict[str, int] = {}

    def parse_row(self, row: dict[str, str], line: int) -> DealRow:
        deal_id = row["deal_id"].strip()
        if not deal_id:
            raise RowError("deal_id", "missing deal_id")
        if len(deal_id) > DEAL_ID_MAX:
            raise RowError("deal_id", f"deal_id longer than {DEAL_ID_MAX} characters")
        raw_amount = row["amount_eur"].strip()
        try:
            amount = Decimal(raw_amount)
        except InvalidOperation:
            raise RowError("amount_eur", f"amount_eur {raw_amount!r} is not a number") from None
        if not amount.is_finite() or amount < 0:
            raise RowError("amount_eur", f"amount_eur {raw_amount!r} is not a valid amount")
        amount = decimal_for(Deal._meta.get_field("amount"), amount, field="amount_eur")
        raw_when = row["last_activity"].strip()
        try:
            when = parse_when(raw_when)
        except ValueError:
            raise RowError("last_activity", f"last_activity {raw_when!r} is not a date (YYYY-MM-DD)") from None
        when = bounded_datetime(when, field="last_activity")
        raw_stage = row["stage"].strip()
        stage = resolve_stage(raw_stage, self.stages)
        if stage is None:
            known = ", ".join(sorted(self.stages))
            raise RowError("stage", f"unknown stage {raw_stage!r} (known: {known})")
        if deal_id in self.seen:
            raise RowError("deal_id", f"duplicate deal_id {deal_id} (first on line {self.seen[deal_id]})")
        self.seen[deal_id] = line
        return DealRow(line, deal_id, amount, when, stage)

    def write(self, rows: list[DealRow], run: ImportRun) -> Counts:
        team, actor = self.team, self.actor
        counts = Counts()
        owner = actor if actor is not None and Membership.objects.filter(user=actor, team=team).exists() else None
        existing = {d.external_id: d for d in Deal.objects.filter(team=team, external_id__in=[r.deal_id for r in rows])}
        for row in rows:
            deal = existing.get(row.deal_id)
            status = _status_for(row.stage)
            if deal is None:
                account = Account.objects.create(
                    team=team,
                    name=f"Imported deal {row.deal_id}",
                    external_id=f"{ACCOUNT_PREFIX}{row.deal_id}",
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
                counts.add("created")
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
                counts.add("updated")
            else:
                counts.add("unchanged")
        return counts


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
    deal: Deal
    messages: tuple[MessageRow, ...]

    @property
    def deal_id(self) -> str:
        return self.deal.external_id


def _address(value, *, required: bool, field: str, label: str) -> str:
    address = str(value or "").strip()
    if not address:
        if required:
            raise ValueError("no valid")
        return ""
    clean_text(address, max_length=ADDRESS_MAX, field=field, label=label)
    try:
        validate_email(address)
    except ValidationError:
        raise ValueError("an invalid") from None
    return address


class EmailsImporter(Importer):
    kind = "nudges.emails"
    label = "emails.json"

    def __init__(self) -> None:
        super().__init__()
        self.deals: dict[str, Deal | None] = {}
        self.seen_messages: dict[tuple, int] = {}

    def records(self, text: str):
        return json_list_records(self, text, what="threads")

    def _deal(self, deal_id: str) -> Deal | None:
        if deal_id not in self.deals:
            self.deals[deal_id] = (
                Deal.objects.filter(team=self.team, external_id=deal_id).select_related("account").first()
            )
        return self.deals[deal_id]

    def parse_row(self, item, line: int) -> ThreadRow:
        if not isinstance(item, dict):
            raise RowError(None, "a thread must be an object with deal_id and thread")
        raw_id = item.get("deal_id")
        deal_id = str(raw_id or "").strip()
        if not deal_id or isinstance(raw_id, (dict, list, bool)):
            raise RowError("deal_id", "missing deal_id")
        thread = item.get("thread")
        if not isinstance(thread, list):
            raise RowError("thread", f"deal {deal_id[:100]}: 'thread' must be a list of messages")
        if len(deal_id) > DEAL_ID_MAX:
            raise RowError("deal_id", f"deal_id longer than {DEAL_ID_MAX} characters")
        deal = self._deal(deal_id)
        if deal is None:
            raise RowError("deal_id", f"emails for unknown deal {deal_id[:100]} (import crm_events.csv first)")
        # Best-effort line of each message: the thread's items follow the deal line in order.
        messages: list[MessageRow] = []
        for j, m in enumerate(thread):
            where = f"deal {deal_id}: message {j + 1}"
            if not isinstance(m, dict):
                raise RowError("thread", f"{where} is not an object; thread skipped")
            try:
                sender = _address(m.get("from"), required=True, field="from", label=f"{where} 'from' address")
            except ValueError as exc:
                raise RowError("from", f"{where} has {exc} 'from' address; thread skipped") from None
            try:
                to = _address(m.get("to"), required=False, field="to", label=f"{where} 'to' address")
            except ValueError:
                raise RowError(
                    "to", f"{where} has an invalid 'to' address {str(m.get('to'))[:100]!r}; thread skipped"
                ) from None
            try:
                at = parse_when(str(m.get("ts") or ""))
            except ValueError:
                raise RowError(
                    "ts", f"{where} has an unparseable timestamp {str(m.get('ts'))[:60]!r}; thread skipped"
                ) from None
            at = bounded_datetime(at, field="ts", label=f"{where} timestamp")
            body = m.get("body")
            body = "" if body is None else str(body)
            key = (deal_id, sender.lower(), to.lower(), at, body)
            if key in self.seen_messages:
                self.notes.append(f"line {line}: {where} duplicates one on line {self.seen_messages[key]}; kept once.")
                continue
            self.seen_messages[key] = line
            messages.append(MessageRow(line, sender, to, at, body))
        return ThreadRow(line, deal, tuple(messages))

    def write(self, rows: list[ThreadRow], run: ImportRun) -> Counts:
        counts = Counts()
        for t in rows:
            counts.add(_write_thread(self.team, t, self.notes))
        return counts


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


def _write_thread(team: Team, t: ThreadRow, notes: list[str]) -> str:
    deal = t.deal
    account = deal.account
    is_ours = _ours_predicate(team, t)
    ordered = sorted(t.messages, key=lambda m: m.at)
    if not ordered:
        notes.append(f"line {t.line}: deal {t.deal_id} has an empty thread; nothing to import.")
        return "unchanged"
    thread_id = (
        f"import:{t.deal_id}:"
        + hashlib.sha256(f"{ordered[0].sender}|{ordered[0].at.isoformat()}".encode()).hexdigest()[:16]
    )
    contacts: dict[str, Contact] = {c.email.lower(): c for c in account.contacts.all() if c.email}
    created = 0
    for m in ordered:
        ours = is_ours(m.sender)
        other = m.to if ours else m.sender
        contact = None
        if other:
            contact = contacts.get(other.lower())
            if contact is None:
                contact = Contact.objects.create(
                    account=account,
                    name=_contact_name(other),
                    email=other,
                    external_id=f"{CONTACT_PREFIX}{other.lower()}",
                )
                contacts[other.lower()] = contact
                if account.extra.get(PLACEHOLDER):
                    account.name = other.rpartition("@")[2][:200]
                    account.extra = {k: v for k, v in account.extra.items() if k != PLACEHOLDER}
                    account.save(update_fields=["name", "extra", "updated_at"])
        _, outcome = upsert(
            Activity,
            lookup={"account": account, "external_id": _message_id(t.deal_id, m)},
            values={
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
        created += outcome == "created"
        if contact is not None and deal.primary_contact_id is None and not ours:
            deal.primary_contact = contact
            deal.save(update_fields=["primary_contact", "updated_at"])
    if deal.primary_contact_id is None and contacts:
        deal.primary_contact = next(iter(contacts.values()))
        deal.save(update_fields=["primary_contact", "updated_at"])
    deal.record_touch(ordered[-1].at)
    return "created" if created else "unchanged"


# --- entry points the console, the API and the commands share ------------------------------------


def import_crm_events(raw: bytes | str, *, team: Team, actor=None, file_name="crm_events.csv", **options) -> ImportRun:
    return run_import(CrmEventsImporter(), [(file_name, raw)], team=team, actor=actor, **options)


def import_emails(raw: bytes | str, *, team: Team, actor=None, file_name="emails.json", **options) -> ImportRun:
    return run_import(EmailsImporter(), [(file_name, raw)], team=team, actor=actor, **options)
