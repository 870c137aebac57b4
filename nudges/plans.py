"""Plan workflows: build (with the five-input cache), expand an outline, use an action (send,
done, discard), and the cache statistics. Feedback and learnings are in `nudges.feedback`.

The five inputs of the seed's cache, each hashed: the deal data (the customer graph rows a plan
reads), the deal summary, the prompt template, the company context version, the campaign context.
A plan with the same key that has not expired is served as is; any change, the TTL
(`PLANS_CACHE_TTL_MINUTES`) or `force_refresh` writes a new one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import DateTimeField
from django.utils import timezone

from crm.models import Deal
from crm.visibility import visible_team_ids
from nudges import channels, context, plan_ai, plan_rows, summary
from nudges.models import ContextVersion, NudgeSettings, Plan, PlanItem, PromptTemplate
from nudges.plan_errors import PlanError
from nudges.plan_prompts import DEFAULT_TEMPLATE, PLAN_PROMPT

DEAL_RELATED = ("account", "stage", "owner", "primary_contact")
RECENT = 5


def deal_queryset(*, with_plans: bool = False):
    """Deals with what a plan reads about them in the same query (`nudges.plan_rows`)."""
    return plan_rows.annotate(Deal.objects.select_related(*DEAL_RELATED), with_plans=with_plans)


# By our id, with the deal's rows and its newest cached plans: a cache hit is this one query.
_DEAL_BY_PK = plan_rows.CompiledLookup(lambda pk: deal_queryset(with_plans=True).filter(pk=pk).order_by()[:1])


def resolve_deal(ref, *, user=None) -> Deal:
    """A deal by our id or its external id; PlanError(code="not_found") otherwise. With `user`,
    only deals they may see (an outsider gets the same answer as for a missing deal)."""

    def deals():  # built only when the compiled lookup by id cannot answer (~0.2 ms of ORM work)
        qs = deal_queryset()
        return qs.visible_to(user) if user is not None else qs

    ref = str(ref).strip()
    found = None
    if ref.isdigit() and len(ref) < 19:
        if plan_rows.one_query():
            found = _DEAL_BY_PK.get(int(ref))
            teams = visible_team_ids(user) if user is not None else None
            if found is not None and teams is not None and found.team_id not in teams:
                found = None  # as `visible_to(user)` would: the same answer as a missing deal
        else:
            found = deals().filter(pk=int(ref)).order_by()[:1]
            found = found[0] if found else None
    if found is None and ref:
        matches = list(deals().filter(external_id=ref)[:2])
        if len(matches) > 1:
            raise PlanError(f"external id {ref!r} matches deals in several teams; use our id", field="deal")
        found = matches[0] if matches else None
    if found is None:
        raise PlanError(f"no deal {ref!r}", field="deal", code="not_found")
    return found


@dataclass
class TeamSetup:
    """What a team's plans share: context version, template, nudge rule settings, and per day the
    system prompt built from them."""

    version: ContextVersion
    template: PromptTemplate | None
    body: str
    prompt_hash: str
    config: object  # rules.RuleConfig
    systems: dict = field(default_factory=dict)

    def system(self, now) -> str:
        day = context.today_text(now)
        found = self.systems.get(day)
        if found is None:
            v = self.version
            found = system_prompt(self.body, title=v.title, version=v.version, sections=v.sections, now=now)
            self.systems = {day: found}
        return found


# Keyed by the stamps `plan_rows` reads with the deal (md5 of the context version, template and
# settings rows): any change to one of those rows is a new key, so an entry is never out of date.
_SETUPS: dict[tuple, TeamSetup] = {}
_SETUPS_MAX = 512


def team_setup(team_id: int, stamps: dict | None = None) -> TeamSetup:
    key = None
    if stamps is not None and stamps.get("context") and stamps.get("settings"):
        key = (team_id, stamps["context"], stamps.get("template"), stamps["settings"])
        found = _SETUPS.get(key)
        if found is not None:
            return found
    version = context.current(team_id)
    body, template = template_for(team_id)
    setup = TeamSetup(
        version, template, body, summary.digest([body, PLAN_PROMPT]), NudgeSettings.for_team(team_id).rule_config()
    )
    if key is not None:
        if len(_SETUPS) >= _SETUPS_MAX:
            _SETUPS.clear()
        _SETUPS[key] = setup
    return setup


@dataclass
class Composed:
    """Everything a plan is made of before it is written, with its five hashes."""

    deal: Deal
    data: dict
    summary: dict
    inputs: dict
    system: str
    hashes: dict
    version: ContextVersion
    template: PromptTemplate | None
    # What `fill()` needs to build summary, inputs and system prompt, which a cache hit never reads.
    pending: tuple | None = None
    # The deal's newest plans in the cache when the deal query read them (`plan_rows.Rows.plans`).
    candidates: list[dict] | None = None

    def fill(self) -> Composed:
        if self.pending is not None:
            setup, body, sections, campaign, now, stored_hash = self.pending
            self.summary, _ = summary.summary_for(
                self.deal, self.data, now=now, config=setup.config, data_hash=self.hashes["deal"],
                **({} if stored_hash is _NO_STAMP else {"stored_hash": stored_hash}),
            )  # fmt: skip
            v = self.version
            self.inputs = build_inputs(self.data, self.summary, sections=sections, campaign=campaign, now=now)
            if body is setup.body and sections is v.sections:
                self.system = setup.system(now)
            else:
                self.system = system_prompt(body, title=v.title, version=v.version, sections=sections, now=now)
            self.pending = None
        return self

    @property
    def campaign(self) -> str:
        return self.pending[3] if self.pending is not None else self.inputs["campaign_context"]

    @property
    def cache_key(self) -> str:
        return summary.digest([self.hashes[k] for k in sorted(self.hashes)] + [plan_ai.WRITER_VERSION])


_NO_STAMP = object()


def template_for(team_id: int, override: str | None = None) -> tuple[str, PromptTemplate | None]:
    if override is not None:
        problems = context.template_problems(override)
        if problems:
            raise PlanError("prompt template refused: " + "; ".join(problems), field="prompt_file")
        return override, None
    active = PromptTemplate.objects.active_for(team_id)
    return (active.body, active) if active is not None else (DEFAULT_TEMPLATE, None)


def normal_campaign(text: str | None) -> str:
    return " ".join((text or "").split())[:500]


def compose(
    deal: Deal,
    *,
    campaign_context: str = "",
    template_text: str | None = None,
    sections: dict | None = None,
    now=None,
    lazy: bool = False,
    rows: plan_rows.Rows | None = None,
    setup: TeamSetup | None = None,
) -> Composed:
    """The inputs of a plan. `sections` replaces the stored company context (learning previews).
    `lazy`: only the five hashes; `fill()` builds summary, inputs and system prompt on a cache miss.
    `rows`, `setup`: the deal's rows and its team's setup when already read (bulk)."""
    now = now or timezone.now()
    rows = rows or plan_rows.rows_for([deal])[deal.pk]
    data = summary.assemble(deal, rows.contacts, rows.timeline)
    setup = setup or team_setup(deal.team_id, rows.stamps)
    version = setup.version
    sections = sections if sections is not None else version.sections
    if template_text is None:
        body, template, prompt_hash = setup.body, setup.template, setup.prompt_hash
    else:
        body, template = template_for(deal.team_id, template_text)
        prompt_hash = summary.digest([body, PLAN_PROMPT])
    campaign = normal_campaign(campaign_context)
    deal_hash = summary.digest(data)
    hashes = {
        "deal": deal_hash,
        "summary": summary.summary_input_hash(deal_hash, now, setup.config),
        "prompt": prompt_hash,
        "context": version.content_hash
        if sections is version.sections
        else context.content_hash(version.title, sections),
        "campaign": summary.digest(campaign),
    }
    stored_hash = rows.stamps.get("summary") if rows.stamps is not None else _NO_STAMP
    pending = (setup, body, sections, campaign, now, stored_hash)
    composed = Composed(deal, data, {}, {}, "", hashes, version, template, pending, rows.plans)
    return composed if lazy else composed.fill()


def build_inputs(data: dict, summ: dict, *, sections: dict, campaign: str, now) -> dict:
    """Pure: the gateway inputs of a plan from the deal data, its summary and the context."""
    reach = channels.reachable(data["contacts"], data["timeline"])
    d = data["deal"]
    return {
        "deal": {
            "name": d["name"],
            "account": data["account"]["name"],
            "industry": data["account"]["industry"],
            "stage": d["stage"],
            "amount": d["amount"],
            "currency": d["currency"],
            "next_step": d["next_step"],
            "next_step_due": d["next_step_due"],
        },
        "contacts": [
            {"name": r.name, "title": r.title, "channels": list(r.channels), "preferred": r.preferred} for r in reach
        ],
        "summary": summ,
        "recent": [
            {k: t[k] for k in ("at", "kind", "direction", "subject", "snippet")} | {"at": t["at"][:10]}
            for t in data["timeline"][:RECENT]
        ],
        "slots": channels.slots(_contact_time(data, reach, now)),
        "learnings": context.learnings(sections),
        "campaign_context": campaign,
        "sender": data["owner"],
    }


def _contact_time(data: dict, reach, now):
    """`now` in the time zone of the contact the first actions go to (blank: the server's), so the
    best windows are the contact's office hours, as outbound's quiet hours are."""
    from zoneinfo import ZoneInfo

    first = reach[0].name if reach else ""
    tz = next((c.get("time_zone") for c in data["contacts"] if c["name"] == first and c.get("time_zone")), "")
    return now.astimezone(ZoneInfo(tz)) if tz else timezone.localtime(now)


def system_prompt(body: str, *, title: str, version: str, sections: dict, now) -> str:
    context_md = context.render_markdown(title=title, version=version, sections=sections)
    values = {"company_context": context_md, "channel_rules": channels.RULES_TEXT, "today": context.today_text(now)}
    return context.render_template(body, values)


_CACHED_SQL = (
    f"SELECT * FROM {Plan._meta.db_table} WHERE deal_id = %s AND cache_key = %s AND status = %s "  # noqa: S608 - a model's table
    "AND in_cache = %s AND expires_at > %s ORDER BY generated_at DESC, id DESC LIMIT 1"
)


def cached_plan(key: str, deal_id: int, now=None, candidates: list[dict] | None = None) -> Plan | None:
    """`Plan.objects.fresh(now).filter(deal_id, cache_key, status=ready)`, newest first. From
    `candidates` (the deal's newest ready plans in the cache, read with the deal) when they decide
    it: the first with the key that has not expired, or none when the list holds every such plan;
    else in raw SQL (on a cache hit, compiling the ORM query cost more than running it)."""
    now = now or timezone.now()
    if candidates is not None:
        for row in candidates:
            if row["cache_key"] == key and datetime.fromisoformat(row["expires_at"]) > now:
                return _plan_from_json(row)
        if len(candidates) < plan_rows.PLAN_CANDIDATES:
            return None
    found = list(Plan.objects.raw(_CACHED_SQL, [deal_id, key, Plan.Status.READY, True, now]))
    return found[0] if found else None


_PLAN_FIELDS = [(f.attname, f.column, isinstance(f, DateTimeField)) for f in Plan._meta.concrete_fields]


def _plan_from_json(row: dict) -> Plan:
    """A Plan from its row as PostgreSQL's `row_to_json` wrote it (JSON columns already parsed,
    timestamps as ISO text), as `Model.from_db` builds one from a cursor row."""
    values = [
        datetime.fromisoformat(row[column]) if is_time and row[column] is not None else row[column]
        for _, column, is_time in _PLAN_FIELDS
    ]
    return Plan.from_db(connection.alias, [name for name, _, _ in _PLAN_FIELDS], values)


def plan_for_deal(
    *,
    deal: Deal,
    actor=None,
    campaign_context: str = "",
    force_refresh: bool = False,
    template_text: str | None = None,
    now=None,
) -> tuple[Plan, bool]:
    """(plan, served from the cache). Writes a new plan when any of the five inputs changed, the
    cached one expired, or `force_refresh`."""
    now = now or timezone.now()
    composed = compose(deal, campaign_context=campaign_context, template_text=template_text, now=now, lazy=True)
    key = composed.cache_key
    if not force_refresh:
        hit = cached_plan(key, deal.pk, now, composed.candidates)
        if hit is not None:
            return hit, True
    composed.fill()
    written = plan_ai.write_plan(composed.inputs, system=composed.system, force_refresh=force_refresh, about=deal)
    return store_plan(composed, written, actor=actor, now=now), False


def new_plan(composed: Composed, written: plan_ai.Written, *, now, actor=None) -> Plan:
    """The unsaved Plan row for a written plan (the single and the bulk path store the same)."""
    plan = Plan(**plan_values(composed, written, now=now, actor=actor))
    plan.deal = composed.deal
    return plan


def plan_values(composed: Composed, written: plan_ai.Written, *, now, actor=None) -> dict:
    """The stored fields of a written plan's row, by attname (the bulk path copies them without
    building models: a Plan instance cost ~0.1 ms a deal)."""
    h = composed.hashes
    return {
        "team_id": composed.deal.team_id,
        "deal_id": composed.deal.pk,
        "campaign_context": composed.inputs["campaign_context"],
        "cache_key": composed.cache_key,
        "deal_hash": h["deal"],
        "summary_hash": h["summary"],
        "prompt_hash": h["prompt"],
        "context_hash": h["context"],
        "campaign_hash": h["campaign"],
        "context_version_id": composed.version.pk if composed.version is not None else None,
        "template_id": composed.template.pk if composed.template is not None else None,
        "situation": written.data.get("situation") or {},
        "summary": composed.summary,
        "provenance": {**(written.provenance or {}), "fixes": written.fixes},
        "generated_at": now,
        "expires_at": now + timedelta(minutes=settings.PLANS_CACHE_TTL_MINUTES),
        "created_by_id": actor.pk if getattr(actor, "is_authenticated", False) else None,
    }


def store_plan(composed: Composed, written: plan_ai.Written, *, actor=None, now=None) -> Plan:
    now = now or timezone.now()
    plan = new_plan(composed, written, now=now, actor=actor)
    if connection.vendor == "postgresql":
        _insert_with_items(plan, item_values(written.data["actions"]))
        return plan
    with transaction.atomic():
        plan.save()
        PlanItem.objects.bulk_create(plan_items(plan, written.data["actions"]))
    return plan


def _insert_with_items(plan: Plan, items: list[dict]) -> None:
    """The plan and its items in one statement (PostgreSQL: an INSERT in a WITH feeding the items'
    INSERT), atomic by itself: one round trip where a transaction took four."""
    pk = Plan._meta.pk
    plan_fields = [f for f in Plan._meta.concrete_fields if f is not pk]
    q = connection.ops.quote_name
    items_sql, item_params = items_insert_sql(items)
    sql = (
        f"WITH p AS (INSERT INTO {q(Plan._meta.db_table)} ({', '.join(q(f.column) for f in plan_fields)}) "  # noqa: S608 - names from the models
        f"VALUES {_slots(plan_fields)} RETURNING {q(pk.column)}), {items_sql} SELECT {q(pk.column)} FROM p"
    )
    params = [f.get_db_prep_save(getattr(plan, f.attname), connection) for f in plan_fields] + item_params
    with connection.cursor() as cur:
        cur.execute(sql, params)
        plan.pk = cur.fetchone()[0]
    plan._state.adding = False
    plan._state.db = connection.alias


def _slots(fields) -> str:
    return "(" + ", ".join(f"%s::{f.db_type(connection)}" for f in fields) + ")"


def items_insert_sql(items: list[dict]) -> tuple[str, list]:
    """(`i AS (INSERT ... SELECT p.id, v.* FROM p, (VALUES ...) v)`, its parameters): the items of
    the plan a preceding `p AS (... RETURNING id)` returned, none when it returned no row."""
    fields = [f for f in PlanItem._meta.concrete_fields if not f.primary_key and f.attname != "plan_id"]
    q = connection.ops.quote_name
    sql = (
        f"i AS (INSERT INTO {q(PlanItem._meta.db_table)} (plan_id, {', '.join(q(f.column) for f in fields)}) "  # noqa: S608 - names from the models
        f"SELECT p.id, v.* FROM p, (VALUES {', '.join([_slots(fields)] * len(items))}) AS v)"
    )
    params = []
    for values in items:
        params += [
            f.get_db_prep_save(values[f.attname] if f.attname in values else f.get_default(), connection)
            for f in fields
        ]
    return sql, params


def item_values(actions: list[dict], **extra) -> list[dict]:
    """The stored fields of each action's PlanItem (the bulk path writes them without models)."""
    positions: dict[str, int] = {}
    out = []
    for a in actions:
        pos = positions[a["priority"]] = positions.get(a["priority"], -1) + 1
        out.append(
            {
                **extra,
                "priority": a["priority"],
                "position": pos,
                "channel": a["channel"],
                "action_type": (a.get("action_type") or "")[:30],
                "title": (a.get("title") or "")[:200],
                "timing": (a.get("timing") or "")[:200],
                "prerequisites": list(a.get("prerequisites") or []),
                "content": a.get("content") or {},
                "outline": list(a.get("outline") or []),
                "rationale": a.get("rationale") or "",
                "contact_name": (a.get("contact") or "")[:200],
            }
        )
    return out


