"""Import of the five customer files: parse everything, check across the files, then write the
good rows in one transaction (a dry run writes and rolls back, so its counts are exact), record the
run with its row-level report, and recompute segments, risk and the risk check.

Because the five files reference each other, strict mode treats the set as one unit: any rejected
row refuses the whole run and nothing is written. A refused file (empty, binary, not UTF-8, over
the size limit, missing a required column) refuses the run too.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from crm.models import Account, Activity, Contact
from notifications import facts, parsing
from notifications.exports import to_csv
from notifications.facts import update_rows
from notifications.models import (
    CustomerImport,
    CustomerRecord,
    Notification,
    NotificationSettings,
    PastNotification,
    RecommendedAction,
)

REF_KINDS = ("activity", "interactions", "notifications", "actions")
LOOKUP_CHUNK = 1000  # ids per IN (...) query: below SQLite's variable limit
ACTIVITY_FIELDS = ("has_activity", "account_status", "engagement_score", "churn_risk", "last_login", "payment_status",
                   "contract_end", "outcome", "outcome_on")  # fmt: skip


class ImportRefused(Exception):
    pass


@dataclass
class Upload:
    parsed: dict[str, parsing.Parsed] = field(default_factory=dict)
    issues: list[parsing.Issue] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    files: list[dict] = field(default_factory=list)


def read_files(files: list[tuple[str, bytes]]) -> Upload:
    up = Upload()
    limit = settings.NOTIFICATIONS_IMPORT_MAX_BYTES
    for name, data in files:
        if len(data) > limit:
            up.refusals.append(f"{name}: {len(data):,} bytes is over the limit of {limit:,} bytes")
            continue
        try:
            text = parsing.decode(name, data)
        except parsing.FileRefused as exc:
            up.refusals.append(str(exc))
            continue
        header = next(csv.reader(io.StringIO(text.split("\n", 1)[0])), [])
        kind = parsing.detect_kind(name, header)
        if kind is None:
            up.refusals.append(f"{name}: cannot tell which of the five files this is (header: {', '.join(header)})")
            continue
        if kind in up.parsed:
            up.refusals.append(f"{name}: a second {parsing.FILE_LABELS[kind]} file in one upload")
            continue
        parsed = parsing.parse(kind, name, text)
        if parsed.refused:
            up.refusals.append(f"{name}: {parsed.refused}")
        up.parsed[kind] = parsed
        up.issues.extend(parsed.issues)
    for kind in parsing.KINDS:
        if kind not in up.parsed:
            up.issues.append(parsing.Issue(parsing.FILES[kind], 0, "", "not in this upload: nothing of it is changed"))
    return up


def _existing_customers(team, ids: set[str]) -> dict[str, CustomerRecord]:
    found: dict[str, CustomerRecord] = {}
    ordered = sorted(ids)
    for i in range(0, len(ordered), LOOKUP_CHUNK):
        for rec in CustomerRecord.objects.filter(
            team=team, customer_id__in=ordered[i : i + LOOKUP_CHUNK]
        ).select_related("account"):
            found[rec.customer_id] = rec
    return found


def _reject(p: parsing.Parsed, row: dict, column: str, reason: str, up: Upload) -> None:
    issue = parsing.Issue(p.file, row["_line"], column, reason)
    up.issues.append(issue)
    p.rejected.append((row["_line"], [str(v) for k, v in row.items() if k != "_line"], f"{column}: {reason}"))


def cross_check(team, up: Upload) -> dict[str, CustomerRecord]:
    """Rows that name a customer no profile defines are rejected; profiles with no activity row are
    reported; ids already stored for another customer (in an earlier run) are rejected."""
    profile_ids = {r["customer_id"] for r in up.parsed["profiles"].rows} if "profiles" in up.parsed else set()
    referenced = {r["customer_id"] for k in REF_KINDS if k in up.parsed for r in up.parsed[k].rows}
    existing = _existing_customers(team, profile_ids | referenced)
    known = profile_ids | set(existing)
    for kind in REF_KINDS:
        p = up.parsed.get(kind)
        if p is None:
            continue
        keep = []
        for row in p.rows:
            if row["customer_id"] not in known:
                _reject(p, row, "customer_id", f"customer {row['customer_id']} is defined by no profile", up)
            else:
                keep.append(row)
        p.rows = keep
    if "profiles" in up.parsed:
        with_activity = {r["customer_id"] for r in up.parsed["activity"].rows} if "activity" in up.parsed else set()
        with_activity |= {cid for cid, rec in existing.items() if rec.has_activity}
        for row in up.parsed["profiles"].rows:
            if row["customer_id"] not in with_activity:
                up.issues.append(
                    parsing.Issue(up.parsed["profiles"].file, row["_line"], "customer_id",
                                  f"customer {row['customer_id']} has no row in Account Activity Logs (imported without one)")
                )  # fmt: skip
    _reject_foreign_ids(team, up, existing)
    return existing


def _reject_foreign_ids(team, up: Upload, existing: dict[str, CustomerRecord]) -> None:
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
    for kind, query in stored.items():
        p = up.parsed.get(kind)
        if p is None or not p.rows:
            continue
        key = parsing.KEY[kind]
        ids = [r[key] for r in p.rows]
        owner: dict[str, str] = {}
        for i in range(0, len(ids), LOOKUP_CHUNK):
            owner.update(dict(query(ids[i : i + LOOKUP_CHUNK])))
        keep = []
        for row in p.rows:
            was = owner.get(row[key])
            if was is not None and was != row["customer_id"]:
                _reject(p, row, key, f"{key} {row[key]} already belongs to customer {was} (an earlier import)", up)
            else:
                keep.append(row)
        p.rows = keep


def run_import(files: list[tuple[str, bytes]], *, team, actor=None, dry_run=False, strict=False) -> CustomerImport:
    up = read_files(files)
    existing: dict[str, CustomerRecord] = {}
    if not up.refusals and "profiles" not in up.parsed and not any(k in up.parsed for k in REF_KINDS):
        up.refusals.append("no customer file in the upload")
    if not up.refusals:
        existing = cross_check(team, up)
    rejected = sum(len(p.rejected) for p in up.parsed.values())
    if strict and rejected and not up.refusals:
        up.refusals.append(f"strict mode: {rejected} rejected row(s), so nothing was imported")
    run = CustomerImport(team=team, actor=actor, strict=strict)
    run.files = [
        {"name": p.file, "kind": k, "rows": len(p.rows) + len(p.rejected), "rejected": len(p.rejected)}
        for k, p in up.parsed.items()
    ]
    run.issues = [{"file": i.file, "line": i.line, "column": i.column, "reason": i.reason} for i in up.issues]
    run.issues += [{"file": "", "line": 0, "column": "", "reason": r} for r in up.refusals]
    run.rejected_csv = to_csv(
        ["file", "line", "reason", "cells"],
        ([p.file, line, reason, ",".join(cells)] for p in up.parsed.values() for line, cells, reason in p.rejected),
    )
    counts = {
        k: {"created": 0, "updated": 0, "unchanged": 0, "rejected": len(p.rejected)} for k, p in up.parsed.items()
    }
    if up.refusals:
        run.status = CustomerImport.Status.REFUSED
        run.counts = counts
        run.save()
        return run
    with transaction.atomic():
        run.status = CustomerImport.Status.DRY_RUN if dry_run else CustomerImport.Status.DONE
        run.save()
        writer = _Writer(team, run, existing)
        writer.write(up.parsed)
        for k, c in writer.counts.items():
            counts[k].update(c)
        run.counts = counts
        run.undo = writer.undo
        if dry_run:
            transaction.set_rollback(True)
    if dry_run:
        run.pk = None
        run.undo = {}
        run.save()
        return run
    run.save(update_fields=["counts", "undo"])
    _after_write(team, up)
    return run


def _after_write(team, up: Upload) -> None:
    latest = [
        d
        for kind, col in (("interactions", "date"), ("notifications", "sent_at"), ("activity", "last_login"))
        if kind in up.parsed
        for d in [max((r[col] for r in up.parsed[kind].rows if r.get(col)), default=None)]
        if d is not None
    ]
    conf = NotificationSettings.for_team(team)
    if latest:
        as_of = min(max(latest + ([conf.as_of] if conf.as_of else [])), timezone.localdate())
        if as_of != conf.as_of:
            NotificationSettings.objects.filter(pk=conf.pk).update(as_of=as_of)
    facts.recompute(team)


def _aware(d) -> datetime:
    return datetime.combine(d, time(12, 0), tzinfo=UTC)  # noon UTC: the same calendar day everywhere in Europe


class _Writer:
    def __init__(self, team, run: CustomerImport, existing: dict[str, CustomerRecord]):
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

    def write(self, parsed: dict[str, parsing.Parsed]) -> None:
        if "profiles" in parsed:
            self.profiles(parsed["profiles"].rows)
        if "activity" in parsed:
            self.activity(parsed["activity"].rows)
        if "interactions" in parsed:
            self.interactions(parsed["interactions"].rows)
        if "notifications" in parsed:
            self.simple("notifications", PastNotification, parsed["notifications"].rows, self._past_values)
        if "actions" in parsed:
            self.simple("actions", RecommendedAction, parsed["actions"].rows, self._action_values)

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


def run_bulk(*, team, profiles=None, activity=None, actor=None) -> CustomerImport:
    """The PostgreSQL COPY path (notifications/bulkload.py), recorded like any import."""
    from notifications import bulkload

    run = CustomerImport(team=team, actor=actor, undo={"bulk": True})
    try:
        result = bulkload.load(team=team, profiles=profiles, activity=activity)
    except (parsing.FileRefused, UnicodeDecodeError) as exc:
        run.status = CustomerImport.Status.REFUSED
        run.issues = [{"file": "", "line": 0, "column": "", "reason": str(exc)}]
        run.save()
        return run
    run.status = CustomerImport.Status.DONE
    run.files = [{"name": p.name, "kind": k, "rows": result.rows[k], "rejected": result.rejected[k]}
                 for k, p in (("profiles", profiles), ("activity", activity)) if p is not None]  # fmt: skip
    run.counts = {
        k: {"created": 0, "updated": 0, "unchanged": 0, "rejected": result.rejected[k], "rows": n}
        for k, n in result.rows.items()
    }
    run.issues = [{"file": i.file, "line": i.line, "column": i.column, "reason": i.reason} for i in result.issues]
    run.save()
    facts.recompute(team)
    return run


def undo_blocker(run: CustomerImport) -> str:
    """Why this run cannot be undone ("" when it can)."""
    if run.undo.get("bulk"):
        return "a bulk (COPY) import keeps no per-row snapshot; import the previous files again instead"
    if run.status != CustomerImport.Status.DONE:
        return f"only an import that was carried out can be undone (this one is {run.get_status_display().lower()})"
    newer = CustomerImport.objects.filter(
        team=run.team, status=CustomerImport.Status.DONE, created_at__gt=run.created_at
    ).exclude(pk=run.pk)
    if newer.exists():
        return f"import {newer.order_by('created_at').first().pk} is newer and builds on it; undo that first"
    if (
        Notification.objects.filter(team=run.team, created_at__gt=run.created_at)
        .exclude(status=Notification.Status.DRAFT)
        .exists()
    ):
        return "notifications were approved or sent since this import"
    return ""


@transaction.atomic
def undo_import(run: CustomerImport) -> None:
    run = CustomerImport.objects.select_for_update().get(pk=run.pk)
    blocker = undo_blocker(run)
    if blocker:
        raise ImportRefused(blocker)
    created = run.undo.get("created", {})
    Notification.objects.filter(team=run.team, account_id__in=created.get("accounts", [])).delete()
    for table in ("activities", "notifications", "actions", "accounts"):
        ids = created.get(table, [])
        for chunk in _chunks(ids, LOOKUP_CHUNK):
            UNDO_MODELS[table].objects.filter(pk__in=chunk).delete()
    for table, items in run.undo.get("updated", {}).items():
        model = UNDO_MODELS[table]
        # Oldest value wins: a row updated twice in one run is restored to before the run.
        for item in reversed(items):
            values = {k: _from_json(v) for k, v in item.items() if k != "pk"}
            model.objects.filter(pk=item["pk"]).update(**values)
    run.status = CustomerImport.Status.UNDONE
    run.undone_at = timezone.now()
    run.save(update_fields=["status", "undone_at"])
    facts.recompute(run.team)
