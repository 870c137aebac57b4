"""The deal summary a plan is written from (the seed's scripts 1 and 2: enrichment, then summary),
built from the customer graph instead of a CRM API.

`deal_data(deal)` gathers the deal, its account, contacts and recent timeline (`nudges.plan_rows`:
one query on PostgreSQL) and returns plain JSON (the seed's "enriched data"); `summarize(data, now)` is pure: engagement level,
last interaction, key themes, the nudges' email-thread signals and warnings. `summary_for(...)`
stores the summary in `DealSummary` keyed by the hash of its inputs, so an unchanged deal is not
summarised twice in a day (the seed's cascading cache).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections import Counter
from dataclasses import asdict
from datetime import datetime, timedelta

from django.utils import timezone

from crm.models import Deal
from nudges import metrics, rules

# Timeline items a summary reads: enough for themes and the last exchanges; a deal with 10,000
# touches must not make a plan slow.
TIMELINE_LIMIT = 30
CONTACTS_LIMIT = 50
SNIPPET = 240
# Bump when `summarize` changes, so stored summaries are rebuilt.
SUMMARY_VERSION = "2"

THEMES = {
    "pricing": ("price", "pricing", "cost", "discount", "quote", "invoice"),
    "budget": ("budget", "spend", "funding"),
    "timeline": ("timeline", "deadline", "launch", "go-live", "quarter", "schedule"),
    "integration": ("integration", "integrate", "api", "migration", "migrate"),
    "security and compliance": ("security", "gdpr", "compliance", "soc 2", "audit"),
    "contract": ("contract", "legal", "terms", "procurement", "signature", "sign"),
    "demo or trial": ("demo", "trial", "pilot", "proof of concept"),
    "competition": ("competitor", "alternative", "switching"),
    "onboarding": ("onboarding", "training", "rollout"),
    "support": ("support", "issue", "bug", "outage"),
    "renewal": ("renewal", "renew", "expansion", "upgrade"),
}
# One pattern for every theme (a named group each): one scan per activity instead of eleven.
_THEME_RE = re.compile(
    "|".join(rf"(?P<t{i}>\b(?:{'|'.join(re.escape(w) for w in words)})\b)" for i, words in enumerate(THEMES.values())),
    re.IGNORECASE,
)
_THEME_GROUPS = {f"t{i}": theme for i, theme in enumerate(THEMES)}
_THEME_WORDS = [(w, f"t{i}") for i, words in enumerate(THEMES.values()) for w in words]


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


CONTACT_FIELDS = ("pk", "account_id", "name", "title", "email", "phone", "preferred_channel", "opted_out", "time_zone")
ACTIVITY_FIELDS = ("pk", "deal_id", "kind", "direction", "occurred_at", "subject", "body", "contact_id")


def deal_data(deal: Deal) -> dict:
    """The deal's facts as plain JSON. `deal` should come with account, stage, owner and
    primary_contact selected (`plans.resolve_deal`); contacts and the timeline come from
    `nudges.plan_rows` (one query on PostgreSQL, two elsewhere)."""
    from nudges import plan_rows

    rows = plan_rows.rows_for([deal])[deal.pk]
    return assemble(deal, rows.contacts, rows.timeline)


def assemble(deal: Deal, contacts: list[dict], rows: list[dict]) -> dict:
    """`deal_data` from rows already fetched (the bulk path fetches them for many deals at once):
    contacts of the account, the deal's activities newest first (at most TIMELINE_LIMIT)."""
    names = {c["pk"]: c["name"] for c in contacts}
    owner = deal.owner
    return {
        "deal": {
            "id": deal.pk,
            "external_id": deal.external_id,
            "name": deal.name,
            "stage": deal.stage.name,
            "amount": f"{deal.amount:.0f}",
            "currency": deal.currency,
            "status": deal.status,
            "next_step": deal.next_step,
            "next_step_due": _iso(deal.next_step_due),
            "snoozed_until": _iso(deal.snoozed_until),
            "created_at": _iso(deal.created_at),
            "stage_changed_at": _iso(deal.stage_changed_at),
            "last_activity_at": _iso(deal.last_activity_at),
        },
        "account": {"name": deal.account.name, "industry": deal.account.industry, "kind": deal.account.kind},
        "owner": (f"{owner.first_name} {owner.last_name}".strip() or owner.get_username()) if owner else "",
        "primary_contact_id": deal.primary_contact_id,
        "contacts": [
            {
                "id": c["pk"],
                "name": c["name"],
                "title": c["title"],
                "email": c["email"],
                "has_phone": bool(c["phone"]),
                "preferred_channel": c["preferred_channel"],
                "opted_out": c["opted_out"],
                "time_zone": c.get("time_zone") or "",
                "primary": c["pk"] == deal.primary_contact_id,
            }
            for c in contacts
        ],
        "timeline": [
            {
                "id": r["pk"],
                "kind": r["kind"],
                "direction": r["direction"],
                "at": _iso(r["occurred_at"]),
                "subject": r["subject"],
                "snippet": (r["body"] or "")[:SNIPPET],
                "contact": names.get(r["contact_id"], ""),
            }
            for r in rows
        ],
    }


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _engagement(timeline: list[dict], now: datetime) -> str:
    """high: they wrote or met us 3+ times in 30 days; medium: once or twice; low: only our
    touches; none: nothing in 30 days. Counted per touch, the seed's levels."""
    since = now - timedelta(days=30)
    recent = [t for t in timeline if _parse(t["at"]) >= since]
    theirs = sum(1 for t in recent if t["direction"] == "in" or t["kind"] == "meeting")
    if theirs >= 3:
        return "high"
    if theirs:
        return "medium"
    return "low" if recent else "none"


