"""The support inbox: tickets and their messages, scores, topic alerts and drafts (sending: outbound).

One package, split by what each part holds; import from here (`from tickets.models import Ticket`).
"""

from tickets.models.conversation import Draft, EscalationNotice, InboundMessage, Message, TicketEvent
from tickets.models.keywords import AlertMatch, TicketKeyword, TopicAlert, WatchedTerm
from tickets.models.ticket import Channel, Difficulty, Priority, Ticket, WeightSet

__all__ = [
    "AlertMatch",
    "Channel",
    "Difficulty",
    "Draft",
    "EscalationNotice",
    "InboundMessage",
    "Message",
    "Priority",
    "Ticket",
    "TicketEvent",
    "TicketKeyword",
    "TopicAlert",
    "WatchedTerm",
    "WeightSet",
]
