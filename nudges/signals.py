"""Materialised conversation signals: per deal (`DealSignals`) and per contact (`ContactSignals`).

A scan must not recompute a LAG window over every conversation touch (1,000,000 rows at bench
size) each time. Instead `refresh()` brings the stored signals up to date, set-based:

  * **which deals**: those with conversation touches (email/call/meeting, in or out) whose id is
    above the stored watermark (a range read on the activity primary key), plus rows marked
    `dirty` by an edit or delete of one of their activities (`mark_dirty`, connected to the
    Activity model's save/delete signals in `apps.ready`);
  * **how**: one statement recomputes those deals from *all* their touches in (deal, time) order
    (the `activity_deal_time_idx` index) — so out-of-order timestamps, edits and deletions give
    the same answer as a rebuild — and replaces their rows; one more statement re-pools the usual
    reply time of the contacts who replied on them (old and new repliers);
  * **first run** (no state yet) or `refresh(full=True)` (`manage.py rebuild_deal_signals`, and
    the nightly beat entry): everything rebuilt from scratch.

The id watermark trails by one refresh: each refresh re-reads the id range the previous one read,
so activities whose transaction committed after a higher id was already visible are still picked
up on the next refresh. Writes that bypass the ORM's signals (queryset `.update()`, raw SQL on
existing activities) are only seen by a full rebuild.

PostgreSQL computes everything in SQL (`percentile_cont` for medians); SQLite reads the window
rows and aggregates them in Python (same results; it has no `percentile_cont`).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.timezone import is_naive, make_aware

from crm.models import Activity, Deal
from nudges.models import ContactSignals, DealSignals, SignalsState

TOUCH_KINDS = ("email", "call", "meeting")
A = Activity._meta.db_table
S = DealSignals._meta.db_table
CS = ContactSignals._meta.db_table
D = Deal._meta.db_table
_KINDS_SQL = ", ".join(f"'{k}'" for k in TOUCH_KINDS)
BATCH = 500  # ids per IN list on SQLite


@dataclass
class RefreshStats:
    full: bool
    deals: int  # deals recomputed
    contacts: int  # contacts whose usual reply time was re-pooled
    watermark: int  # highest activity id now reflected


def _touches():
    return Activity.objects.filter(kind__in=TOUCH_KINDS, direction__in=("in", "out"), deal_id__isnull=False)


def refresh(*, full: bool = False, now: datetime | None = None) -> RefreshStats:
    """Bring the stored signals up to date; idempotent. Serialised by a row lock on the state."""
    now = now or timezone.now()
    with transaction.atomic():
        SignalsState.objects.bulk_create([SignalsState(pk=1)], ignore_conflicts=True)
        state = SignalsState.objects.select_for_update().get(pk=1)
        high = Activity.objects.aggregate(m=Max("id"))["m"] or 0
        full = full or state.built_at is None
        if full:
            deals = _rebuild_all(now)
            contacts = _pool_contacts(None)
            _set_usual(None)
            state.built_at = now
            state.safe_activity_id = state.last_activity_id = high
        else:
            deal_ids = _changed_deals(state.safe_activity_id, high)
            old_repliers = _repliers(deal_ids)
            deals = _recompute(deal_ids, now)
            touched = old_repliers | _repliers(deal_ids)
            contacts = _pool_contacts(touched) if deal_ids else 0
            if deal_ids:
                _set_usual(_usual_scope(deal_ids, touched))
            # Trail by one refresh (see the module docstring).
            state.safe_activity_id, state.last_activity_id = state.last_activity_id, high
        state.refreshed_at = now
        state.save()
    return RefreshStats(full=full, deals=deals, contacts=contacts, watermark=high)


def rebuild(*, now: datetime | None = None) -> RefreshStats:
    return refresh(full=True, now=now)


def mark_dirty(deal_ids: Iterable[int | None], *, create: bool = False) -> None:
    """An activity of these deals was edited or deleted: recompute them on the next refresh.

    Only existing rows are marked unless `create` (an edited activity that is now a touch of a
    deal with no row yet): a delete may be part of a cascade that removes the deal too."""
    ids = sorted({int(i) for i in deal_ids if i is not None})
    if not ids:
        return
    marked = DealSignals.objects.filter(deal_id__in=ids).update(dirty=True)
    if create and marked < len(ids):
        DealSignals.objects.bulk_create([DealSignals(deal_id=i, dirty=True) for i in ids], ignore_conflicts=True)


def _pre_save(sender, instance, **kwargs):
    if not instance._state.adding and instance.pk is not None:
        instance._nudges_old_deal_id = Activity.objects.filter(pk=instance.pk).values_list("deal_id", flat=True).first()


def _post_save(sender, instance, created, **kwargs):
    if created:
        return  # new ids are found by the watermark
    is_touch = instance.kind in TOUCH_KINDS and instance.direction in ("in", "out")
    old = getattr(instance, "_nudges_old_deal_id", None)
    mark_dirty([old, instance.deal_id], create=is_touch and instance.deal_id is not None)


def _post_delete(sender, instance, **kwargs):
    mark_dirty([instance.deal_id])


def connect() -> None:
    """Called from apps.ready: ORM edits and deletes of activities mark their deals dirty."""
    from django.db.models.signals import post_delete, post_save, pre_save

    pre_save.connect(_pre_save, sender=Activity, dispatch_uid="nudges.signals.pre_save")
    post_save.connect(_post_save, sender=Activity, dispatch_uid="nudges.signals.post_save")
    post_delete.connect(_post_delete, sender=Activity, dispatch_uid="nudges.signals.post_delete")


def _changed_deals(low: int, high: int) -> list[int]:
    dirty = list(DealSignals.objects.filter(dirty=True).values_list("deal_id", flat=True))
    for part in _batches(dirty):
        DealSignals.objects.filter(deal_id__in=part, dirty=True).update(dirty=False)  # claimed
    new = _touches().filter(id__gt=low, id__lte=high).values_list("deal_id", flat=True).distinct()
    return sorted(set(dirty) | set(new))


def _repliers(deal_ids: list[int]) -> set[int]:
    out: set[int] = set()
    for part in _batches(deal_ids):
        rows = DealSignals.objects.filter(deal_id__in=part, replier_id__isnull=False).values_list(
            "replier_id", flat=True
        )
        out.update(rows)
    return out


def _batches(ids: list, size: int = BATCH):
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


# --- PostgreSQL: one statement per step -------------------------------------------------------

_PG_DEALS = f"""
    WITH e AS (
        SELECT a.id, a.deal_id, a.contact_id, a.kind, a.direction, a.occurred_at,
               LAG(a.direction) OVER w AS prev_dir,
               (EXTRACT(EPOCH FROM (a.occurred_at - LAG(a.occurred_at) OVER w)) / 3600.0)::float8 AS gap_h
        FROM {A} a
        WHERE a.kind IN ({_KINDS_SQL}) AND a.direction IN ('in', 'out') AND {{deals}}
        WINDOW w AS (PARTITION BY a.deal_id ORDER BY a.occurred_at, a.id)
    ), g AS (
        SELECT deal_id,
               MAX(occurred_at) AS last_touch,
               MAX(occurred_at) FILTER (WHERE direction = 'in') AS last_in,
               MAX(occurred_at) FILTER (WHERE direction = 'out' AND (prev_dir IS NULL OR prev_dir = 'in')) AS last_out_run,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY gap_h) FILTER (WHERE direction = 'in' AND prev_dir = 'out') AS median_h,
               COUNT(*) FILTER (WHERE direction = 'in' AND prev_dir = 'out') AS gaps,
               jsonb_agg(gap_h ORDER BY gap_h) FILTER (WHERE direction = 'in' AND prev_dir = 'out') AS gap_list,
               -- "more than one?" is all the rules ask: min/max answer it without a per-deal sort
               MIN(contact_id) FILTER (WHERE direction = 'in' OR kind IN ('call', 'meeting')) AS engaged_min,
               MAX(contact_id) FILTER (WHERE direction = 'in' OR kind IN ('call', 'meeting')) AS engaged_max,
               MAX(contact_id) FILTER (WHERE direction = 'in') AS replier,
               MAX(id) AS watermark
        FROM e GROUP BY deal_id
    )
    INSERT INTO {S} (deal_id, last_touch_at, waiting_since, median_reply_hours, gap_count, gaps,
                     engaged_contacts, replier_id, watermark, dirty, refreshed_at)
    SELECT deal_id, last_touch,
           CASE WHEN last_out_run IS NOT NULL AND (last_in IS NULL OR last_out_run > last_in) THEN last_out_run END,
           median_h, gaps, COALESCE(gap_list, '[]'::jsonb),
           CASE WHEN engaged_min IS NULL THEN 0 WHEN engaged_min = engaged_max THEN 1 ELSE 2 END,
           replier, watermark, false, %s
    FROM g
