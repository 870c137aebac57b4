"""The offline plan writer: a deterministic, data-grounded P0/P1/P2 plan from the plan's inputs only.

It is what users get with no model key, and what the evaluation holds every writer to: counts per
priority, channel rules, the team's learnings (a word limit such as "under 150 words" is obeyed),
and no fact that is not in the inputs (names, amounts and dates are copied, never made up).
"""

from __future__ import annotations

import re

WORD_LIMIT = re.compile(
    r"\b(?:under|below|fewer than|less than|at most|max(?:imum)?(?: of)?|no more than|within)\s+(\d{2,4})\s+words?",
    re.IGNORECASE,
)
# Without a learning, an email body stays under this (long first emails are read less).
DEFAULT_EMAIL_WORDS = 180
LINKEDIN_CHARS = 300  # LinkedIn's limit for a connection note
WHATSAPP_WORDS = 40  # brief and casual


def word_limit(learnings: list[str], default: int) -> int:
    limits = [int(m.group(1)) for line in learnings for m in WORD_LIMIT.finditer(line)]
    # "under 150 words": the body must stay strictly below the number.
    return min([n - 1 for n in limits], default=default)


def words(text: str) -> int:
    return len(text.split())


def _first(name: str) -> str:
    return name.split()[0] if name else ""


def _fit(paragraphs: list[str], limit: int) -> str:
    """Keep whole paragraphs (the first and the last always) until the word limit."""
    head, *middle, tail = paragraphs
    kept = [head]
    for p in middle:
        if words("\n\n".join([*kept, p, tail])) < limit:
            kept.append(p)
    body = "\n\n".join([*kept, tail])
    if words(body) >= limit:  # the first paragraph alone is too long: cut it at a word
        budget = max(1, limit - words(tail) - 1)
        body = " ".join(head.split()[:budget]).rstrip(",;") + "…\n\n" + tail
    return body


def _situation(inputs: dict) -> tuple[str, list[str], str]:
    s = inputs["summary"]
    warnings = {w["code"]: w["detail"] for w in s.get("warnings", [])}
    last = s.get("last_interaction")
    last_text = (
        f"{last['kind']} ({'from them' if last['direction'] == 'in' else 'from us'}) on {last['date']}"
        if last
        else "none yet"
    )
    return last_text, list(s.get("key_themes") or []), "; ".join(warnings.values())


def _angle(inputs: dict) -> str:
    """What the deal needs most now, from the summary's warnings and history."""
    s = inputs["summary"]
    codes = {w["code"] for w in s.get("warnings", [])}
    if "next_step_overdue" in codes and inputs["deal"].get("next_step"):
        return "close_step"
    if "ghosted" in codes:
        return "re_engage"
    if not s.get("touches"):
        return "intro"
    if s.get("engagement_level") == "high":
        return "advance"
    return "follow_up"


TITLES = {
    "close_step": "Close the overdue next step",
    "re_engage": "Re-engage after the silence",
    "intro": "Open the conversation",
    "advance": "Propose the next step",
    "follow_up": "Follow up on the last exchange",
    "multi_thread": "Bring in a second stakeholder",
    "find_contact": "Find a reachable stakeholder",
    "share_content": "Share a useful resource",
    "meeting": "Propose a short call",
    "check_in": "Check in on progress",
    "nurture": "Stay visible without pressure",
}


_EMAIL_ANGLES = ("close_step", "re_engage", "intro", "advance", "follow_up")
_EMAIL_ANGLE = {"multi_thread": "intro", "find_contact": "intro"}


