"""The five customer files as one import on the core (`crm/imports.py`): a thin parser per file
(notifications/parsing.py), checks across the files, and a writer that merges the good rows.

`import_customers(files, team=..., actor=..., dry_run=..., strict=...)` goes through
`crm.imports.run_import`: decoding (UTF-8, BOM tolerated, other encodings, binary, empty and
oversized files refused), the row-level report, one transaction, strict and dry runs, and the stored
`crm.ImportRun` (its page under /settings/imports/, its rejected rows as a formula-safe CSV) come
from the core. Because the five files reference each other, a strict run with one rejected row in
any file writes nothing. Every run can be undone as a whole while it is the team's newest customer
import and no notification has been approved or sent since (`crm.import_undo.undo_run`).

Large Customer Profiles and Account Activity files take the core's streaming COPY path
(`import_customers_copy`, `crm/copyimport.py`): the same checks in SQL (notifications/bulkload.py).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path

from django.db.models import Q
from django.utils import timezone

from crm.copyimport import run_copy_import
from crm.imports import Column, Counts, Importer, ImportRefused, RowError, run_import
from crm.models import Account, Activity, Contact, ImportRun
from notifications import bulkload, facts, parsing
from notifications.facts import update_rows
from notifications.models import (
    CustomerRecord,
    Notification,
    NotificationSettings,
    PastNotification,
    RecommendedAction,
)

KIND = "notifications.customers"
REF_KINDS = ("activity", "interactions", "notifications", "actions")
LOOKUP_CHUNK = 1000  # ids per IN (...) query: below SQLite's variable limit
ACTIVITY_FIELDS = ("has_activity", "account_status", "engagement_score", "churn_risk", "last_login", "payment_status",
                   "contract_end", "outcome", "outcome_on")  # fmt: skip
# The latest date in these columns is the day the data describes (risk is computed as of then).
AS_OF_COLUMNS = {"interactions": "date", "notifications": "sent_at", "activity": "last_login"}


def import_customers(files: list[tuple[str, bytes]], *, team, actor=None, dry_run=False, strict=False) -> ImportRun:
    """Some or all of the five files (name, bytes), in one run."""
    return run_import(CustomerFilesImporter(), files, team=team, actor=actor, dry_run=dry_run, strict=strict)


def import_customers_copy(files: list[tuple[str, Path]], *, team, actor=None, dry_run=False, strict=False) -> ImportRun:
    """Customer Profiles and/or Account Activity Logs of any size through COPY (PostgreSQL)."""
    return run_copy_import(CustomerFilesImporter(), files, team=team, actor=actor, dry_run=dry_run, strict=strict)


def file_counts(run: ImportRun) -> dict[str, dict]:
    """{file kind: {rows, created, updated, unchanged, rejected}} of a customer import run."""
    out = {}
    for f in run.files:
        kind = parsing.detect_kind(f["name"], [])
        out[kind or f["name"]] = f
    return out


class CustomerFilesImporter(Importer):
    kind = KIND
    label = "Customer files"
    max_bytes_setting = "NOTIFICATIONS_IMPORT_MAX_BYTES"

    def __init__(self, *, recompute: bool = True) -> None:
        super().__init__()
        self.recompute = recompute  # the benchmark times the load alone, then the recompute
        self.file_kinds: dict[str, str] = {}  # file name -> profiles, activity, ...
        self.current = ("", "")
        self.seen: dict[str, int] = {}
        self.existing: dict[str, CustomerRecord] = {}
        self.latest = []

    # --- reading (the core calls these per file and per row) -------------------------------------

    def begin_file(self, name: str, text: str) -> str:
        first = text.split("\n", 1)[0]
        header = next(csv.reader(io.StringIO(first)), [])
        kind = parsing.detect_kind(name, header)
        if kind is None:
            raise ImportRefused(f"cannot tell which of the five files this is (header: {', '.join(header)[:200]})")
        if kind in self.file_kinds.values():
            raise ImportRefused(f"a second {parsing.FILE_LABELS[kind]} file in one upload")
        self.file_kinds[name] = kind
        self.current = (name, kind)
        self.seen = {}
        return kind

    def columns_for(self, tag: str) -> tuple[Column, ...]:
        return tuple(Column(c.name, c.required) for c in parsing.COLUMNS[tag])

    def header_map(self, header: list[str]) -> dict[str, int]:
        name, kind = self.current
        index, missing, unknown = parsing.map_header(kind, header)
        if missing:
            raise ImportRefused(f"line 1: missing column(s) {', '.join(missing)} (header: {', '.join(header)[:200]})")
        for h in unknown:
            self.warn(name, 1, h[:100], "unknown column, ignored")
        return index

    def parse_row(self, row: dict[str, str], line: int):
        name, kind = self.current
        values, problem = parsing.convert(kind, row)
        if problem is not None:
            raise RowError(*problem)
        key = parsing.KEY[kind]
        if values[key] in self.seen:
            raise RowError(key, f"duplicate {key} {values[key]!r} (first on line {self.seen[values[key]]})")
        self.seen[values[key]] = line
        values["_line"] = line
        values["_file"] = name
        return kind, values

    # --- checks across the files -----------------------------------------------------------------

    def check(self, rows: list) -> list[tuple[int, RowError]]:
        """Rows naming a customer no profile defines are rejected; profiles with no activity row are
        reported; ids stored for another customer (an earlier import) are rejected; a file missing
        from the set is reported."""
        for kind in parsing.KINDS:
            if kind not in self.file_kinds.values():
                self.warn(parsing.FILES[kind], 0, "", "not in this upload: nothing of it is changed")
        by_kind: dict[str, list[tuple[int, dict]]] = {k: [] for k in parsing.KINDS}
        for i, (kind, row) in enumerate(rows):
            by_kind[kind].append((i, row))
        profile_ids = {r["customer_id"] for _, r in by_kind["profiles"]}
        referenced = {r["customer_id"] for k in REF_KINDS for _, r in by_kind[k]}
        self.existing = _existing_customers(self.team, profile_ids | referenced)
        known = profile_ids | set(self.existing)
        out: list[tuple[int, RowError]] = []
        for kind in REF_KINDS:
            keep = []
            for i, row in by_kind[kind]:
                if row["customer_id"] in known:
                    keep.append((i, row))
                else:
                    out.append((i, RowError("customer_id", f"customer {row['customer_id']} is defined by no profile")))
            by_kind[kind] = keep
        if by_kind["profiles"]:
            with_activity = {r["customer_id"] for _, r in by_kind["activity"]}
            with_activity |= {cid for cid, rec in self.existing.items() if rec.has_activity}
            for _, row in by_kind["profiles"]:
                if row["customer_id"] not in with_activity:
                    self.warn(row["_file"], row["_line"], "customer_id",
                              f"customer {row['customer_id']} has no row in Account Activity Logs (imported without one)")  # fmt: skip
        out += self._foreign_ids(by_kind)
        return out

    def _foreign_ids(self, by_kind) -> list[tuple[int, RowError]]:
        team = self.team
        stored = {
            "interactions": lambda ids: Activity.objects.filter(
                account__team=team, kind=Activity.Kind.SERVICE, external_id__in=ids
            ).values_list("external_id", "account__external_id"),
            "notifications": lambda ids: PastNotification.objects.filter(team=team, external_id__in=ids).values_list(
                "external_id", "account__external_id"
            ),
            "actions": lambda ids: RecommendedAction.objects.filter(team=team, external_id__in=ids).values_list(
                "external_id", "account__external_id"
            ),
        }
        out = []
        for kind, query in stored.items():
            key = parsing.KEY[kind]
            ids = [r[key] for _, r in by_kind[kind]]
            owner: dict[str, str] = {}
            for chunk in _chunks(ids, LOOKUP_CHUNK):
                owner.update(dict(query(chunk)))
            for i, row in by_kind[kind]:
                was = owner.get(row[key])
                if was is not None and was != row["customer_id"]:
                    out.append(
                        (i, RowError(key, f"{key} {row[key]} already belongs to customer {was} (an earlier import)"))
                    )
        return out

    # --- writing -----------------------------------------------------------------------------------

    def write(self, rows: list, run: ImportRun) -> Counts:
        by_kind: dict[str, list[dict]] = {}
        for kind, row in rows:
            by_kind.setdefault(kind, []).append(row)
        writer = _Writer(self.team, run, self.existing)
        writer.write(by_kind)
        total = Counts()
        names = {kind: name for name, kind in self.file_kinds.items()}
        for kind, c in writer.counts.items():
            counts = Counts(c["created"], c["updated"], c["unchanged"])
            self.counts_by_file[names[kind]] = counts
            total = total + counts
        if not run.dry_run:
            run.undo = writer.undo
        self.latest = [
            d
            for kind, col in AS_OF_COLUMNS.items()
            for d in [max((r[col] for r in by_kind.get(kind, []) if r.get(col)), default=None)]
            if d is not None
        ]
        return total

    def after_import(self, run: ImportRun) -> None:
        conf = NotificationSettings.for_team(self.team)
        if self.latest:
            as_of = min(max(self.latest + ([conf.as_of] if conf.as_of else [])), timezone.localdate())
            if as_of != conf.as_of:
                NotificationSettings.objects.filter(pk=conf.pk).update(as_of=as_of)
        if self.recompute:
            facts.recompute(self.team)

    # --- the streaming COPY path (Customer Profiles and Account Activity Logs) -----------------------

    def check_staged(self, cursor, stages) -> None:
        other = [s.name for s in stages if s.tag not in ("profiles", "activity")]
        if other:
            raise ImportRefused(
                f"{', '.join(other)}: the streaming import takes Customer Profiles and Account Activity Logs; "
                "import the other files without --bulk"
            )
        bulkload.check(cursor, self.team, {s.tag: s for s in stages})

    def merge(self, cursor, stages, run: ImportRun) -> Counts:
        by_tag = {s.tag: s for s in stages}
        counts = bulkload.merge(cursor, self.team, by_tag, run)
        for tag, c in counts.items():
            self.counts_by_file[by_tag[tag].name] = c
        total = Counts()
        for c in counts.values():
            total = total + c
        if not run.dry_run:
            run.undo = {"copy": True}
        return total

    # --- undo --------------------------------------------------------------------------------------

    def undo_blocker(self, run: ImportRun) -> str:
        acted = Notification.objects.filter(team=run.team).filter(
            Q(approved_at__gt=run.started_at) | Q(sent_at__gt=run.started_at)
        )
        return "notifications were approved or sent since this import" if acted.exists() else ""

    def undo(self, run: ImportRun) -> None:
        if run.undo.get("copy"):
            bulkload.undo(self.team, run)
            return
        created = run.undo.get("created", {})
        Notification.objects.filter(team=run.team, account_id__in=created.get("accounts", [])).delete()
        for table in ("activities", "notifications", "actions", "accounts"):
            for chunk in _chunks(created.get(table, []), LOOKUP_CHUNK):
                UNDO_MODELS[table].objects.filter(pk__in=chunk).delete()
        for table, items in run.undo.get("updated", {}).items():
            model = UNDO_MODELS[table]
            # Oldest value wins: a row updated twice in one run is restored to before the run.
            for item in reversed(items):
                values = {k: _from_json(v) for k, v in item.items() if k != "pk"}
                model.objects.filter(pk=item["pk"]).update(**values)


def _existing_customers(team, ids: set[str]) -> dict[str, CustomerRecord]:
    found: dict[str, CustomerRecord] = {}
    for chunk in _chunks(sorted(ids), LOOKUP_CHUNK):
        for rec in CustomerRecord.objects.filter(team=team, customer_id__in=chunk).select_related("account"):
            found[rec.customer_id] = rec
    return found


def _aware(d) -> datetime:
    return datetime.combine(d, time(12, 0), tzinfo=UTC)  # noon UTC: the same calendar day everywhere in Europe


class _Writer:
    def __init__(self, team, run: ImportRun, existing: dict[str, CustomerRecord]):
        self.team = team
        self.run = run
        self.records = dict(existing)
        self.counts: dict[str, dict[str, int]] = {}
        self.undo: dict = {"created": {}, "updated": {}}

    def _count(self, kind: str, what: str, n: int = 1) -> None:
        self.counts.setdefault(kind, {"created": 0, "updated": 0, "unchanged": 0})[what] += n

    def _created(self, table: str, ids) -> None:
        self.undo["created"].setdefault(table, []).extend(ids)

    def _updated(self, table: str, pk: int, before: dict) -> None:
        self.undo["updated"].setdefault(table, []).append({"pk": pk, **{k: _jsonable(v) for k, v in before.items()}})

    def write(self, parsed: dict[str, list[dict]]) -> None:
        if "profiles" in parsed:
            self.profiles(parsed["profiles"])
        if "activity" in parsed:
            self.activity(parsed["activity"])
        if "interactions" in parsed:
            self.interactions(parsed["interactions"])
        if "notifications" in parsed:
            self.simple("notifications", PastNotification, parsed["notifications"], self._past_values)
        if "actions" in parsed:
            self.simple("actions", RecommendedAction, parsed["actions"], self._action_values)

    def profiles(self, rows: list[dict]) -> None:
        new_rows = [r for r in rows if r["customer_id"] not in self.records]
        accounts = Account.objects.bulk_create(
            [
                Account(
                    team=self.team,
                    name=_name(r) or r["customer_id"],
                    kind=Account.Kind.PERSON,
                    external_id=r["customer_id"],
                )
                for r in new_rows
            ],
            batch_size=500,
        )
        self._created("accounts", [a.pk for a in accounts])
        Contact.objects.bulk_create(
            [Contact(account=a, **_contact_values(r)) for a, r in zip(accounts, new_rows, strict=True)], batch_size=500
        )
        recs = CustomerRecord.objects.bulk_create(
            [
                CustomerRecord(
                    team=self.team, account=a, customer_id=r["customer_id"], import_run=self.run, **_record_values(r)
                )
                for a, r in zip(accounts, new_rows, strict=True)
            ],
            batch_size=500,
        )
        for rec, a in zip(recs, accounts, strict=True):
            rec.account = a
            self.records[rec.customer_id] = rec
        self._count("profiles", "created", len(recs))
        new_ids = {r["customer_id"] for r in new_rows}
        old_rows = [r for r in rows if r["customer_id"] not in new_ids]
        contacts = {}
        for acc_ids in _chunks([self.records[r["customer_id"]].account_id for r in old_rows], LOOKUP_CHUNK):
            contacts.update({c.account_id: c for c in Contact.objects.filter(account_id__in=acc_ids).order_by("-pk")})
        for r in old_rows:
            rec = self.records[r["customer_id"]]
            changed = self._apply("records", rec, _record_values(r))
            acc_changed = self._apply("accounts", rec.account, {"name": _name(r) or rec.account.name})
            contact = contacts.get(rec.account_id)
            con_changed = False
            if contact is None:
                Contact.objects.create(account=rec.account, **_contact_values(r))
                con_changed = True
            else:
                con_changed = self._apply(
                    "contacts", contact, {k: v for k, v in _contact_values(r).items() if k != "external_id"}
                )
            self._count("profiles", "updated" if changed or acc_changed or con_changed else "unchanged")

    def _apply(self, table: str, obj, values: dict) -> bool:
        before = {k: getattr(obj, k) for k in values}
        if all(_same(before[k], v) for k, v in values.items()):
            return False
        self._updated(table, obj.pk, before)
        for k, v in values.items():
            setattr(obj, k, v)
        if table == "records":
            obj.import_run = self.run
            obj.save(update_fields=[*values, "import_run", "updated_at"])
        else:
            obj.save(update_fields=list(values))
        return True

    def activity(self, rows: list[dict]) -> None:
        fresh_records, fresh_accounts = [], []
        for r in rows:
            rec = self.records[r["customer_id"]]
            values = {
                "has_activity": True,
                "account_status": r.get("account_status", ""),
                "engagement_score": r.get("engagement_score"),
                "churn_risk": r.get("churn_risk"),
                "last_login": r.get("last_login"),
                "payment_status": r.get("payment_status", ""),
                "contract_end": r.get("contract_end"),
                "outcome": r.get("outcome", ""),
                "outcome_on": r.get("outcome_date"),
            }
            acc = {"account_status": values["account_status"], "churn_risk": values["churn_risk"] or 0.0}
            if rec.import_run_id == self.run.pk and not rec.has_activity:
                # Created by this run: undo deletes it, so no snapshot; one batched UPDATE for all.
                fresh_records.append((*values.values(), rec.pk))
                fresh_accounts.append((*acc.values(), rec.account_id))
                self._count("activity", "created")
                continue
            changed = self._apply("records", rec, values)
            self._apply("accounts", rec.account, acc)
            self._count("activity", "updated" if changed else "unchanged")
        update_rows(
            CustomerRecord, [*ACTIVITY_FIELDS, "import_run"], [(*v[:-1], self.run.pk, v[-1]) for v in fresh_records]
        )
        update_rows(Account, ["account_status", "churn_risk"], fresh_accounts)

    def interactions(self, rows: list[dict]) -> None:
        by_account: dict[int, dict[str, dict]] = {}
        for r in rows:
            by_account.setdefault(self.records[r["customer_id"]].account_id, {})[r["interaction_id"]] = r
        stored = {}
        for acc_ids in _chunks(list(by_account), LOOKUP_CHUNK):
            for a in Activity.objects.filter(account_id__in=acc_ids, kind=Activity.Kind.SERVICE).exclude(
                external_id=""
            ):
                stored[(a.account_id, a.external_id)] = a
        new = []
        for acc_id, items in by_account.items():
            for ext, r in items.items():
                values = {
                    "occurred_at": _aware(r["date"]),
                    "subject": r["category"][:300],
                    "body": r.get("summary", "") + (f"\n\nChannel: {r['channel']}" if r.get("channel") else ""),
                    "sentiment": r.get("sentiment"),
                }
                a = stored.get((acc_id, ext))
                if a is None:
                    new.append(
                        Activity(
                            account_id=acc_id,
                            kind=Activity.Kind.SERVICE,
                            direction=Activity.Direction.INBOUND,
                            external_id=ext,
                            **values,
                        )
                    )
                elif self._apply("activities", a, values):
                    self._count("interactions", "updated")
                else:
                    self._count("interactions", "unchanged")
        created = Activity.objects.bulk_create(new, batch_size=500)
        self._created("activities", [a.pk for a in created])
        self._count("interactions", "created", len(created))

    def _past_values(self, r: dict) -> dict:
        return {"sent_on": r["sent_at"], "channel": r.get("channel", ""), "subject": r["subject"],
                "opened": r.get("opened", False), "clicked": r.get("clicked", False), "responded": r.get("responded", False)}  # fmt: skip

    def _action_values(self, r: dict) -> dict:
        return {
            "action": r["action"],
            "offer": r.get("offer", ""),
            "priority": r.get("priority", ""),
            "valid_until": r.get("valid_until"),
        }

    def simple(self, kind: str, model, rows: list[dict], values_of) -> None:
        key = parsing.KEY[kind]
        stored = {}
        for ids in _chunks([r[key] for r in rows], LOOKUP_CHUNK):
            stored.update({o.external_id: o for o in model.objects.filter(team=self.team, external_id__in=ids)})
        new = []
        for r in rows:
            values = values_of(r)
            obj = stored.get(r[key])
            if obj is None:
                acc = self.records[r["customer_id"]].account_id
                new.append(model(team=self.team, account_id=acc, external_id=r[key], import_run=self.run, **values))
            elif self._apply(kind, obj, values):
                self._count(kind, "updated")
            else:
                self._count(kind, "unchanged")
        created = model.objects.bulk_create(new, batch_size=500)
        self._created(kind, [o.pk for o in created])
        self._count(kind, "created", len(created))


def _chunks(items: list, n: int):
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _name(r: dict) -> str:
    return f"{r.get('first_name', '')} {r.get('last_name', '')}".strip()


def _contact_values(r: dict) -> dict:
    return {
        "name": _name(r) or r["customer_id"],
        "email": r.get("email", ""),
        "phone": r.get("phone", ""),
        "preferred_channel": r.get("preferred_channel") or "email",
        "opted_out": not r.get("marketing_consent", True),
        "external_id": r["customer_id"],
    }


def _record_values(r: dict) -> dict:
    return {
        "region": r.get("region", ""),
        "tariff": r.get("tariff", ""),
        "payment_method": r.get("payment_method", ""),
        "monthly_spend": r.get("monthly_spend_gbp", Decimal("0")),
        "tenure_months": r.get("tenure_months"),
        "green_tariff": r.get("green_tariff", False),
        "marketing_consent": r.get("marketing_consent", True),
    }


def _same(a, b) -> bool:
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return a is not None and b is not None and Decimal(str(a)) == Decimal(str(b))
    return a == b


def _jsonable(v):
    if isinstance(v, datetime):
        return {"dt": v.isoformat()}
    if hasattr(v, "isoformat"):
        return {"d": v.isoformat()}
    if isinstance(v, Decimal):
        return {"dec": str(v)}
    return v


def _from_json(v):
    if isinstance(v, dict):
        if "dt" in v:
            return datetime.fromisoformat(v["dt"])
        if "d" in v:
            return datetime.fromisoformat(v["d"]).date()
        if "dec" in v:
            return Decimal(v["dec"])
    return v


UNDO_MODELS = {
    "accounts": Account,
    "contacts": Contact,
    "records": CustomerRecord,
    "activities": Activity,
    "notifications": PastNotification,
    "actions": RecommendedAction,
}
