"""Customer analysis and message drafts through the LLM gateway, each with a deterministic,
data-grounded offline writer (the rule assessment and the customer's own data, nothing else)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from llm import BulkItem, ask_many, offline_writer
from notifications import checks, prompts, segments
from notifications.spelling import britishise

ANALYSIS = "notifications.analysis"
MESSAGE = "notifications.message"
SEGMENT = "notifications.segment"
# Part of every input set: bump when an offline writer changes so stored drafts regenerate.
WRITER_VERSION = "1"
# An analysis stays valid while its inputs are unchanged; a day bounds the cost of a stale model.
TTL = timedelta(days=1)


def _d(value) -> str:
    """An ISO date as British prose: 2026-12-14 -> 14 December 2026."""
    try:
        return date.fromisoformat(str(value)).strftime("%-d %B %Y")
    except ValueError:
        return str(value)


def _top(factors: list[dict]) -> list[dict]:
    raising = [f for f in factors if f["delta"] > 0]
    return raising or factors[:1]


def _reason(customer: dict, factors: list[dict]) -> tuple[str, str]:
    """(contact reason, what to talk about) from the strongest raising factor."""
    labels = " ".join(f["label"].lower() for f in _top(factors))
    if "contract ends" in labels:
        return (
            f"Contract ends on {_d(customer['contract_end'])}: renew before the customer shops around.",
            "renewal",
        )
    if "tariffs or switching" in labels:
        return ("Asked about tariffs or switching recently: likely comparing suppliers.", "tariff")
    if "missed payment" in labels or "late payment" in labels:
        return ("Payments have slipped: offer help before arrears build up.", "payment")
    if "complaint" in labels or "negative" in labels:
        return ("A recent interaction went badly: put it right before the customer leaves.", "service")
    if "ignored" in labels or "engagement" in labels or "no login" in labels:
        return ("Engagement has dropped: re-establish contact.", "engagement")
    if "churn risk" in labels:
        return ("High churn risk in the activity log.", "engagement")
    return ("Routine check-in: no strong warning signs.", "checkin")


@offline_writer(ANALYSIS)
def analyse_offline(inputs: dict) -> dict:
    c = inputs.get("customer") or {}
    rule = inputs.get("rule_assessment") or {}
    factors = rule.get("factors") or []
    reason, topic = _reason(c, factors)
    history = inputs.get("notification_history") or []
    opened = sum(1 for n in history if n.get("opened"))
    negative = [i for i in inputs.get("interactions") or [] if (i.get("sentiment") or 0) < -0.2]
    spend = c.get("monthly_spend")
    insights = [f"Prefers {c.get('preferred_channel') or 'email'}"]
    if c.get("engagement_score") is not None:
        insights.append(f"engagement score {c['engagement_score']}")
    if history:
        insights.append(f"opened {opened} of {len(history)} past notifications")
    if c.get("tenure_months") is not None:
        insights.append(f"customer for {c['tenure_months']} months")
    if negative:
        style = f"Empathetic: acknowledge the {negative[0]['category'].lower()} first, then offer to put it right."
    elif rule.get("segment") == "Value Seekers":
        style = "Clear and factual: lead with what the customer pays and the options available."
    else:
        style = "Friendly and brief; ask how things are going before anything else."
    starters = {
        "renewal": f"I can see your {c.get('tariff') or 'tariff'} ends on {_d(c.get('contract_end'))}; shall we look at your options together?",
        "tariff": "You asked us about tariffs recently; may I go through what is available to you?",
        "payment": "I wanted to check whether the current payment arrangement still suits you.",
        "service": "I am sorry your last contact with us did not go well; I would like to put that right.",
        "engagement": "We have not heard from you for a while; is everything working as it should?",
        "checkin": "I am calling to check that everything with your account is as you expect.",
    }
    return {
        "priority": rule.get("priority", "Low"),
        "urgency": rule.get("urgency", ""),
        "risk_score": int(rule.get("risk_score", 1)),
        "segment": rule.get("segment", ""),
        "segment_reason": rule.get("segment_reason", ""),
        "contact_reason": reason,
        "trigger_factors": [{"label": f["label"], "ref": f["ref"]} for f in _top(factors)[:5]],
        "potential_impact": (
            f"May switch supplier, losing £{spend} a month in revenue." if spend else "May switch supplier."
        )
        if int(rule.get("risk_score", 1)) >= 4
        else "Low: a missed chance to strengthen the relationship.",
        "insights": "; ".join(insights) + ".",
        "communication_style": style,
        "conversation_starters": [starters[topic]],
    }


@offline_writer(SEGMENT)
def refine_offline(inputs: dict) -> dict:
    """The segment the customer's data speaks for most among those whose rule matches, explained."""
    matching = [(m["segment"], m["rule"]) for m in inputs.get("matching") or []]
    result = segments.refine(inputs.get("facts") or {}, matching, inputs.get("rule_segment") or segments.FALLBACK)
    return {"segment": result.segment, "reason": result.reason}