def _email(inputs: dict, angle: str, contact: dict, limit: int) -> dict:
    deal, s = inputs["deal"], inputs["summary"]
    angle = _EMAIL_ANGLE.get(angle, angle if angle in _EMAIL_ANGLES else "follow_up")
    first = _first(contact["name"]) or "there"
    last = s.get("last_interaction")
    themes = s.get("key_themes") or []
    campaign = inputs.get("campaign_context") or ""
    sender = _first(inputs.get("sender") or "") or "the team"
    subject = {
        "close_step": f"{deal['name']}: next step",
        "re_engage": f"{deal['name']}: still a priority?",
        "intro": f"{deal['name']}: a first conversation",
        "advance": f"{deal['name']}: proposed next step",
        "follow_up": f"{deal['name']}: following up",
    }[angle]
    opening = {
        "close_step": f"Hi {first},\n\nWe agreed on this next step for {deal['name']}: {deal.get('next_step', '').rstrip('.')}. I would like to close it with you this week.",
        "re_engage": f"Hi {first},\n\nI have not heard back since my last message about {deal['name']}, so I wanted to check whether it is still a priority for {deal['account']}.",
        "intro": f"Hi {first},\n\nI am reaching out about {deal['name']} for {deal['account']} and would value a short conversation about your goals.",
        "advance": f"Hi {first},\n\nThank you for the recent exchanges on {deal['name']}. I suggest we agree on the next step now, while it is fresh.",
        "follow_up": f"Hi {first},\n\nI am following up on {deal['name']}"
        + (f" and our last exchange ({last['subject']})." if last and last.get("subject") else "."),
    }[angle]
    middle = []
    if themes:
        middle.append(
            "You raised " + ", ".join(themes) + ": I have prepared answers on each so we can settle them quickly."
        )
    if campaign:
        middle.append(f"This also ties in with {campaign.rstrip('.')}, which may be relevant for your team.")
    if s.get("engaged_contacts") and len(s["engaged_contacts"]) < 2 and float(deal.get("amount") or 0) >= 10000:
        middle.append("If others at your side should join the conversation, feel free to add them.")
    cta = "Would a 20-minute call on Tuesday or Wednesday work for you?"
    if angle == "re_engage":
        cta = "If the timing has changed, a one-line reply is enough and I will adjust."
    body = _fit([opening, *middle, f"{cta}\n\nBest regards,\n{sender}"], limit)
    return {"subject": subject, "body": body}


def _phone(inputs: dict, angle: str, contact: dict) -> dict:
    deal, s = inputs["deal"], inputs["summary"]
    first = _first(contact["name"]) or "there"
    sender = _first(inputs.get("sender") or "") or "your account contact"
    themes = s.get("key_themes") or []
    questions = ["Where does the decision stand on your side, and what would help move it forward?"]
    if themes:
        questions.append(f"On {themes[0]}: what is still open for you?")
    questions.append("Who else is involved in the decision, and what do they need from us?")
    if deal.get("next_step"):
        questions.append(f"Can we confirm the next step: {deal['next_step'].rstrip('.')}?")
    close = (
        "Agree one concrete next step with a date before hanging up, and confirm it by email the same day."
        if angle != "re_engage"
        else "If the project is paused, ask when to check back and note it; otherwise agree a date for the next step."
    )
    return {
        "opening": f"Hi {first}, this is {sender} about {deal['name']}. Is now still a good moment for five minutes?",
        "discovery": "\n".join(f"- {q}" for q in questions),
        "close": close,
    }


def _short(inputs: dict, channel: str, angle: str, contact: dict, limit_words: int | None = None) -> dict:
    deal = inputs["deal"]
    first = _first(contact["name"]) or "there"
    if channel == "whatsapp":
        text = f"Hi {first} 👋 quick one on {deal['name']}: " + (
            "is it still on your list? Happy to adjust."
            if angle == "re_engage"
            else "does a short call this week suit you?"
        )
        limit = min(WHATSAPP_WORDS, limit_words or WHATSAPP_WORDS)
        return {"message": " ".join(text.split()[:limit])}
    text = f"Hi {first}, " + (
        f"I have been working on {deal['name']} with your team and would be glad to stay connected here. Would a short exchange this week be useful?"
        if angle != "find_contact"
        else f"I am working with {deal['account']} on {deal['name']} and am looking for the right person to talk to. Would you be open to a short exchange?"
    )
    return {"message": text[:LINKEDIN_CHARS]}