"""  # noqa: S608 - only table names and constants are interpolated

_PG_CONTACTS = f"""
    INSERT INTO {CS} (contact_id, median_reply_hours, gap_count, deals)
    SELECT replier_id, MAX(median_reply_hours), SUM(gap_count), 1
    FROM {S} s WHERE gap_count > 0 AND {{scope}}
    GROUP BY replier_id HAVING COUNT(*) = 1
    UNION ALL
    SELECT s.replier_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY x.h::float8), COUNT(*), COUNT(DISTINCT s.deal_id)
    FROM {S} s CROSS JOIN LATERAL jsonb_array_elements_text(s.gaps) AS x(h)
    WHERE s.gap_count > 0 AND {{scope}} AND s.replier_id IN (
        SELECT s.replier_id FROM {S} s WHERE s.gap_count > 0 AND {{scope}} GROUP BY s.replier_id HAVING COUNT(*) > 1
    )
    GROUP BY s.replier_id
"""  # noqa: S608


def _rebuild_all(now: datetime) -> int:
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(f"DELETE FROM {S}")  # noqa: S608 - not TRUNCATE: it fails on pending FK checks
            cur.execute(_PG_DEALS.format(deals="a.deal_id IS NOT NULL"), [now])
            return cur.rowcount
    DealSignals.objects.all().delete()
    deal_ids = sorted(set(_touches().values_list("deal_id", flat=True).distinct()))
    return _recompute_python(deal_ids, now)


def _recompute(deal_ids: list[int], now: datetime) -> int:
    if not deal_ids:
        return 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(f"DELETE FROM {S} WHERE deal_id = ANY(%s)", [deal_ids])  # noqa: S608
            cur.execute(_PG_DEALS.format(deals="a.deal_id = ANY(%s)"), [deal_ids, now])
            return cur.rowcount
    for part in _batches(deal_ids):
        DealSignals.objects.filter(deal_id__in=part).delete()
    return _recompute_python(deal_ids, now)


def _pool_contacts(contact_ids: set[int] | None) -> int:
    """Re-pool the usual reply time of these contacts (None: all) from the stored deal gaps."""
    if contact_ids is not None and not contact_ids:
        return 0
    ids = None if contact_ids is None else sorted(contact_ids)
    if connection.vendor == "postgresql":
        scope, params = ("true", []) if ids is None else ("s.replier_id = ANY(%s)", [ids])
        with connection.cursor() as cur:
            if ids is None:
                cur.execute(f"DELETE FROM {CS}")  # noqa: S608
            else:
                cur.execute(f"DELETE FROM {CS} WHERE contact_id = ANY(%s)", [ids])  # noqa: S608
            cur.execute(_PG_CONTACTS.format(scope=scope), params * 3)
            return cur.rowcount
    rows = DealSignals.objects.filter(gap_count__gt=0, replier_id__isnull=False)
    if ids is None:
        ContactSignals.objects.all().delete()
        pooled = _pool(rows.values_list("replier_id", "gaps"))
    else:
        pooled: dict[int, tuple] = {}
        for part in _batches(ids):
            ContactSignals.objects.filter(contact_id__in=part).delete()
            pooled.update(_pool(rows.filter(replier_id__in=part).values_list("replier_id", "gaps")))
    ContactSignals.objects.bulk_create(
        [ContactSignals(contact_id=c, median_reply_hours=m, gap_count=n, deals=d) for c, (m, n, d) in pooled.items()],
        batch_size=BATCH,
    )
    return len(pooled)


def _usual_scope(deal_ids: list[int], contact_ids: set[int]) -> list[int]:
    """The deals whose usual reply time may have changed: those recomputed, and those whose
    primary contact or replier was re-pooled."""
    ids = set(deal_ids)
    contacts = sorted(contact_ids)
    if connection.vendor == "postgresql" and contacts:
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT deal_id FROM {S} WHERE replier_id = ANY(%s) "  # noqa: S608
                f"UNION SELECT id FROM {D} WHERE primary_contact_id = ANY(%s)",
                [contacts, contacts],
            )
            ids.update(r[0] for r in cur.fetchall())
        return sorted(ids)
    for part in _batches(contacts):
        ids.update(DealSignals.objects.filter(replier_id__in=part).values_list("deal_id", flat=True))
        ids.update(Deal.objects.filter(primary_contact_id__in=part).values_list("id", flat=True))
    return sorted(ids)


_PG_USUAL = f"""
    UPDATE {S} s
    SET usual_contact_id = d.primary_contact_id,
        usual_reply_hours = COALESCE(
            (SELECT c.median_reply_hours FROM {CS} c WHERE c.contact_id = d.primary_contact_id),
            (SELECT c.median_reply_hours FROM {CS} c WHERE c.contact_id = s.replier_id))
    FROM {D} d
    WHERE d.id = s.deal_id AND {{scope}}