@functools.lru_cache(maxsize=512)
def _theme_pattern(groups: tuple[str, ...]) -> re.Pattern:
    words = dict(zip(_THEME_GROUPS, THEMES.values(), strict=True))
    return re.compile(
        "|".join(rf"(?P<{g}>\b(?:{'|'.join(re.escape(w) for w in words[g])})\b)" for g in groups), re.IGNORECASE
    )


def _theme_hits(text: str):
    """The themes `_THEME_RE` finds in `text`, in order. An ASCII text is first checked for the
    themes' words as substrings of its lower case; only themes with a word present are scanned for
    (on ASCII, a case-insensitive match implies the substring, so the result is the same; the
    regex's cost grows with its alternatives). Other text goes through the whole pattern."""
    if text.isascii():
        low = text.lower()
        present = {g for w, g in _THEME_WORDS if w in low}
        if not present:
            return
        pattern = _theme_pattern(tuple(g for g in _THEME_GROUPS if g in present))
    else:
        pattern = _THEME_RE
    for m in pattern.finditer(text):
        yield _THEME_GROUPS[m.lastgroup]


def _themes(timeline: list[dict]) -> list[str]:
    counts: Counter = Counter()
    for t in timeline:
        counts.update(_theme_hits(f"{t['subject']} {t['snippet']}"))
    # Ties in the order of THEMES, so the summary does not depend on where a word stands.
    order = {theme: i for i, theme in enumerate(THEMES)}
    return [theme for theme, _ in sorted(counts.items(), key=lambda kv: (-kv[1], order[kv[0]]))[:3]]


def _email_signals(timeline: list[dict]) -> metrics.ThreadSignals:
    messages = [
        metrics.Message(
            side=metrics.THEIRS if t["direction"] == "in" else metrics.OURS, at=_parse(t["at"]), body=t["snippet"]
        )
        for t in timeline
        if t["kind"] == "email" and t["direction"] in ("in", "out")
    ]
    return metrics.thread_signals(messages)