def _prereqs(inputs: dict, channel: str, contact: dict | None) -> list[str]:
    s, deal = inputs["summary"], inputs["deal"]
    out = []
    last = s.get("last_interaction")
    if last:
        out.append(
            f"Re-read the last {last['kind']} ({last['date']})"
            + (f": {last['subject']}" if last.get("subject") else "")
        )
    for theme in (s.get("key_themes") or [])[:2]:
        out.append(f"Prepare a specific answer on {theme}")
    if deal.get("next_step"):
        out.append(f"Check the status of the next step: {deal['next_step'].rstrip('.')}")
    if contact is not None:
        out.append(f"Confirm {contact['name']} is still the right person")
    for line in (inputs.get("learnings") or {}).get(channel, [])[-2:]:
        out.append(f"Apply the team learning: {line}")
    return out or ["Review the deal record"]


def _content(inputs, channel, angle, contact, learnings) -> dict:
    if channel == "email":
        return _email(inputs, angle, contact, word_limit(learnings.get("email", []), DEFAULT_EMAIL_WORDS))
    if channel == "phone":
        return _phone(inputs, angle, contact)
    return _short(inputs, channel, angle, contact, word_limit(learnings.get(channel, []), WHATSAPP_WORDS))


def _action(inputs, priority, channel, angle, contact, rationale, *, full: bool, outline=()) -> dict:
    learnings = inputs.get("learnings") or {}
    slots = inputs["slots"][channel]
    timing = {"P0": slots["p0"], "P1": slots["this_week"], "P2": slots["next_week"]}[priority]
    action = {
        "priority": priority,
        "channel": channel,
        "action_type": angle,
        "title": TITLES.get(angle, angle.replace("_", " ").capitalize()),
        "contact": contact["name"] if contact else "",
        "timing": timing,
        "prerequisites": _prereqs(inputs, channel, contact),
        "rationale": rationale,
    }
    if full:
        action["content"] = _content(inputs, channel, angle, contact or {"name": ""}, learnings)
    else:
        action["outline"] = list(outline)
    return action