"""  # noqa: S608


def _set_usual(deal_ids: list[int] | None) -> None:
    """Store each deal's usual reply time: its primary contact's pooled median, else its replier's."""
    if deal_ids is not None and not deal_ids:
        return
    if connection.vendor == "postgresql":
        scope, params = ("true", []) if deal_ids is None else ("s.deal_id = ANY(%s)", [deal_ids])
        with connection.cursor() as cur:
            cur.execute(_PG_USUAL.format(scope=scope), params)
        return
    if deal_ids is None:
        deal_ids = list(DealSignals.objects.order_by("deal_id").values_list("deal_id", flat=True))
    for part in _batches(deal_ids):  # bounded IN lists (SQLite's variable limit)
        qs = DealSignals.objects.filter(deal_id__in=part)
        objs = list(qs.only("deal_id", "replier_id"))
        primary = dict(Deal.objects.filter(pk__in=[o.deal_id for o in objs]).values_list("pk", "primary_contact_id"))
        wanted = {c for c in primary.values() if c is not None} | {o.replier_id for o in objs if o.replier_id}
        medians = dict(
            ContactSignals.objects.filter(contact_id__in=wanted).values_list("contact_id", "median_reply_hours")
        )
        for o in objs:
            o.usual_contact_id = primary.get(o.deal_id)
            usual = medians.get(o.usual_contact_id)
            o.usual_reply_hours = usual if usual is not None else medians.get(o.replier_id)
        DealSignals.objects.bulk_update(objs, ["usual_contact_id", "usual_reply_hours"], batch_size=BATCH)


