"""Tickets on the account timeline (crm.timeline source)."""

from __future__ import annotations

from crm.timeline import TimelineEntry, older_than
from tickets.models import Ticket


def ticket_entries(account, before, limit):
    rows = (
        Ticket.objects.filter(account=account)
        .filter(older_than("created_at", before))
        .order_by("-created_at", "-pk")[:limit]
    )
    return [
        TimelineEntry(
            "ticket",
            t.pk,
            t.created_at,
            "Support ticket",
            f"#{t.pk} {t.subject}",
            "",
            {
                "channel": t.get_channel_display(),
                "status": t.get_status_display(),
                "priority": t.get_priority_display(),
                "score": f"{t.score:.1f}",
            },
            t.get_absolute_url(),
        )
        for t in rows
    ]
