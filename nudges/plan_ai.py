"""Action plans, expansions and learnings through the LLM gateway, with offline writers.

`write_plan` asks for the structured plan and then holds any writer (model or offline) to the
seed's rules with `enforce`: counts per priority, full content for P0 only, allowed channels for
each contact (opt-outs, WhatsApp for existing relationships), the team's word limits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings

from llm import ask, ask_many, offline_writer
from nudges import plan_writer
from nudges.plan_prompts import (
    EXPAND_PROMPT,
    EXPAND_SCHEMA,
    EXPAND_SYSTEM,
    LEARNING_PROMPT,
    LEARNING_SCHEMA,
    LEARNING_SYSTEM,
    PLAN_PROMPT,
    PLAN_SCHEMA,
)

FEATURE = "nudges.plan"
EXPAND_FEATURE = "nudges.expand"
LEARNING_FEATURE = "nudges.learning"
# Part of every plan's cache key: bump when the offline writer or `enforce` changes.
WRITER_VERSION = "1"
LIMITS = {"P0": (1, 2), "P1": (2, 3), "P2": (1, 3)}


@offline_writer(FEATURE)
def plan_offline(inputs: dict) -> dict:
    return plan_writer.write_plan(inputs)


@offline_writer(EXPAND_FEATURE)
def expand_offline(inputs: dict) -> dict:
    return plan_writer.write_expansion(inputs)


_CHANNEL_WORDS = {
    "email": ("email", "e-mail", "subject line", "inbox"),
    "phone": ("call", "phone", "voicemail"),
    "linkedin": ("linkedin", "inmail", "connection"),
    "whatsapp": ("whatsapp",),
}
_WORDS_N = re.compile(r"\b(\d{2,4})\s*words?\b", re.IGNORECASE)


def _sentence(text: str) -> str:
    text = " ".join(text.split()).strip().rstrip(".!")
    return text[:1].upper() + text[1:] if text else ""


@offline_writer(LEARNING_FEATURE)
def learning_offline(inputs: dict) -> dict:
    """One learning from the feedback fields, most specific first: a word limit, the suggested
    improvement, what did not work (to avoid), what worked (to repeat)."""
    channel = inputs.get("channel") or "email"
    every = " ".join(str(inputs.get(k) or "") for k in ("text", "worked", "didnt_work", "improvement"))
    lowered = every.lower()
    mentioned = [c for c, words in _CHANNEL_WORDS.items() if any(w in lowered for w in words)]
    section = channel if channel in mentioned or not mentioned else mentioned[0]
    m = _WORDS_N.search(every)
    if m:
        noun = {"email": "emails", "phone": "call openings", "linkedin": "LinkedIn messages"}.get(section, "messages")
        cold = "cold outreach " if "cold" in lowered or inputs.get("priority") == "P0" and section == "email" else ""
        return {"actionable": True, "learning": f"Keep {cold}{noun} under {m.group(1)} words", "section": section}
    if inputs.get("improvement"):
        return {"actionable": True, "learning": _sentence(inputs["improvement"]), "section": section}
    if inputs.get("didnt_work"):
        return {"actionable": True, "learning": "Avoid: " + _sentence(inputs["didnt_work"]).lower(), "section": section}
    if inputs.get("worked"):
        return {
            "actionable": True,
            "learning": "Keep doing: " + _sentence(inputs["worked"]).lower(),
            "section": section,
        }
    if "too long" in lowered:
        return {"actionable": True, "learning": f"Keep {section} messages short and to the point", "section": section}
    return {"actionable": False, "learning": "", "section": section}


@dataclass
class Written:
    data: dict
    provenance: dict
    fixes: list[str] = field(default_factory=list)


def enforce(data: dict, inputs: dict) -> tuple[dict, list[str]]:
    """The plan as the rules allow it, and what had to be fixed (as flags)."""
    fixes: list[str] = []
    reach = {c["name"]: set(c["channels"]) for c in inputs.get("contacts") or []}
    any_channels = set().union(*reach.values()) if reach else {"linkedin"}
    learnings = inputs.get("learnings") or {}
    fallback = None
    kept: dict[str, list[dict]] = {"P0": [], "P1": [], "P2": []}
    for action in data.get("actions") or []:
        p, ch, who = action.get("priority"), action.get("channel"), action.get("contact") or ""
        if p not in kept:
            continue
        if who and who not in reach:
            fixes.append(f"dropped:{p}:{ch}:contact not reachable")
            continue
        if ch not in (reach[who] if who else any_channels):
            fixes.append(f"dropped:{p}:{ch}:channel not allowed")
            continue
        if len(kept[p]) >= LIMITS[p][1]:
            fixes.append(f"dropped:{p}:over the limit of {LIMITS[p][1]}")
            continue
        action = dict(action)
        if p == "P0":
            content = {k: v for k, v in (action.get("content") or {}).items() if v}
            if not _complete(ch, content):
                content = plan_writer.write_expansion(_expand_inputs(inputs, action))
                fixes.append(f"filled:{p}:{ch}:content")
            if ch == "email":
                limit = plan_writer.word_limit(learnings.get("email", []), 10_000)
                if plan_writer.words(content.get("body", "")) >= limit:
                    content["body"] = plan_writer._fit(content["body"].split("\n\n") + [""], limit).rstrip()
                    fixes.append(f"trimmed:{p}:email:under {limit + 1} words")
            action["content"] = content
        else:
            if action.get("content"):
                fixes.append(f"outlined:{p}:{ch}")
            action.pop("content", None)
            action["outline"] = action.get("outline") or [action.get("title", "")]
        kept[p].append(action)
    for p, (low, _) in LIMITS.items():
        if len(kept[p]) < low:
            fallback = fallback or plan_offline(inputs)
            extra = [a for a in fallback["actions"] if a["priority"] == p]
            kept[p].extend(extra[: low - len(kept[p])])
            fixes.append(f"topped_up:{p}")
    return {"situation": data.get("situation") or {}, "actions": kept["P0"] + kept["P1"] + kept["P2"]}, fixes


def _complete(channel: str, content: dict) -> bool:
    need = {"email": ("subject", "body"), "phone": ("opening", "discovery", "close")}.get(channel, ("message",))
    return all(content.get(k) for k in need)


def _expand_inputs(inputs: dict, action: dict) -> dict:
    return {
        "action": {
            k: action.get(k) for k in ("priority", "channel", "action_type", "title", "contact", "outline", "rationale")
        },
        "deal": inputs["deal"],
        "summary": inputs["summary"],
        "campaign_context": inputs.get("campaign_context", ""),
        "learnings": (inputs.get("learnings") or {}).get(action["channel"], []),
        "sender": inputs.get("sender", ""),
    }


def _ttl() -> timedelta:
    return timedelta(minutes=settings.PLANS_CACHE_TTL_MINUTES)


def write_plan(inputs: dict, *, system: str, force_refresh: bool = False, about=None) -> Written:
    result = ask(
        feature=FEATURE,
        system=system,
        prompt=PLAN_PROMPT,
        inputs=inputs,
        schema=PLAN_SCHEMA,
        max_tokens=settings.PLANS_MAX_TOKENS,
        ttl=_ttl(),
        force_refresh=force_refresh,
        about=about,
    )
    return written_from(result, inputs)


def written_from(result, inputs: dict) -> Written:
    """A gateway result (None: no answer) held to the rules; the offline plan when it has no plan."""
    data = result.data if result is not None and isinstance(result.data, dict) else plan_offline(inputs)
    data, fixes = enforce(data, inputs)
    return Written(data, result.provenance if result is not None else {"offline": True}, fixes)


def write_plans(
    items: list[tuple[str, dict, object]], *, system: str, mode: str = "auto"
) -> tuple[dict[str, Written], list[str]]:
    """Many plans through the gateway's bulk entry: ({key: Written} answered now, [keys submitted to
    a model batch]). Offline: every item in-process. With a model: cache hits at once, the rest in
    a Message Batch (`mode`, as `llm.ask_many`; results reach `plan_bulk.on_batch_result`) or
    synchronously."""
    import llm

    run = ask_many(
        feature=FEATURE,
        system=system,
        prompt=PLAN_PROMPT,
        items=[llm.BulkItem(key=key, inputs=inputs, about=about) for key, inputs, about in items],
        schema=PLAN_SCHEMA,
        max_tokens=settings.PLANS_MAX_TOKENS,
        ttl=_ttl(),
        mode=mode,
    )
    pending = set(run.pending)
    out = {key: written_from(run.results.get(key), inputs) for key, inputs, _ in items if key not in pending}
    return out, run.pending


def expand(action: dict, inputs: dict, *, about=None) -> tuple[dict, dict]:
    """(full content, provenance) for one outlined action."""
    expand_inputs = _expand_inputs(inputs, action)
    result = ask(
        feature=EXPAND_FEATURE,
        system=EXPAND_SYSTEM,
        prompt=EXPAND_PROMPT,
        inputs=expand_inputs,
        schema=EXPAND_SCHEMA,
        max_tokens=1200,
        ttl=_ttl(),
        about=about,
    )
    content = {k: v for k, v in (result.data or {}).items() if v} if isinstance(result.data, dict) else {}
    if not _complete(action["channel"], content):
        content = expand_offline(expand_inputs)
    return content, result.provenance


def extract_learning(inputs: dict, *, about=None) -> tuple[dict, dict]:
    """({actionable, learning, section}, provenance) for one piece of feedback."""
    result = ask(
        feature=LEARNING_FEATURE,
        system=LEARNING_SYSTEM,
        prompt=LEARNING_PROMPT,
        inputs=inputs,
        schema=LEARNING_SCHEMA,
        max_tokens=200,
        ttl=0,
        about=about,
    )
    data = result.data if isinstance(result.data, dict) else learning_offline(inputs)
    return data, result.provenance
