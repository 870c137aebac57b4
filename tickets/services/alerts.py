"""Topic alerts: a ticket's keywords and an agent's saved alert terms."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from crm.errors import ServiceError
from tickets import cache, matches, rules
from tickets.models import (
    Message,
    Ticket,
    TicketKeyword,
    TopicAlert,
)

log = logging.getLogger(__name__)


def refresh_keywords(*, ticket: Ticket) -> int:
    """Recompute the ticket's topic-alert keywords from its subject and the customer's messages."""
    texts = [
        ticket.subject,
        *ticket.messages.filter(direction=Message.Direction.INBOUND).values_list("body", flat=True),
    ]
    words = rules.keywords("\n".join(texts))
    TicketKeyword.objects.filter(ticket=ticket).delete()
    TicketKeyword.objects.bulk_create([TicketKeyword(ticket=ticket, team_id=ticket.team_id, keyword=w) for w in words])
    matches.sync_ticket(ticket, words)
    return len(words)


@transaction.atomic
def set_topic_alert(*, user, text: str, expires_at: datetime | None = None) -> TopicAlert:
    parsed = rules.parse_alert_terms(text)
    if not parsed.terms:
        raise ServiceError("Give at least one keyword (one or two words each, comma-separated).", field="text")
    if parsed.rejected:
        raise ServiceError(
            f"Not usable as keywords: {', '.join(parsed.rejected)} (one or two words, not stopwords).", field="text"
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise ServiceError("The expiry must be in the future.", field="expires_at")
    TopicAlert.objects.filter(user=user, cleared_at__isnull=True).update(cleared_at=timezone.now())
    alert = TopicAlert.objects.create(user=user, text=text[:500], terms=parsed.terms, expires_at=expires_at)
    matches.watch_terms(parsed.terms)  # its matches are kept with their scores from now on
    transaction.on_commit(lambda: cache.forget_alert(user))
    cache.forget_alert(user)
    return alert


def clear_topic_alert(*, user) -> int:
    n = TopicAlert.objects.filter(user=user, cleared_at__isnull=True).update(cleared_at=timezone.now())
    cache.forget_alert(user)
    return n


def active_alert_terms(*, user) -> list[str]:
    alert = cache.active_alert(user)
    return list(alert["terms"]) if alert else []
