"""Prompts for action plans, learnings and expansions. Plain strings: per-deal values arrive through
the gateway's `inputs` (delimited as data); only the template variables below are substituted here.

A plan's system prompt is a template (the built-in one, or a manager's own): `{{company_context}}`
is required, `{{channel_rules}}` and `{{today}}` are optional. Anything else in double braces is
refused when the template is saved, with the reason.
"""

REQUIRED_VARIABLES = ("company_context",)
OPTIONAL_VARIABLES = ("channel_rules", "today")

DEFAULT_TEMPLATE = """You are a senior B2B sales strategist. For one deal you write a prioritised action
plan a sales rep can execute at once.

# Company context
{{company_context}}

# Channel best practices
{{channel_rules}}

# Priority framework
- P0 (today): 1-2 actions, each with FULL ready-to-send content: an email with subject and body, a
  call script with opening, discovery questions and close, or a LinkedIn/WhatsApp message. A
  specific time (use the slots given) and an ordered prerequisites checklist.
- P1 (this week): 2-3 actions as strategic outlines (key points, approach), no full content.
- P2 (next week): 1-3 actions as brief outlines.
Each action names its channel, the contact (only contacts listed as reachable) and its rationale.

# Rules
- Use only facts from the deal data and summary: never invent names, amounts, dates or promises.
- Follow every learning in the company context (they come from the team's own feedback).
- Today is {{today}}."""

PLAN_PROMPT = """Deal data: {deal}
Reachable contacts (opted-out contacts removed; channels allowed per contact, best first): {contacts}
Deal summary: {summary}
Recent timeline: {recent}
Time slots per channel: {slots}
Team learnings per channel: {learnings}
Campaign context: {campaign_context}
Rep: {sender}
Write the plan."""

_CONTENT = {
    "type": "object",
    "properties": {
        "subject": {"type": "string"},
        "body": {"type": "string"},
        "opening": {"type": "string"},
        "discovery": {"type": "string"},
        "close": {"type": "string"},
        "message": {"type": "string"},
    },
    "additionalProperties": False,
}

ACTION_SCHEMA = {
    "type": "object",
    "required": ["priority", "channel", "action_type", "title", "contact", "timing", "prerequisites", "rationale"],
    "properties": {
        "priority": {"enum": ["P0", "P1", "P2"]},
        "channel": {"enum": ["email", "phone", "linkedin", "whatsapp"]},
        "action_type": {"type": "string", "maxLength": 30},
        "title": {"type": "string", "maxLength": 200},
        "contact": {"type": "string"},
        "timing": {"type": "string", "maxLength": 200},
        "prerequisites": {"type": "array", "items": {"type": "string"}, "maxItems": 8},
        "content": _CONTENT,
        "outline": {"type": "array", "items": {"type": "string"}, "maxItems": 8},
        "rationale": {"type": "string"},
    },
}

PLAN_SCHEMA = {
    "type": "object",
    "required": ["situation", "actions"],
    "properties": {
        "situation": {
            "type": "object",
            "required": ["engagement_level", "last_interaction", "key_themes", "analysis"],
            "properties": {
                "engagement_level": {"enum": ["high", "medium", "low", "none"]},
                "last_interaction": {"type": "string"},
                "key_themes": {"type": "array", "items": {"type": "string"}},
                "analysis": {"type": "string"},
            },
        },
        "actions": {"type": "array", "items": ACTION_SCHEMA, "minItems": 1, "maxItems": 8},
    },
}

EXPAND_SYSTEM = """You turn one outlined sales action into full, ready-to-send content for the rep.
Email: subject and body. Phone: opening, discovery questions, close. LinkedIn or WhatsApp: one
message (WhatsApp brief and casual). Follow the team learnings. Use only the facts given."""

EXPAND_PROMPT = """Action: {action}
Deal data: {deal}
Deal summary: {summary}
Team learnings for this channel: {learnings}
Rep: {sender}
Write the full content."""

EXPAND_SCHEMA = _CONTENT

LEARNING_SYSTEM = """You turn a sales rep's feedback on a recommended action into ONE actionable,
general learning for future recommendations (at most 20 words, imperative, e.g. "Keep cold
outreach emails under 150 words"), and name the section it belongs in. If the feedback holds
nothing actionable, set actionable to false."""

LEARNING_PROMPT = """Feedback type: {type}
Action: {priority} {channel}
Feedback: {text}
What worked: {worked}
What did not work: {didnt_work}
Suggested improvement: {improvement}
Current learnings in that section: {existing}"""

LEARNING_SCHEMA = {
    "type": "object",
    "required": ["actionable", "learning", "section"],
    "properties": {
        "actionable": {"type": "boolean"},
        "learning": {"type": "string", "maxLength": 200},
        "section": {"enum": ["email", "phone", "linkedin", "whatsapp", "general"]},
    },
}