def usual_for(pairs: Iterable[tuple[int | None, int | None]]) -> dict[tuple, float | None]:
    """{(primary contact, replier): usual reply hours} looked up directly (deals whose primary
    contact changed since their signals were stored)."""
    pairs = set(pairs)
    wanted = sorted({c for pair in pairs for c in pair if c is not None})
    medians: dict[int, float] = {}
    for part in _batches(wanted):
        medians.update(
            ContactSignals.objects.filter(contact_id__in=part).values_list("contact_id", "median_reply_hours")
        )
    out = {}
    for primary, replier in pairs:
        usual = medians.get(primary) if primary is not None else None
        out[(primary, replier)] = usual if usual is not None else medians.get(replier)
    return out


def _pool(rows) -> dict[int, tuple[float, int, int]]:
    gaps: dict[int, list[float]] = defaultdict(list)
    deals: dict[int, int] = defaultdict(int)
    for contact_id, deal_gaps in rows:
        gaps[contact_id].extend(deal_gaps)
        deals[contact_id] += 1
    return {c: (float(statistics.median(v)), len(v), deals[c]) for c, v in gaps.items() if v}


# --- SQLite (and the reference for tests): window rows aggregated in Python --------------------


def _dt(value):
    """SQLite returns datetimes from raw SQL as strings."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return make_aware(value, UTC) if is_naive(value) else value
    parsed = parse_datetime(str(value))
    return make_aware(parsed, UTC) if parsed is not None and is_naive(parsed) else parsed


def compute_python(deal_ids: list[int], now: datetime) -> list[DealSignals]:
    """Unsaved DealSignals for these deals (those with touches), from all their touches."""
    per_deal: dict[int, list] = defaultdict(list)
    for part in _batches(deal_ids):
        rows = (
            _touches()
            .filter(deal_id__in=part)
            .order_by("deal_id", "occurred_at", "id")
            .values_list("deal_id", "id", "contact_id", "kind", "direction", "occurred_at")
        )
        for row in rows:
            per_deal[row[0]].append(row)
    out = []
    for deal_id, rows in per_deal.items():
        last = last_in = last_out_run = replier = None
        prev_dir = prev_at = None
        gaps: list[float] = []
        engaged: set[int] = set()
        watermark = 0
        for _, activity_id, contact_id, kind, direction, at in rows:
            at = _dt(at)
            watermark = max(watermark, activity_id)
            last = at if last is None or at > last else last
            if direction == "in":
                last_in = at if last_in is None or at > last_in else last_in
                replier = max(replier or 0, contact_id) if contact_id is not None else replier
                if prev_dir == "out":
                    gaps.append((at - prev_at).total_seconds() / 3600)
            elif prev_dir in (None, "in"):
                last_out_run = at if last_out_run is None or at > last_out_run else last_out_run
            if contact_id is not None and (direction == "in" or kind in ("call", "meeting")):
                engaged.add(contact_id)
            prev_dir, prev_at = direction, at
        waiting = last_out_run if last_out_run and (last_in is None or last_out_run > last_in) else None
        out.append(
            DealSignals(
                deal_id=deal_id,
                last_touch_at=last,
                waiting_since=waiting,
                median_reply_hours=float(statistics.median(gaps)) if gaps else None,
                gap_count=len(gaps),
                gaps=sorted(gaps),
                engaged_contacts=min(len(engaged), 2),
                replier_id=replier,
                watermark=watermark,
                dirty=False,
                refreshed_at=now,
            )
        )
    return out


def _recompute_python(deal_ids: list[int], now: datetime) -> int:
    rows = compute_python(deal_ids, now)
    DealSignals.objects.bulk_create(rows, batch_size=BATCH)
    return len(rows)
