"""Inbox workflows shared by the console, the API, integrations and Celery tasks, one module per
workflow (as Zulip's zerver/actions/). Keyword-only functions; those that write are atomic and
enqueue work after commit through `_base.enqueue` (tasks import services, never the reverse).

Callers import from here (`from tickets import services`); the modules say where each lives.
"""

from tickets.services._base import validate_choice
from tickets.services.alerts import active_alert_terms, clear_topic_alert, refresh_keywords, set_topic_alert
from tickets.services.arrival import (
    InboundOutcome,
    InboundRejected,
    create_ticket,
    receive_customer_message,
    receive_inbound,
)
from tickets.services.drafts import draft_context, generate_draft, request_draft
from tickets.services.followups import (
    flag_sla_breaches,
    refresh_open_tickets,
    resurface_follow_ups,
    set_follow_up,
    update_ticket,
)
from tickets.services.reading import SIMILAR_CANDIDATES, average_open_score, similar_tickets
from tickets.services.scores import (
    age_open_tickets,
    create_weight_set,
    current_weights,
    rescore_open_tickets,
    reset_team_weights,
    score_ticket,
    sync_customer_inputs,
    teams_managed_by,
    weights_for,
)
from tickets.services.sending import REPLY_SOURCE, on_reply_failed, on_reply_sent, send_reply, sent_by
from tickets.services.triage import (
    apply_triage,
    edit_triage,
    escalate,
    maybe_escalate,
    team_managers,
    triage_and_draft,
)

__all__ = [
    "REPLY_SOURCE",
    "SIMILAR_CANDIDATES",
    "InboundOutcome",
    "InboundRejected",
    "active_alert_terms",
    "age_open_tickets",
    "apply_triage",
    "average_open_score",
    "clear_topic_alert",
    "create_ticket",
    "create_weight_set",
    "current_weights",
    "draft_context",
    "edit_triage",
    "escalate",
    "flag_sla_breaches",
    "generate_draft",
    "maybe_escalate",
    "on_reply_failed",
    "on_reply_sent",
    "receive_customer_message",
    "receive_inbound",
    "refresh_keywords",
    "refresh_open_tickets",
    "request_draft",
    "rescore_open_tickets",
    "reset_team_weights",
    "resurface_follow_ups",
    "score_ticket",
    "send_reply",
    "sent_by",
    "set_follow_up",
    "set_topic_alert",
    "similar_tickets",
    "sync_customer_inputs",
    "team_managers",
    "teams_managed_by",
    "triage_and_draft",
    "update_ticket",
    "validate_choice",
    "weights_for",
]