def write_plan(inputs: dict) -> dict:
    contacts = inputs.get("contacts") or []
    s, deal = inputs["summary"], inputs["deal"]
    last_text, themes, warnings = _situation(inputs)
    angle = _angle(inputs)
    analysis = f"Engagement is {s.get('engagement_level', 'none')}; last interaction: {last_text}."
    if warnings:
        analysis += f" Warnings: {warnings}."
    situation = {
        "engagement_level": s.get("engagement_level", "none"),
        "last_interaction": last_text,
        "key_themes": themes,
        "analysis": analysis,
    }
    why = warnings or f"engagement is {s.get('engagement_level', 'none')} in {deal['stage']}"
    actions = []
    if not contacts:
        # Everyone opted out or there is nobody: nobody may be contacted, so the plan is to find
        # a reachable stakeholder (research on LinkedIn, no message to an opted-out contact).
        actions.append(
            _action(
                inputs,
                "P0",
                "linkedin",
                "find_contact",
                None,
                "No contact on this deal may be contacted (none, or opted out).",
                full=True,
            )
        )
        actions.append(
            _action(
                inputs,
                "P1",
                "linkedin",
                "multi_thread",
                None,
                "A deal needs a reachable stakeholder.",
                full=False,
                outline=[
                    "Identify the decision maker at " + deal["account"],
                    "Ask for an introduction through an existing customer contact",
                ],
            )
        )
        actions.append(
            _action(
                inputs,
                "P1",
                "email",
                "follow_up",
                None,
                "Keep the deal record accurate.",
                full=False,
                outline=[
                    "Record why the current contacts cannot be reached",
                    "Agree with the team whether to keep the deal open",
                ],
            )
        )
        actions.append(
            _action(
                inputs,
                "P2",
                "linkedin",
                "intro",
                None,
                "Warm up the new stakeholder before any pitch.",
                full=False,
                outline=["Share one relevant piece of content"],
            )
        )
        return {"situation": situation, "actions": actions}
    main = contacts[0]
    first_channel = main["channels"][0]
    if angle == "re_engage" and first_channel == "email" and len(main["channels"]) > 1:
        first_channel = main["channels"][1]  # email went quiet: switch channel
    actions.append(_action(inputs, "P0", first_channel, angle, main, f"{TITLES[angle]}: {why}.", full=True))
    # A second P0 only when the deal is at risk: a follow-up on another channel, or another person.
    if warnings:
        other = contacts[1] if len(contacts) > 1 else None
        if other is not None:
            actions.append(
                _action(
                    inputs,
                    "P0",
                    other["channels"][0],
                    "multi_thread",
                    other,
                    f"Do not depend on one person while {why}.",
                    full=True,
                )
            )
        elif len(main["channels"]) > 1:
            second = next(ch for ch in main["channels"] if ch != first_channel)
            actions.append(
                _action(
                    inputs,
                    "P0",
                    second,
                    "follow_up",
                    main,
                    f"A second channel doubles the chance of an answer today ({why}).",
                    full=True,
                )
            )
    theme = themes[0] if themes else "their main open question"
    actions.append(
        _action(
            inputs,
            "P1",
            "email",
            "share_content",
            main if "email" in main["channels"] else None,
            f"Keep momentum with value, not just check-ins: {theme}.",
            full=False,
            outline=[
                f"Send a short resource on {theme}",
                "Tie it to what they said in the last exchange",
                "End with one question",
            ],
        )
        if "email" in main["channels"]
        else _action(
            inputs,
            "P1",
            main["channels"][0],
            "share_content",
            main,
            f"Keep momentum: {theme}.",
            full=False,
            outline=[f"Share one useful point on {theme}", "End with one question"],
        )
    )
    actions.append(
        _action(
            inputs,
            "P1",
            "phone" if "phone" in main["channels"] else "linkedin",
            "meeting",
            main,
            "A live conversation settles open questions faster than email.",
            full=False,
            outline=[
                "Propose a 20-minute call to agree the next step",
                "Prepare two discovery questions",
                "Confirm who else should attend",
            ],
        )
    )
    if float(deal.get("amount") or 0) >= 10000 or len(contacts) > 1:
        target = contacts[1] if len(contacts) > 1 else None
        actions.append(
            _action(
                inputs,
                "P1",
                "linkedin",
                "multi_thread",
                target,
                "Large or multi-contact deals need more than one engaged person.",
                full=False,
                outline=["Identify a second stakeholder", "Connect with a short, personal note"],
            )
        )
    actions.append(
        _action(
            inputs,
            "P2",
            main["channels"][0],
            "check_in",
            main,
            "Keep the deal warm after this week's actions.",
            full=False,
            outline=["Check in on the outcome of this week's actions", "Confirm the timeline for a decision"],
        )
    )
    if s.get("engagement_level") in ("low", "none"):
        actions.append(
            _action(
                inputs,
                "P2",
                "linkedin",
                "nurture",
                main,
                "Low engagement: stay visible without pressure.",
                full=False,
                outline=["Engage with their recent posts or company news", "Share one relevant insight"],
            )
        )
    return {"situation": situation, "actions": actions}


def write_expansion(inputs: dict) -> dict:
    """Full content for one outlined action (the 'nudges.expand' offline writer)."""
    action = inputs["action"]
    contact = {"name": action.get("contact") or ""}
    plan_inputs = {
        "deal": inputs["deal"],
        "summary": inputs["summary"],
        "campaign_context": inputs.get("campaign_context", ""),
        "sender": inputs.get("sender", ""),
        "learnings": {action["channel"]: inputs.get("learnings") or []},
    }
    angle = action.get("action_type") if action.get("action_type") in TITLES else "follow_up"
    if angle in ("multi_thread", "find_contact") and action["channel"] == "email":
        angle = "follow_up"
    return _content(plan_inputs, action["channel"], angle, contact, plan_inputs["learnings"])
