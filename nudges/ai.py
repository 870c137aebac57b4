"""Nudge text through the LLM gateway, with a deterministic offline writer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings

from llm import ask, offline_writer
from llm.guardrails import looks_like_injection
from nudges.prompts import NUDGE_PROMPT, NUDGE_SYSTEM

FEATURE = "nudges.nudge"
# A nudge is one sentence; the model may add a trailing clause. Hard cap for the column.
MAX_CHARS = 300


@dataclass(frozen=True)
class NudgeText:
    text: str
    offline: bool
    provider: str
    flags: list[str] = field(default_factory=list)


_TOPIC_STOP = re.compile(r"^(hi|hey|hello|dear|good \w+)\b[^,!:]*[,!:-]*\s*", re.IGNORECASE)
_CHANNEL_VERB = {"phone": "Call", "linkedin": "Message on LinkedIn", "whatsapp": "WhatsApp", "sms": "Text"}


def _topic(text: str) -> str:
    """The first question or sentence of our last email, without greeting: what to chase."""
    body = _TOPIC_STOP.sub("", (text or "").strip().split("\n\n")[0]).strip()
    for sentence in re.split(r"(?<=[.?!])\s+", body):
        if "?" in sentence:
            body = sentence
            break
    else:
        body = re.split(r"(?<=[.?!])\s+", body)[0] if body else ""
    body = body.rstrip(".?! ")
    if len(body) > 90:
        body = body[:87].rsplit(" ", 1)[0] + "…"
    return body


@offline_writer(FEATURE)
def write_offline(inputs: dict) -> str:
    first = (inputs.get("contact_name") or "").split(" ")[0] or "the buyer"
    codes = {w.split(":")[0] for w in (inputs.get("warnings") or "").split("; ") if w}
    casual = inputs.get("tone") == "casual"
    topic = _topic(inputs.get("last_ours") or "")
    if "ghosted" in codes:
        # Email has gone quiet: switch channel.
        verb = "Call" if inputs.get("preferred_channel") != "linkedin" else "Message on LinkedIn"
        ask_about = f"ask whether {topic[0].lower() + topic[1:]}" if topic else "ask what is blocking a reply"
        return f"{verb} {first} today: {ask_about}."[:MAX_CHARS]
    if "next_step_overdue" in codes and inputs.get("next_step"):
        return f"Close the overdue step with {first} today: {inputs['next_step']}."[:MAX_CHARS]
    if "stalled_in_stage" in codes and "no_activity" not in codes:
        return f"Ask {first} what must happen to move past {inputs.get('stage', 'this stage')}, and agree a date."[
            :MAX_CHARS
        ]
    verb = _CHANNEL_VERB.get(inputs.get("preferred_channel") or "", "Email")
    if casual and verb == "Email":
        verb = "Ping"
    follow = f"follow up on “{topic}”" if topic else f"propose a next step for {inputs.get('deal_name', 'the deal')}"
    extra = " and ask who else should join" if "single_threaded" in codes else ""
    return f"{verb} {first} today: {follow}{extra}."[:MAX_CHARS]


def nudge_inputs(
    *, deal, facts_why: str, codes: list[str], details: list[str], tone: str, last_ours: str, last_theirs: str
) -> dict:
    contact = deal.primary_contact
    owner = deal.owner
    return {
        "deal_name": deal.name,
        "account_name": deal.account.name,
        "stage": deal.stage.name,
        "amount": f"{deal.amount:.0f}",
        "owner_name": (owner.get_full_name() or owner.get_username()) if owner else "unassigned",
        "contact_name": contact.name if contact else "",
        "preferred_channel": contact.preferred_channel if contact else "email",
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
    )
    text = " ".join((result.text or "").split())[:MAX_CHARS] or write_offline(inputs)
    return NudgeText(text=text, offline=result.offline, provider=result.provider, flags=[*flags, *result.flags])
