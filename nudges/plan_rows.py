# ruff: noqa: S608, S611 - the SQL is built from table names and constants only; values are parameters.
"""The customer-graph rows a plan reads, in as few round trips as the database allows.

On PostgreSQL one correlated sub-select per deal returns a JSON document with the account's
contacts (the first 50 by id), the deal's last `TIMELINE_LIMIT` activities (newest first, bodies cut
to the snippet: bounded and indexed however long the timeline), and stamps of what else a plan
depends on: the team's current context version, active prompt template and nudge settings (its own
row, else the global default's, as `NudgeSettings.for_team` reads them; the md5 of each row, so any
change to a row changes its stamp) and the stored summary's input hash.
`annotate(queryset)` adds it to a Deal queryset, so resolving a deal (or a chunk of 1,000 in bulk)
reads everything a cache check needs in that one query. Elsewhere (SQLite) the same rows come from
two ORM queries, and there are no stamps.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models.expressions import RawSQL

from crm.models import Activity, Contact, Deal
from nudges.summary import ACTIVITY_FIELDS, CONTACT_FIELDS, CONTACTS_LIMIT, SNIPPET, TIMELINE_LIMIT

ANNOTATION = "plan_rows_json"


@dataclass
class Rows:
    contacts: list[dict]  # CONTACT_FIELDS, the account's first CONTACTS_LIMIT by id
    timeline: list[dict]  # ACTIVITY_FIELDS, newest first, at most TIMELINE_LIMIT
    # PostgreSQL only: {"context", "template", "settings": md5 of the row or None, "summary": the
    # stored summary's input hash or None}; None elsewhere.
    stamps: dict | None = None
    # PostgreSQL, when asked for (`annotate(..., with_plans=True)`): the deal's newest
    # PLAN_CANDIDATES ready plans still in the cache, whole rows as JSON, newest first; else None.
    plans: list[dict] | None = None


# A cache hit finds its plan among these without a second query (`plans.cached_plan`); a deal with
# more plans in the cache than this falls back to the lookup query. Most deals have one or two
# (one per campaign context and hour); each candidate adds ~2 KB of JSON to the deal query.
PLAN_CANDIDATES = 4


def _sql(with_plans: bool = False) -> str:
    from nudges.models import ContextVersion, DealSummary, NudgeSettings, Plan, PromptTemplate

    deal = Deal._meta.db_table
    plans = (
        f"""
  'plans', COALESCE((SELECT json_agg(row_to_json(p) ORDER BY p.generated_at DESC, p.id DESC)
    FROM (SELECT * FROM {Plan._meta.db_table} WHERE deal_id = "{deal}"."id" AND status = '{Plan.Status.READY}'
          AND in_cache ORDER BY generated_at DESC, id DESC LIMIT {PLAN_CANDIDATES}) p), '[]'::json),"""
        if with_plans
        else ""
    )
    return f"""SELECT json_build_object({plans}
  'contacts', COALESCE((SELECT json_agg(json_build_object(
      'pk', c.id, 'account_id', c.account_id, 'name', c.name, 'title', c.title, 'email', c.email,
      'phone', c.phone, 'preferred_channel', c.preferred_channel, 'opted_out', c.opted_out,
      'time_zone', c.time_zone) ORDER BY c.id)
    FROM (SELECT * FROM {Contact._meta.db_table} WHERE account_id = "{deal}"."account_id"
          ORDER BY id LIMIT {CONTACTS_LIMIT}) c), '[]'::json),
  'timeline', COALESCE((SELECT json_agg(json_build_object(
      'pk', a.id, 'deal_id', a.deal_id, 'kind', a.kind, 'direction', a.direction,
      'occurred_at', a.occurred_at, 'subject', a.subject, 'body', left(a.body, {SNIPPET}),
      'contact_id', a.contact_id) ORDER BY a.occurred_at DESC, a.id DESC)
    FROM (SELECT id, deal_id, kind, direction, occurred_at, subject, body, contact_id
          FROM {Activity._meta.db_table} WHERE deal_id = "{deal}"."id"
          ORDER BY occurred_at DESC, id DESC LIMIT {TIMELINE_LIMIT}) a), '[]'::json),
  'context', (SELECT md5(row_to_json(v)::text) FROM {ContextVersion._meta.db_table} v
              WHERE v.team_id = "{deal}"."team_id" ORDER BY v.ordinal DESC LIMIT 1),
  'template', (SELECT md5(row_to_json(t)::text) FROM {PromptTemplate._meta.db_table} t
               WHERE t.team_id = "{deal}"."team_id" AND t.is_active LIMIT 1),
  'settings', (SELECT md5(row_to_json(s)::text) FROM {NudgeSettings._meta.db_table} s
               WHERE s.team_id = "{deal}"."team_id" OR s.team_id IS NULL ORDER BY s.team_id NULLS LAST LIMIT 1),
  'summary', (SELECT input_hash FROM {DealSummary._meta.db_table} WHERE deal_id = "{deal}"."id")
)::text"""


def one_query() -> bool:
    return connection.vendor == "postgresql"


def annotate(deals, *, with_plans: bool = False):
    """The Deal queryset with every deal's rows in the same query (PostgreSQL; as is elsewhere).
    `with_plans`: also the deal's newest plans in the cache (one deal's cache check)."""
    return deals.annotate(**{ANNOTATION: RawSQL(_sql(with_plans), ())}) if one_query() else deals


def _loads(text: str) -> Rows:
    doc = json.loads(text)
    timeline = doc.pop("timeline")
    for row in timeline:
        row["occurred_at"] = datetime.fromisoformat(row["occurred_at"])
    plans = doc.pop("plans", None)
    return Rows(doc.pop("contacts"), timeline, doc, plans)


class CompiledLookup:
    """One row of a queryset by one value, its SQL compiled once per process and run again with the
    value swapped in: on a cache hit, Django compiling the deal query (select_related, the rows
    annotation) cost more CPU than PostgreSQL took to run it. The row becomes model instances as
    Django's own iterable builds them (`from_db`, the related populators, the annotations).
    `build(value)` returns the queryset for a value; it must use the value once, as a parameter."""

    MARKER = -7_919_000_000_001  # a value no query holds, to find the parameter's position

    def __init__(self, build):
        self._build = build
        self._compiled = None

    def _compile(self):
        from django.db.models.query import get_related_populators

        compiler = self._build(self.MARKER).query.get_compiler(using=connection.alias)
        sql, params = compiler.as_sql()
        at = [i for i, p in enumerate(params) if p == self.MARKER]
        assert len(at) == 1, "the value must be the query's one marker parameter"
        info, select = compiler.klass_info, compiler.select
        first, last = info["select_fields"][0], info["select_fields"][-1] + 1
        converters = compiler.get_converters([s[0] for s in select[: compiler.col_count]])
        self._compiled = (
            sql, list(params), at[0], compiler, converters, info["model"], first, last,
            [f[0].target.attname for f in select[first:last]],
            get_related_populators(info, select, connection.alias), dict(compiler.annotation_col_map or {}),
        )  # fmt: skip
        return self._compiled

    def get(self, value):
        sql, params, at, compiler, converters, model, first, last, names, populators, annotations = (
            self._compiled or self._compile()
        )
        params = params.copy()
        params[at] = value
        row = _fetch_prepared(sql, params)
        if row is None:
            return None
        if converters:
            row = next(iter(compiler.apply_converters([row], converters)))
        obj = model.from_db(connection.alias, names, row[first:last])
        for populator in populators:
            populator.populate(row, obj)
        for name, position in annotations.items():
            setattr(obj, name, row[position])
        return obj


def rows_for(deals: list[Deal]) -> dict[int, Rows]:
    """{deal id: Rows}. An annotated deal's rows are used once (a second call reads them again, so
    a deal object kept across changes is never planned from old rows)."""
    out: dict[int, Rows] = {}
    missing = []
    for deal in deals:
        text = deal.__dict__.pop(ANNOTATION, None)
        if text is not None:
            out[deal.pk] = _loads(text)
        else:
            missing.append(deal)
    if not missing:
        return out
    if one_query():
        ids = [d.pk for d in missing]
        with connection.cursor() as cur:
            cur.execute(
                f'SELECT "{Deal._meta.db_table}"."id", ({_sql()}) FROM "{Deal._meta.db_table}" WHERE id = ANY(%s)',
                [ids],
            )
            out.update({pk: _loads(text) for pk, text in cur.fetchall()})
        return out
    contacts: dict[int, list[dict]] = defaultdict(list)
    for c in (
        Contact.objects.filter(account_id__in={d.account_id for d in missing}).order_by("pk").values(*CONTACT_FIELDS)
    ):
        if len(contacts[c["account_id"]]) < CONTACTS_LIMIT:
            contacts[c["account_id"]].append(c)
    timelines: dict[int, list[dict]] = defaultdict(list)
    if len(missing) == 1:
        query = (
            Activity.objects.filter(deal_id=missing[0].pk)
            .order_by("-occurred_at", "-pk")
            .values(*ACTIVITY_FIELDS)[:TIMELINE_LIMIT]
        )
    else:
        query = (
            Activity.objects.filter(deal_id__in=[d.pk for d in missing])
            .order_by("deal_id", "-occurred_at", "-pk")
            .values(*ACTIVITY_FIELDS)
        )
    for row in query.iterator(chunk_size=5000):
        timeline = timelines[row["deal_id"]]
        if len(timeline) < TIMELINE_LIMIT:
            timeline.append(row)
    for deal in missing:
        out[deal.pk] = Rows(contacts.get(deal.account_id, []), timelines.get(deal.pk, []))
    return out


def _fetch_prepared(sql: str, params: list):
    """The first row, on PostgreSQL as a prepared statement (`PLANS_PREPARED`, on by default):
    bound on the server and prepared by psycopg at its first run on a connection, so PostgreSQL
    plans the deal query (its sub-selects for contacts, timeline, stamps and plans) once per
    connection instead of every time; planning measured longer than running it (EXPLAIN ANALYZE
    on the benchmark data: planning 1.9 ms, execution 0.7 ms at load 5). Django binds on the
    client and keeps prepared statements off (for connection poolers); both change here only for
    this statement, through Django's cursor wrapper, so its query log and execute wrappers see it."""
    if not settings.PLANS_PREPARED:
        with connection.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    pg, features = connection.connection, connection.features
    saved = pg.prepare_threshold, features.uses_server_side_binding
    pg.prepare_threshold, features.uses_server_side_binding = 0, True
    try:
        with connection._prepare_cursor(ServerBindingCursor(pg)) as cur:
            cur.execute(sql, params)
            return cur.fetchone()
    finally:
        pg.prepare_threshold, features.uses_server_side_binding = saved
