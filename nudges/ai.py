"""Nudge text through the LLM gateway, with a deterministic offline writer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings

import llm
from llm import ask, offline_writer
from llm.guardrails import looks_like_injection
from nudges.prompts import NUDGE_PROMPT, NUDGE_SYSTEM

FEATURE = "nudges.nudge"
# Part of every nudge's input hash: bump it when the offline writer changes so nudges regenerate.
WRITER_VERSION = "2"
# A nudge is one sentence; the model may add a trailing clause. Hard cap for the column.
MAX_CHARS = 300


@dataclass(frozen=True)
class NudgeText:
    text: str
    offline: bool
    provider: str
    flags: list[str] = field(default_factory=list)


_LEAD_IN = re.compile(r"^[^.?!:]{1,25}:\s+")  # "Kofi - quick one: ..."
_GREETING = re.compile(r"^(hi|hey|hello|dear|good \w+)\b[^,!:]*[,!:-]*\s*", re.IGNORECASE)


def _topic(text: str) -> tuple[str, bool]:
    """(what to chase, is it a question): the first question of our last email, else its first
    sentence, without greeting or sign-off."""
    body = _GREETING.sub("", (text or "").strip().split("\n\n")[0]).strip()
    body = _LEAD_IN.sub("", body)
    sentences = [x for x in re.split(r"(?<=[.?!])\s+", body) if x]
    question = next((x for x in sentences if x.endswith("?")), "")
    topic = question or (sentences[0] if sentences else "")
    topic = topic.rstrip(".! ")
    if len(topic) > 90:
        topic = topic[:87].rsplit(" ", 1)[0] + "…"
    if topic:
        topic = topic[0].upper() + topic[1:]
    return topic, bool(question)


def _verb(channel: str, casual: bool, *, switch: bool = False) -> tuple[str, str]:
    """(verb, suffix): how to reach the person; `switch` moves off email when it went quiet."""
    if channel == "linkedin":
        return "Message", " on LinkedIn"
    if channel in ("phone", "whatsapp", "sms") or switch:
        return ("Give", " a call") if casual else ("Call", "")
    return ("Ping", "") if casual else ("Email", "")


@offline_writer(FEATURE)
def write_offline(inputs: dict) -> str:
    first = (inputs.get("contact_name") or "").split(" ")[0] or "the buyer"
    codes = {w.split(":")[0] for w in (inputs.get("warnings") or "").split("; ") if w}
    casual = inputs.get("tone") == "casual"
    channel = inputs.get("preferred_channel") or "email"
    topic, is_question = _topic(inputs.get("last_ours") or "")
    if "next_step_overdue" in codes and inputs.get("next_step") not in (None, "", "none"):
        text = f"Close the overdue step with {first} today: {inputs['next_step'].rstrip('.')}."
    elif "ghosted" in codes:
        verb, suffix = _verb(channel, casual, switch=True)
        ask_about = f"ask “{topic}”" if is_question else "ask what is holding things up"
        text = f"{verb} {first}{suffix} today, email has gone quiet: {ask_about}."
    elif "stalled_in_stage" in codes and "no_activity" not in codes:
        text = f"Ask {first} what must happen to leave {inputs.get('stage', 'this stage')}, and agree a date."
    else:
        verb, suffix = _verb(channel, casual)
        if topic and is_question:
            chase = f"ask again: “{topic}”"
        elif topic:
            chase = f"follow up on “{topic}”"
        else:
            chase = f"propose the next step for {inputs.get('deal_name', 'the deal')}"
        text = f"{verb} {first}{suffix} today and {chase}."
    text = text.replace("?”.", "?”")
    if "single_threaded" in codes:
        text += " Ask who else should be involved."
    return text[:MAX_CHARS]


@dataclass(frozen=True)
class DealBrief:
    """The deal fields a nudge is written from (loaded in bulk, no model instances)."""

    pk: int
    name: str
    account_name: str
    stage_name: str
    amount: float
    owner_name: str
    contact_name: str
    preferred_channel: str
    next_step: str

    FIELDS = (
        "pk",
        "name",
        "account__name",
        "stage__name",
        "amount",
        "owner__first_name",
        "owner__last_name",
        "owner__username",
        "primary_contact__name",
        "primary_contact__preferred_channel",
        "next_step",
    )

    @classmethod
    def from_row(cls, row) -> DealBrief:
        pk, name, account, stage, amount, first, last, username, contact, channel, next_step = row
        owner = f"{first} {last}".strip() or username or "unassigned"
        return cls(pk, name, account, stage, float(amount), owner, contact or "", channel or "email", next_step)


def nudge_inputs(
    *,
    deal: DealBrief,
    facts_why: str,
    codes: list[str],
    details: list[str],
    tone: str,
    last_ours: str,
    last_theirs: str,
) -> dict:
    return {
        "deal_name": deal.name,
        "account_name": deal.account_name,
        "stage": deal.stage_name,
        "amount": f"{deal.amount:.0f}",
        "owner_name": deal.owner_name,
        "contact_name": deal.contact_name,
        "preferred_channel": deal.preferred_channel,
        "why_now": facts_why,
        "warnings": "; ".join(f"{c}: {d}" for c, d in zip(codes, details, strict=True)),
        "tone": tone,
        "next_step": deal.next_step or "none",
        "last_ours": last_ours[:600],
        "last_theirs": last_theirs[:600],
    }


def write_nudge(inputs: dict, *, about=None, force_refresh: bool = False) -> NudgeText:
    flags = []
    if looks_like_injection(inputs.get("last_theirs", "")):
        flags.append("possible_injection")
    result = ask(
        feature=FEATURE,
        system=NUDGE_SYSTEM,
        prompt=NUDGE_PROMPT,
        inputs=inputs,
        max_tokens=settings.NUDGES_MAX_TOKENS,
        ttl=timedelta(days=1),
        force_refresh=force_refresh,
        about=about,
        scope=getattr(about, "team_id", None),  # ledger rows scoped to the team (llm.scopes)
    )
    text = " ".join((result.text or "").split())[:MAX_CHARS] or write_offline(inputs)
    return NudgeText(text=text, offline=result.offline, provider=result.provider, flags=[*flags, *result.flags])


def write_nudges(items: list[tuple[str, dict, object]], *, force_refresh: bool = False) -> dict[str, NudgeText]:
    """Many nudges at once: [(key, inputs, about)] -> {key: NudgeText}.

    Uses the gateway's bulk entry (one ledger insert for a whole chunk offline, cache lookups in
    bulk online) when it has one, otherwise one `ask` per item.
    """
    if not items:
        return {}
    ask_many = getattr(llm, "ask_many", None)
    if ask_many is None:
        return {key: write_nudge(inputs, about=about, force_refresh=force_refresh) for key, inputs, about in items}
    run = ask_many(
        feature=FEATURE,
        system=NUDGE_SYSTEM,
        prompt=NUDGE_PROMPT,
        items=[
            llm.BulkItem(key=key, inputs=inputs, about=about, scope=getattr(about, "team_id", None))
            for key, inputs, about in items
        ],
        max_tokens=settings.NUDGES_MAX_TOKENS,
        ttl=timedelta(days=1),
        force_refresh=force_refresh,
        mode="sync",  # a nudge is needed now; the batch API answers within hours
    )
    out = {}
    for key, inputs, _ in items:
        result = run.results.get(key)
        if result is None:
            out[key] = NudgeText(write_offline(inputs), True, "offline", ["missing_result"])
            continue
        flags = list(result.flags)
        if looks_like_injection(inputs.get("last_theirs", "")) and "possible_injection" not in flags:
            flags.append("possible_injection")
        text = " ".join((result.text or "").split())[:MAX_CHARS] or write_offline(inputs)
        out[key] = NudgeText(text=text, offline=result.offline, provider=result.provider, flags=flags)
    return out