_SUBJECTS = {
    "renewal": ["Your energy contract is ending", "Your renewal options"],
    "tariff": ["Your tariff options", "Options for your energy tariff"],
    "payment": ["Help with your payments", "Your payment options"],
    "service": ["Following up on your recent contact", "Putting things right"],
    "engagement": ["Checking in on your account", "How is everything with your account?"],
    "checkin": ["Checking in on your account", "A quick hello from Customer Care"],
}


@offline_writer(MESSAGE)
def message_offline(inputs: dict) -> dict:
    c = inputs.get("customer") or {}
    analysis = inputs.get("analysis") or {}
    _, topic = _reason(c, [{"label": f["label"], "delta": 1} for f in analysis.get("trigger_factors") or []])
    recent = {s.lower() for s in inputs.get("recent_subjects") or []}
    subject = next((s for s in _SUBJECTS[topic] if s.lower() not in recent), _SUBJECTS[topic][-1])
    offer = (inputs.get("offer") or "").strip()
    first = c.get("first_name") or ""
    channel = inputs.get("channel") or "email"
    lines = {
        "renewal": f"Your {c.get('tariff') or 'current tariff'} ends on {_d(c.get('contract_end'))}. We would like to make sure you move onto the right tariff for you.",
        "tariff": "You recently asked us about tariffs, so we wanted to go through the options open to you.",
        "payment": "We noticed your recent payments did not go through as planned, and we would like to help.",
        "service": "We are sorry your recent contact with us was not what you expected, and we would like to put it right.",
        "engagement": "We have not heard from you for a while and wanted to check everything is working well.",
        "checkin": "We wanted to check that everything with your account is as you expect.",
    }
    offer_line = f" We can offer you: {offer}." if offer else ""
    if channel == "sms":
        text = f"Hi {first}, {lines[topic][0].lower()}{lines[topic][1:]}{offer_line} Reply or call us to talk it through. Customer Care Team".replace(
            "Hi ,", "Hi,"
        )
    else:
        greeting = f"Dear {first}," if first else "Hello,"
        text = f"{greeting}\n\n{lines[topic]}{offer_line}\n\nIf you would like to talk it through, simply reply to this message and one of our team will get back to you.\n\nKind regards,\nCustomer Care Team"
    text = britishise(text)[: checks.limit_for(channel)]
    return {"subject": subject, "message": text}


@dataclass
class Analysis:
    data: dict
    offline: bool
    provider: str
    fallback_reason: str = ""
    flags: list[str] = field(default_factory=list)
    cached: bool = False  # answered from the gateway's reply cache: no model call


def _as_analysis(result, fallback, inputs: dict) -> Analysis:
    """`fallback(inputs)` is the offline writer: run only when the reply holds no object."""
    data = result.data if isinstance(result.data, dict) else fallback(inputs)
    return Analysis(
        data=data,
        offline=result.offline,
        provider=result.provider,
        fallback_reason=result.fallback_reason,
        flags=list(result.flags),
        cached=result.cached,
    )


@dataclass
class Answers:
    """One feature's answers for many customers: `done` now, `pending` keys submitted to a batch."""

    done: dict[str, Analysis]
    pending: list[str] = field(default_factory=list)
    batch_id: int | None = None


_FEATURES = {
    ANALYSIS: (prompts.ANALYSIS_SYSTEM, prompts.ANALYSIS_PROMPT, prompts.ANALYSIS_SCHEMA, 900, analyse_offline),
    MESSAGE: (prompts.MESSAGE_SYSTEM, prompts.MESSAGE_PROMPT, prompts.MESSAGE_SCHEMA, 700, message_offline),
}


def ask_bulk(
    feature: str, items: list[tuple[str, dict, object]], *, force_refresh: bool = False, mode: str = "sync"
) -> Answers:
    """[(key, inputs, about)] through the gateway's bulk path. mode "sync": every answer now (results
    appear on the page as they complete); "auto": uncached items of a big run go to the Message
    Batches API (half price, answered within hours) when the provider offers it."""
    if not items:
        return Answers({})
    system, prompt, schema, max_tokens, writer = _FEATURES[feature]
    run = ask_many(
        feature=feature,
        system=system,
        prompt=prompt,
        items=[BulkItem(key=k, inputs=i, about=a, scope=getattr(a, "team_id", None)) for k, i, a in items],
        schema=schema,
        max_tokens=max_tokens,
        ttl=TTL,
        force_refresh=force_refresh,
        mode=mode,
    )
    pending = set(run.pending)
    out = {}
    for key, inputs, _ in items:
        result = run.results.get(key)
        if key in pending:
            continue
        if result is None:
            out[key] = Analysis(writer(inputs), True, "offline", "no result", ["missing_result"])
        else:
            out[key] = _as_analysis(result, writer, inputs)
    return Answers(out, list(run.pending), run.batch_id)


def analyse_many(items: list[tuple[str, dict, object]], *, force_refresh: bool = False) -> dict[str, Analysis]:
    """[(key, inputs, about)] -> {key: Analysis}, every answer now."""
    return ask_bulk(ANALYSIS, items, force_refresh=force_refresh).done


def draft_many(items: list[tuple[str, dict, object]], *, force_refresh: bool = False) -> dict[str, Analysis]:
    return ask_bulk(MESSAGE, items, force_refresh=force_refresh).done