def plan_items(plan: Plan, actions: list[dict]) -> list[PlanItem]:
    return [PlanItem(plan=plan, **values) for values in item_values(actions)]


def expand_item(*, item: PlanItem, actor=None) -> PlanItem:
    """Full content for a P1/P2 outline, on request (idempotent: an expanded item is returned as is)."""
    if item.content:
        return item
    composed = compose(item.plan.deal, campaign_context=item.plan.campaign_context)
    action = {
        "priority": item.priority,
        "channel": item.channel,
        "action_type": item.action_type,
        "title": item.title,
        "contact": item.contact_name,
        "outline": item.outline,
        "rationale": item.rationale,
    }
    content, _ = plan_ai.expand(action, composed.inputs, about=item.plan.deal)
    item.content = content
    item.expanded_at = timezone.now()
    item.save(update_fields=["content", "expanded_at"])
    return item


def cache_stats(team_ids=None, now=None) -> dict:
    """The seed's `cache-info`: total, fresh, expired, feedback logged, context updates, TTL."""
    from nudges.models import PlanFeedback

    now = now or timezone.now()
    plans = Plan.objects.cached()
    feedback = PlanFeedback.objects.all()
    versions = ContextVersion.objects.all()
    if team_ids is not None:
        plans = plans.filter(team_id__in=team_ids)
        feedback = feedback.filter(team_id__in=team_ids)
        versions = versions.filter(team_id__in=team_ids)
    total = plans.count()
    fresh = plans.filter(expires_at__gt=now).count()
    return {
        "total": total,
        "fresh": fresh,
        "expired": total - fresh,
        "feedback_logged": feedback.count(),
        "context_updates": versions.count(),
        "ttl_minutes": settings.PLANS_CACHE_TTL_MINUTES,
    }


def clear_cache(team_ids=None) -> int:
    """Drop plans from the cache (they stay as history, with their feedback)."""
    plans = Plan.objects.cached()
    if team_ids is not None:
        plans = plans.filter(team_id__in=team_ids)
    return plans.update(in_cache=False)


def resolve_deal_or_404(ref, user) -> Deal:
    from django.http import Http404

    try:
        return resolve_deal(ref, user=user)
    except PlanError as exc:
        raise Http404(exc.message) from exc
