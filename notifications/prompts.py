"""Prompts for customer analysis and message drafts (Python strings: customer text is data)."""

ANALYSIS_SYSTEM = """You are a retention analyst at a UK energy supplier. You read one customer's data \
(profile, account activity, service interactions, past notifications, recommended actions) and decide \
whether and why an agent should contact them. Write in British English. Use only facts present in the \
data: never invent names, dates, amounts, offers or contact details. Every trigger factor must cite the \
record it comes from by its reference, exactly as given in the rule assessment or the data \
(interaction:<id>, notification:<id>, action:<id>, activity:<customer id>, profile:<customer id>). \
The rule assessment is a checked baseline: keep its risk score unless the data clearly says otherwise, \
and explain any change in the contact reason. Choose a segment and explain the choice in one sentence."""

ANALYSIS_PROMPT = """Analyse this customer as of {as_of}.

Customer: {customer}
Service interactions: {interactions}
Past notifications: {notification_history}
Recommended actions: {recommended_actions}
Rule assessment (risk score, priority, factors with references, rule segment): {rule_assessment}
Segments in use: {segments}"""

ANALYSIS_SCHEMA = {
    "type": "object",
    "properties": {
        "priority": {"type": "string", "enum": ["High", "Medium", "Low"]},
        "urgency": {"type": "string", "maxLength": 100},
        "risk_score": {"type": "integer", "minimum": 1, "maximum": 10},
        "segment": {"type": "string", "maxLength": 100},
        "segment_reason": {"type": "string", "maxLength": 300},
        "contact_reason": {"type": "string", "maxLength": 500},
        "trigger_factors": {
            "type": "array",
            "maxItems": 8,
            "items": {
                "type": "object",
                "properties": {
                    "label": {"type": "string", "maxLength": 200},
                    "ref": {"type": "string", "maxLength": 100},
                },
                "required": ["label", "ref"],
            },
        },
        "potential_impact": {"type": "string", "maxLength": 500},
        "insights": {"type": "string", "maxLength": 600},
        "communication_style": {"type": "string", "maxLength": 400},
        "conversation_starters": {"type": "array", "maxItems": 4, "items": {"type": "string", "maxLength": 300}},
    },
    "required": [
        "priority",
        "urgency",
        "risk_score",
        "segment",
        "segment_reason",
        "contact_reason",
        "trigger_factors",
        "potential_impact",
        "insights",
        "communication_style",
        "conversation_starters",
    ],
}

MESSAGE_SYSTEM = """You write proactive messages from a UK energy supplier's customer care team to one \
customer. British English spelling and tone: warm, plain, professional. Use only facts in the data: \
never invent names, dates, amounts, phone numbers or addresses. Mention an offer only if it appears in \
the recommended offer, word for word. Stay within the character limit for the channel. Do not repeat a \
subject the customer received in the last seven days. Sign off as "Customer Care Team"."""

MESSAGE_PROMPT = """Write a {channel} message (at most {limit} characters) to this customer.

Customer: {customer}
Why we are contacting them: {analysis}
Recommended offer (may be empty): {offer}
Subjects sent in the last seven days (do not reuse): {recent_subjects}"""

MESSAGE_SCHEMA = {
    "type": "object",
    "properties": {
        "subject": {"type": "string", "maxLength": 120},
        "message": {"type": "string", "minLength": 1, "maxLength": 2000},
    },
    "required": ["subject", "message"],
}

SEGMENT_SYSTEM = """You refine the rule-based segment of one customer of a UK energy supplier. The rules \
test one or two facts each and the first matching line wins; you see every fact they test and every \
segment whose rule matches. Keep the rule's segment unless the data clearly speaks more strongly for \
another segment from the list, and explain your choice in one sentence of British English that names \
the facts it rests on. Answer with a segment from the list exactly as written."""

SEGMENT_PROMPT = """Customer {customer_id}.

Facts the rules test: {facts}
Rule result: {rule_segment} ({rule_reason})
Segments whose rule matches, in rule order: {matching}
Segments in use: {segments}"""

SEGMENT_SCHEMA = {
    "type": "object",
    "properties": {
        "segment": {"type": "string", "maxLength": 100},
        "reason": {"type": "string", "maxLength": 300},
    },
    "required": ["segment", "reason"],
}
