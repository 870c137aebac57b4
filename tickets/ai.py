"""Triage and reply drafts through the LLM gateway, with deterministic offline writers.

Builds the prompt inputs, calls `llm.ask`, and parses the reply into dataclasses. Customer text
always travels as an input value (delimited as data by the gateway), never inside instructions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta

from llm import ask, offline_writer
from tickets import classifier, prompts, rules

TRIAGE_FEATURE = "tickets.triage"
DRAFT_FEATURE = "tickets.draft"
CARE_OFFER = "free express shipping on the replacement or your next order"


# --- Triage ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TriageResult:
    fields: dict[str, dict]  # {"sentiment": {"value": 0.1, "confidence": 0.8}, ...}
    offline: bool
    provider: str = "offline"


@offline_writer(TRIAGE_FEATURE)
def triage_offline(inputs: dict) -> dict:
    return classifier.classify(f"{inputs.get('subject', '')}\n{inputs.get('text', '')}").as_dict()


def _clean_triage(data) -> dict[str, dict]:
    """Keep only well-formed fields; a malformed model reply falls back to the rules per field."""
    out: dict[str, dict] = {}
    if not isinstance(data, dict):
        return out
    for name in ("sentiment", "category", "difficulty", "language"):
        item = data.get(name)
        if not isinstance(item, dict):
            continue
        try:
            confidence = max(0.0, min(1.0, float(item.get("confidence"))))
        except (TypeError, ValueError):
            continue
        value = item.get("value")
        if name == "sentiment":
            try:
                value = max(0.0, min(1.0, float(value)))
            except (TypeError, ValueError):
                continue
        elif name == "difficulty" and value not in ("easy", "normal", "complex"):
            continue
        elif not isinstance(value, str) or not value.strip():
            continue
        else:
            value = value.strip().lower()[: 10 if name == "language" else 40]
        out[name] = {"value": value, "confidence": round(confidence, 2)}
    return out


def triage(*, subject: str, text: str, about=None) -> TriageResult:
    result = ask(
        feature=TRIAGE_FEATURE,
        system=prompts.TRIAGE_SYSTEM,
        prompt=prompts.TRIAGE_PROMPT,
        inputs={"subject": subject, "text": text},
        schema=prompts.TRIAGE_SCHEMA,
        max_tokens=300,
        ttl=timedelta(days=7),
        about=about,
        scope=getattr(about, "team_id", None),  # ledger rows scoped to the team (llm.scopes)
    )
    fields = _clean_triage(result.data)
    if len(fields) < 4:
        fallback = triage_offline({"subject": subject, "text": text})
        fields = {**fallback, **fields}
    return TriageResult(fields=fields, offline=result.offline, provider=result.provider)


# --- Drafts ----------------------------------------------------------------------------------


@dataclass
class DraftContext:
    channel: str
    first_name: str
    is_vip: bool
    lifetime_value: float
    churn_risk: float
    total_orders: int
    extra_care: bool
    customer_text: str
    category: str = ""
    order: dict | None = None  # {"number", "amount", "currency", "status", "tracking_status", "tracking_age_days"}
    past_issue: dict | None = None  # {"category", "resolved_on"}: never the customer's subject
    # The customer's own words (messages, subjects): a draft that repeats them is refused.
    quoted_texts: list[str] = field(default_factory=list)
    sources: list[dict] = field(default_factory=list)  # provenance shown beside the draft
    instruction: str = ""
    previous_draft: str = ""
    agent_name: str = ""
    signature: str = ""

    def inputs(self) -> dict:
        rule = rules.CHANNEL_RULES[self.channel]
        return {
            "channel": self.channel,
            "limit": rule.limit_text,
            "tone": rule.tone,
            "style": rule.style,
            "first_name": self.first_name,
            "profile": {
                "vip": self.is_vip,
                "lifetime_value": round(self.lifetime_value, 2),
                "churn_risk": round(self.churn_risk, 2),
                "total_orders": self.total_orders,
            },
            "extra_care": self.extra_care,
            "offers": CARE_OFFER if self.extra_care else "none",
            "order": self.order or "none",
            "past_issue": self.past_issue or "none",
            "category": self.category or "unknown",
            "signature": self.signature,
            "customer_text": self.customer_text,
            "instruction": self.instruction or "none",
            "previous_draft": self.previous_draft or "none",
            "agent_name": self.agent_name,
        }


@dataclass
class DraftResult:
    content: str
    tone: str
    reasoning: str
    offline: bool
    provider: str
    model: str
    problems: list[str]
    personalization: dict[str, bool]
    flags: list[str] = field(default_factory=list)


def _as_dict(value) -> dict | None:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return None


_ISSUE = {
    "delivery": "I've checked order #{number}: its latest tracking status is: {tracking}.",
    "damaged": "I'm sorry order #{number} arrived damaged.",
    "refund": "I've picked up your refund request for order #{number}.",
    "fraud": "I've flagged the payment you asked about to our security team straight away.",
    "wrong_item": "I'm sorry order #{number} wasn't what you ordered.",
    "billing": "I've checked the billing on order #{number}.",
}
_NEXT = {
    "delivery": "I've asked the courier to investigate and will update you as soon as I hear back.",
    "damaged": "Could you reply with a photo of the damage so I can arrange a replacement?",
    "refund": "I'll confirm the next step within one working day.",
    "fraud": "Nothing more is needed from you while we investigate; I'll update you within one working day.",
    "wrong_item": "Could you tell me which item arrived so I can put it right?",
    "billing": "I'll come back to you with the details today.",
}
_CARE_NEXT = {
    "damaged": "No need to send anything back or take photos: I'll arrange a replacement with " + CARE_OFFER + ".",
    "wrong_item": "No need to send anything back first: I'll send the right item with " + CARE_OFFER + ".",
    "delivery": "If the courier can't find it by tomorrow I'll send a replacement with " + CARE_OFFER + ".",
}


# A past ticket is named by its category: its subject is the customer's words, never repeated.
PAST_ISSUE_WORDS = {
    "fraud": "a security concern",
    "refund": "a refund",
    "damaged": "a damaged item",
    "delivery": "a delivery",
    "wrong_item": "a wrong item",
    "billing": "a billing question",
    "account": "your account",
    "address": "an address change",
    "question": "a question",
    "other": "another matter",
}


def _facts(inputs: dict) -> tuple[str, str, str]:
    """(issue sentence, next step, care sentence) from the inputs only."""
    order = _as_dict(inputs.get("order"))
    category = str(inputs.get("category") or "")
    extra_care = inputs.get("extra_care") in (True, "yes", "true")
    if order and category in _ISSUE:
        tracking = str(order.get("tracking_status") or order.get("status") or "being processed").lower()
        age = order.get("tracking_age_days")
        if age:
            tracking += f" (last tracking update {age} days ago)"
        issue = _ISSUE[category].format(number=order.get("number", ""), tracking=tracking)
        if category == "delivery" and tracking.startswith("delivered"):
            issue = (
                f"Our tracking shows order #{order.get('number', '')} as delivered, so I'm sorry it hasn't reached you."
            )
    elif order:
        issue = f"I've pulled up your recent order #{order.get('number', '')} while I look into this."
    else:
        issue = "I'm looking into this for you now."
    nxt = _NEXT.get(category, "I'll come back to you with an answer shortly.")
    care = ""
    if extra_care:
        nxt = _CARE_NEXT.get(category, nxt)
        care = "You're one of our most valued customers, so I'm handling this personally."
    past = _as_dict(inputs.get("past_issue"))
    if past and past.get("category"):
        about = PAST_ISSUE_WORDS.get(str(past["category"]), PAST_ISSUE_WORDS["other"])
        care = (care + " " if care else "") + f"I can see you contacted us before about {about}."
    return issue, nxt, care


def _fit_words(text: str, limit: int) -> str:
    parts = text.split(" ")
    return text if len(parts) <= limit else " ".join(parts[:limit]).rstrip(",;:") + "."


@offline_writer(DRAFT_FEATURE)
def draft_offline(inputs: dict) -> dict:
    """A deterministic, fact-grounded reply for each channel; it never invents data."""
    channel = str(inputs.get("channel") or "email")
    first = str(inputs.get("first_name") or "there")
    issue, nxt, care = _facts(inputs)
    # VIP or high churn: even a brief reply or a call script says the case is handled personally.
    personal = "I'm handling this personally. " if inputs.get("extra_care") in (True, "yes", "true") else ""
    instruction = str(inputs.get("instruction") or "")
    instruction = "" if instruction == "none" else instruction  # DraftContext.inputs() says "none"
    short = "short" in instruction.lower() or "brief" in instruction.lower()
    apology = "I'm sorry for the trouble. " if "apolog" in instruction.lower() or "sorry" in instruction.lower() else ""
    if channel == "sms":
        order = _as_dict(inputs.get("order"))
        ref = f" re order #{order.get('number')}" if order else ""
        body = f"Hi {first}, {apology}{nxt}"
        text = f"Hi {first}{ref}: {apology}{nxt}"
        sorry = "sorry for the trouble, " if apology else ""
        fallback = f"Hi {first}{ref}, {sorry}we're on it and will update you today."
        fitting = [c for c in (text, body, fallback) if len(c) <= 160] or [fallback]
        # "Shorter" takes the shortest text that fits; otherwise the fullest one.
        content, tone = (min(fitting, key=len) if short else fitting[0])[:160], "casual"
    elif channel == "chat":
        content = f"Hi {first}! {apology}{issue}\n\n{nxt}" + ("" if short else f"\n\n{care}".rstrip())
        content, tone = _fit_words(content.strip(), 100), "friendly"
    elif channel == "phone":
        # The empathy statement a call script needs: the apology when asked, a short one when asked
        # to be brief (evaluate_ai found "shorter" left phone scripts as long as before).
        empathy = apology or ("I understand. " if short else "I understand how frustrating this must be. ")
        content = (
            f"Hello, may I speak with {first}? This is {inputs.get('agent_name') or 'the support team'} from "
            f"customer care. {empathy}{personal}{issue} {nxt}"
        )
        content, tone = _fit_words(content, 75), "conversational"
    else:
        signature = str(inputs.get("signature") or "The support team")
        middle = f"{personal}{issue} {nxt}" if short else f"{issue}\n\n{nxt}" + (f"\n\n{care}" if care else "")
        thanks = "" if short else "Thank you for getting in touch. "
        body = f"Hi {first},\n\n{thanks}{apology}{middle}\n\nKind regards,\n{signature}"
        content, tone = body, "professional"
    return {
        "content": content,
        "tone": tone,
        "reasoning": f"Offline {channel} template from the order, tracking and customer profile"
        + (" with extra care (VIP or high churn risk)" if care.startswith("You're") else "")
        + ("; the offline writer only follows 'shorter' and 'apologise' instructions" if instruction else ""),
    }


def personalization(content: str, ctx: DraftContext) -> dict[str, bool]:
    """What the draft actually used, read from its text against the context it was given."""
    text = content.lower()
    order = ctx.order or {}
    tracking = str(order.get("tracking_status") or "").lower()
    past = ctx.past_issue or {}
    return {
        "used_order_info": bool(order.get("number")) and str(order["number"]).lower() in text,
        "mentioned_tracking": bool(tracking) and (tracking in text or "tracking" in text or "courier" in text),
        "referenced_past_issue": bool(past) and ("before" in text or "last time" in text),
        "applied_vip_treatment": ctx.extra_care and ("express" in text or "personally" in text or "valued" in text),
    }


def draft_reply(ctx: DraftContext, *, about=None, force_refresh: bool = False) -> DraftResult:
    result = ask(
        feature=DRAFT_FEATURE,
        system=prompts.DRAFT_SYSTEM,
        prompt=prompts.DRAFT_PROMPT,
        inputs=ctx.inputs(),
        schema=prompts.DRAFT_SCHEMA,
        max_tokens=600,
        ttl=timedelta(hours=1),
        force_refresh=force_refresh,
        about=about,
        scope=getattr(about, "team_id", None),  # ledger rows scoped to the team (llm.scopes)
    )
    data = result.data if isinstance(result.data, dict) else {}
    content = str(data.get("content") or result.text or "").strip()
    problems = rules.check_reply(ctx.channel, content, draft=True)
    flags = list(result.flags or [])
    quoted = rules.quoted_span(content, ctx.quoted_texts)
    if quoted:
        problems = [*problems, f"It repeats the customer's words (“{quoted[:80]}”): drafts quote only our records."]
        flags.append("quoted_customer_text")
    return DraftResult(
        content=content,
        tone=str(data.get("tone") or rules.CHANNEL_RULES[ctx.channel].tone)[:30],
        reasoning=str(data.get("reasoning") or ""),
        offline=result.offline,
        provider=result.provider,
        model=result.model,
        problems=problems,
        personalization=personalization(content, ctx),
        flags=flags,
    )