def summarize(data: dict, now: datetime, config: rules.RuleConfig | None = None) -> dict:
    """Pure: the situation analysis of a deal from `deal_data` output."""
    deal, timeline = data["deal"], data["timeline"]
    primary = next((c for c in data["contacts"] if c["primary"]), None) or (data["contacts"] or [None])[0]
    thread = _email_signals(timeline)
    engaged = {t["contact"] for t in timeline if t["direction"] == "in" and t["contact"]}
    facts = rules.DealFacts(
        deal_id=deal["id"],
        amount=float(deal["amount"]),
        last_touch_at=_parse(deal["last_activity_at"]),
        created_at=_parse(deal["created_at"]),
        status=deal["status"],
        stage_name=deal["stage"],
        stage_changed_at=_parse(deal["stage_changed_at"]),
        next_step_due=_parse(deal["next_step_due"]).date() if deal["next_step_due"] else None,
        snoozed_until=_parse(deal["snoozed_until"]).date() if deal["snoozed_until"] else None,
        contacts_engaged=min(len(engaged), 2),
        contact_name=primary["name"] if primary else "",
        waiting_since=thread.waiting_since,
        usual_reply_hours=thread.their_median_hours,
    )
    verdict = rules.evaluate(facts, config or rules.RuleConfig(), now)
    last = timeline[0] if timeline else None
    return {
        "engagement_level": _engagement(timeline, now),
        "last_interaction": (
            {"date": last["at"][:10], "kind": last["kind"], "direction": last["direction"], "subject": last["subject"]}
            if last
            else None
        ),
        "key_themes": _themes(timeline),
        "idle_days": verdict.idle_days,
        "warnings": [w.as_dict() for w in verdict.warnings],
        "emails": {
            "messages": thread.messages,
            "last_from": thread.last_from,
            "waiting_since": _iso(thread.waiting_since),
            "their_median_reply_hours": thread.their_median_hours,
            "tone": thread.tone,
        },
        "touches": len(timeline),
        "engaged_contacts": sorted(engaged),
        "primary_contact": primary["name"] if primary else "",
    }


_UNKNOWN = object()


def summary_for(
    deal: Deal, data: dict, *, now: datetime | None = None, config=None, data_hash=None, stored_hash=_UNKNOWN
) -> tuple[dict, str]:
    """(summary, summary hash), from the stored `DealSummary` when its inputs are unchanged.

    The inputs are the deal data and today's date (idle days and warnings move with the calendar).
    The summary is a pure function of them, so its hash is the hash of its inputs: a cache check
    needs no summary at all. `stored_hash` (the stored row's input hash, or None when there is no
    row, from `plan_rows`) saves the lookup when it already tells the row is out of date."""
    from nudges.models import DealSummary

    now = now or timezone.now()
    input_hash = summary_input_hash(data_hash or digest(data), now, config)
    if stored_hash is _UNKNOWN or stored_hash == input_hash:
        stored = DealSummary.objects.filter(deal_id=deal.pk, input_hash=input_hash).values_list("data", flat=True)
        for found in stored[:1]:
            return found, input_hash
    summary = summarize(data, now, config)
    DealSummary.objects.bulk_create(
        [DealSummary(deal_id=deal.pk, input_hash=input_hash, data=summary, built_at=now)],
        update_conflicts=True,
        unique_fields=["deal"],
        update_fields=["input_hash", "data", "built_at"],
    )
    return summary, input_hash


@functools.lru_cache(maxsize=64)
def _config_key(config: rules.RuleConfig) -> str:
    return json.dumps({**asdict(config), "enabled": sorted(config.enabled)}, sort_keys=True)


def config_key(config) -> str:
    """The rule settings as JSON text, the same in every process (a frozenset's order is not: it
    follows the per-process string hash seed)."""
    return _config_key(config or rules.RuleConfig())


def summary_input_hash(data_hash: str, now: datetime, config) -> str:
    """`data_hash`: `digest(deal data)` (the plan's deal hash), so the data is serialised once."""
    return digest([data_hash, now.date().isoformat(), SUMMARY_VERSION, config_key(config)])
