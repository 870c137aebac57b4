"""Nudge workflows: refresh the nudges of a chunk of deals, fan a scan out, act on a nudge, export."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from crm import audit
from crm import services as crm_services
from crm.errors import ServiceError
from crm.models import Activity, AuditEvent, Deal
from nudges import ai, metrics, prompts, rules, scan
from nudges.models import Nudge, NudgeSettings, codes_column


@dataclass
class RefreshSummary:
    deals: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    expired: int = 0
    suppressed: int = 0

    def add(self, other: RefreshSummary) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def chunked(ids: list[int], size: int):
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def candidate_deal_ids(*, team_ids=None, now: datetime | None = None) -> list[int]:
    """Open deals a scan must look at: not snoozed, no future next step, or with an open nudge
    (which may need closing)."""
    today = (now or timezone.now()).date()
    deals = Deal.objects.open()
    nudges = Nudge.objects.open()
    if team_ids is not None:
        deals = deals.filter(team_id__in=team_ids)
        nudges = nudges.filter(team_id__in=team_ids)
    waiting = deals.exclude(snoozed_until__gt=today).exclude(next_step_due__gte=today)
    return sorted(set(waiting.values_list("id", flat=True)) | set(nudges.values_list("deal_id", flat=True)))


def _configs(team_ids) -> dict[int, rules.RuleConfig]:
    return {tid: obj.rule_config() for tid, obj in NudgeSettings.for_teams(team_ids).items()}


@dataclass(slots=True)
class ThreadText:
    """What a nudge is written from: every body (for the tone) and the last one of each side."""

    bodies: list[str]
    last_ours: str = ""
    last_theirs: str = ""


def _threads(deal_ids) -> dict[int, ThreadText]:
    out: dict[int, ThreadText] = {}
    rows = (
        Activity.objects.filter(deal_id__in=deal_ids, kind=Activity.Kind.EMAIL)
        .order_by("occurred_at", "id")  # time order; the timestamps themselves are not needed
        .values_list("deal_id", "direction", "body")
    )
    inbound = Activity.Direction.INBOUND
    for deal_id, direction, body in rows:
        thread = out.get(deal_id)
        if thread is None:
            thread = out[deal_id] = ThreadText([])
        thread.bodies.append(body)
        if direction == inbound:
            thread.last_theirs = body
        else:
            thread.last_ours = body
    return out


def _hash(inputs: dict) -> str:
    """Same inputs, same prompt, same writer: same nudge; anything else regenerates it."""
    material = [inputs, prompts.NUDGE_SYSTEM, prompts.NUDGE_PROMPT, ai.WRITER_VERSION]
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def refresh_nudges(*, deal_ids: list[int], now: datetime | None = None, force: bool = False) -> RefreshSummary:
    """Evaluate the deals and bring their open nudges in line; idempotent (a rerun changes nothing)."""
    now = now or timezone.now()
    summary = RefreshSummary()
    facts = scan.collect_facts(deal_ids=deal_ids)
    summary.deals = len(facts)
    configs = _configs({team_id for team_id, _ in facts})
    verdicts = {f.deal_id: (team_id, rules.evaluate(f, configs[team_id], now)) for team_id, f in facts}
    open_nudges = {
        n.deal_id: n for n in Nudge.objects.open().filter(deal_id__in=deal_ids).only("id", "deal_id", "input_hash")
    }
    # Expire open nudges whose deal no longer qualifies (touched, scheduled, snoozed, closed).
    stale_ids = {deal_id for deal_id, (_, v) in verdicts.items() if v.nudge}
    expire = [n.pk for deal_id, n in open_nudges.items() if deal_id not in stale_ids]
    if expire:
        summary.expired = Nudge.objects.filter(pk__in=expire, status=Nudge.Status.OPEN).update(
            status=Nudge.Status.EXPIRED, acted_at=now, updated_at=now
        )
    if not stale_ids:
        return summary
    # A dismissed nudge stays dismissed until the deal is touched or a new warning appears.
    dismissed: dict[int, tuple] = {}
    dismissed_rows = (
        Nudge.objects.filter(deal_id__in=stale_ids, status=Nudge.Status.DISMISSED)
        .order_by("acted_at")
        .values_list("deal_id", "acted_at", "warning_codes")
    )
    for deal_id, acted_at, codes in dismissed_rows:
        dismissed[deal_id] = (acted_at, set(filter(None, codes.split(","))))
    last_touch = dict(Deal.objects.filter(pk__in=stale_ids).values_list("pk", "last_activity_at"))
    deals = {
        row[0]: ai.DealBrief.from_row(row)
        for row in Deal.objects.filter(pk__in=stale_ids).values_list(*ai.DealBrief.FIELDS)
    }
    threads = _threads(list(stale_ids))
    to_create: list[Nudge] = []
    to_update: list[Nudge] = []
    pending: list[tuple] = []
    for deal_id in sorted(stale_ids):
        team_id, verdict = verdicts[deal_id]
        deal = deals[deal_id]
        prior = dismissed.get(deal_id)
        touched = last_touch.get(deal_id)
        if prior is not None and (touched is None or prior[0] > touched) and set(verdict.codes) <= prior[1]:
            summary.suppressed += 1
            continue
        thread = threads.get(deal_id)
        tone = metrics.classify_tone(thread.bodies) if thread else Nudge.Tone.FORMAL
        last_ours = thread.last_ours if thread else ""
        last_theirs = thread.last_theirs if thread else ""
        inputs = ai.nudge_inputs(
            deal=deal,
            facts_why=verdict.reason,
            codes=verdict.codes,
            details=[w.detail for w in verdict.warnings],
            tone=tone,
            last_ours=last_ours,
            last_theirs=last_theirs,
        )
        digest = _hash(inputs)
        existing = open_nudges.get(deal_id)
        if existing is not None and existing.input_hash == digest and not force:
            summary.unchanged += 1
            continue
        pending.append((str(deal_id), inputs, deal, team_id, verdict, tone, digest, existing))
    # `about` only needs the type and pk (the gateway's ledger links each call to its deal).
    written_all = ai.write_nudges(
        [(key, inputs, Deal(pk=deal.pk)) for key, inputs, deal, *_ in pending], force_refresh=force
    )
    fields = ["warnings", "warning_codes", "why_now", "text", "urgency", "idle_days", "tone", "offline"]
    fields += ["provider", "input_hash", "flags", "updated_at"]
    for key, _inputs, _deal, team_id, verdict, tone, digest, existing in pending:
        written = written_all[key]
        values = {
            "warnings": [w.as_dict() for w in verdict.warnings],
            "warning_codes": codes_column(verdict.codes),
            "why_now": verdict.reason,
            "text": written.text,
            "urgency": verdict.urgency,
            "idle_days": verdict.idle_days,
            "tone": tone,
            "offline": written.offline,
            "provider": written.provider,
            "input_hash": digest,
            "flags": written.flags,
            "updated_at": now,
        }
        if existing is None:
            to_create.append(Nudge(team_id=team_id, deal_id=int(key), created_at=now, **values))
        else:
            for k, v in values.items():
                setattr(existing, k, v)
            to_update.append(existing)
    with transaction.atomic():
        if to_create:
            # A concurrent scan of the same deal loses quietly to the one-open-nudge constraint.
            _insert_rows(to_create)
        if to_update:
            _update_rows(to_update, fields)
    summary.created = len(to_create)
    summary.updated = len(to_update)
    return summary


def _raw_cursor():
    """On PostgreSQL a server-side-binding psycopg cursor: executemany is pipelined and each
    value is sent as a parameter, where Django's client-side-binding cursor quotes every value
    (and bulk_create's UNNEST arrays) in Python: most of the write time of a 500-nudge chunk."""
    if connection.vendor == "postgresql":
        import psycopg

        connection.ensure_connection()
        return psycopg.Cursor(connection.connection)
    return connection.cursor()


def _insert_rows(nudges: list[Nudge]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING, one parameterised row per nudge through executemany."""
    if connection.vendor != "postgresql":
        Nudge.objects.bulk_create(nudges, ignore_conflicts=True, batch_size=500)
        return
    quote = connection.ops.quote_name
    fields = [f for f in Nudge._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(quote(f.column) for f in fields)
    values = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(Nudge._meta.db_table)} ({columns}) VALUES ({values}) ON CONFLICT DO NOTHING"  # noqa: S608
    # Attribute values as they are (refresh_nudges sets created_at/updated_at itself); JSON columns
    # wrapped for psycopg. Django's per-field preparation cost more than the insert.
    from django.db.models import JSONField
    from psycopg.types.json import Jsonb

    getters = [(f.attname, isinstance(f, JSONField)) for f in fields]
    params = [[Jsonb(getattr(n, a)) if js else getattr(n, a) for a, js in getters] for n in nudges]
    with _raw_cursor() as cur:
        cur.executemany(sql, params)


def _update_rows(nudges: list[Nudge], fields: list[str]) -> None:
    """One parameterised UPDATE per row through executemany (psycopg pipelines it): Django's
    bulk_update builds a CASE per field and row, which costs seconds per 500 rows."""
    meta = Nudge._meta
    columns = [meta.get_field(f) for f in fields]
    sets = ", ".join(f"{connection.ops.quote_name(c.column)} = %s" for c in columns)
    sql = f"UPDATE {connection.ops.quote_name(meta.db_table)} SET {sets} WHERE id = %s AND status = %s"  # noqa: S608
    params = [
        [*(c.get_db_prep_save(getattr(n, c.attname), connection) for c in columns), n.pk, Nudge.Status.OPEN]
        for n in nudges
    ]
    with _raw_cursor() as cur:
        cur.executemany(sql, params)


class ActionError(ServiceError):
    """A nudge action refused (already closed, no reason, past date): 400 in the API, a message in the console."""


@transaction.atomic
def act_on_nudge(
    *,
    nudge: Nudge,
    actor,
    action: str,
    reason: str = "",
    until: date | None = None,
    kind: str = Activity.Kind.NOTE,
    note: str = "",
    via: str = "console",
    now: datetime | None = None,
) -> Nudge:
    """Done logs the touch (resetting the idle clock); snooze sets the deal's snooze; dismiss records why."""
    now = now or timezone.now()
    nudge = Nudge.objects.select_for_update().select_related("deal", "deal__account").get(pk=nudge.pk)
    if nudge.status != Nudge.Status.OPEN:
        raise ActionError(f"This nudge is already {nudge.get_status_display().lower()}.")
    deal = nudge.deal
    before = audit.snapshot(nudge)
    if action == "done":
        crm_services.log_activity(
            actor=actor,
            account=deal.account,
            deal=deal,
            contact=deal.primary_contact,
            kind=kind,
            subject="Follow-up",
            body=note or f"Followed up: {nudge.text}",
            occurred_at=now,
            via=via,
        )
        nudge.close(status=Nudge.Status.DONE, actor=actor, reason=note[:300], now=now)
    elif action == "snooze":
        if until is None or until <= now.date():
            raise ActionError("Snooze until a future date.", field="until")
        if not reason.strip():
            raise ActionError("Say why the deal is paused.", field="reason")
        deal_before = audit.snapshot(deal)
        deal.snooze(until, reason.strip())
        audit.record(actor=actor, action=AuditEvent.Action.UPDATE, obj=deal, before=deal_before, via=via)
        nudge.close(status=Nudge.Status.SNOOZED, actor=actor, reason=reason.strip(), until=until, now=now)
    elif action == "dismiss":
        if not reason.strip():
            raise ActionError("Say why the nudge is dismissed.", field="reason")
        nudge.close(status=Nudge.Status.DISMISSED, actor=actor, reason=reason.strip(), now=now)
    else:
        raise ActionError(f"Unknown action {action!r}.", field="action")
    audit.record(actor=actor, action=AuditEvent.Action.UPDATE, obj=nudge, before=before, via=via)
    return nudge


def nudge_payload(n: Nudge) -> dict:
    """The JSON shape shared by the stream, the export and the API (seed fields first)."""
    deal = n.deal
    return {
        "deal_id": deal.external_id or str(deal.pk),
        "nudge": n.text,
        "urgency": round(n.urgency, 2),
        "id": n.pk,
        "deal": deal.pk,
        "deal_name": deal.name,
        "account": deal.account.name,
        "stage": deal.stage.slug,
        "owner": deal.owner.get_username() if deal.owner else None,
        "idle_days": n.idle_days,
        "warnings": n.warning_list,
        "why_now": n.why_now,
        "tone": n.tone,
        "offline": n.offline,
        "created_at": n.created_at.isoformat(),
    }


def export_nudges(*, path: str | Path, team_ids=None) -> int:
    """Write the open nudges, most urgent first, as the seed's out/nudges.json list."""
    qs = Nudge.objects.open().select_related("deal", "deal__account", "deal__stage", "deal__owner")
    if team_ids is not None:
        qs = qs.filter(team_id__in=team_ids)
    items = [nudge_payload(n) for n in qs.order_by("-urgency", "pk")]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(items, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)  # readers never see a half-written file
    return len(items)
