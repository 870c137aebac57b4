"""Topic-alert support: a ticket's keywords, the watched terms, their precomputed matches, alerts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from crm.models import Team
from tickets import rules
from tickets.models.ticket import Ticket

User = settings.AUTH_USER_MODEL


class TicketKeyword(models.Model):
    """Precomputed words and adjacent word pairs of a ticket's customer text, for topic alerts.

    The team is copied here so "matching tickets in team X" is one index range, not a scan.
    """

    # Lookups by ticket use the unique (ticket, keyword) index; by team, the (team, keyword, ticket) one.
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="keywords", db_index=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+", db_index=False)
    keyword = models.CharField(max_length=rules.MAX_KEYWORD_LENGTH)

    class Meta:
        indexes = [models.Index(fields=["team", "keyword", "ticket"], name="ticket_keyword_team_idx")]
        constraints = [models.UniqueConstraint(fields=["ticket", "keyword"], name="ticket_keyword_unique")]

    def __str__(self) -> str:
        return self.keyword


class WatchedTerm(models.Model):
    """A topic-alert term that an active alert uses (or used until `unused_since`).

    While this row exists, AlertMatch holds every ticket with the keyword: the row and the matches
    are written in one transaction (tickets/matches.py), so a committed term is a complete one.
    """

    keyword = models.CharField(max_length=rules.MAX_KEYWORD_LENGTH, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    unused_since = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.keyword


class AlertMatch(models.Model):
    """A ticket that has a watched keyword, with the ticket's list columns copied beside it.

    The first page of an alerted inbox needs the match count and the best-scored matches; read
    through TicketKeyword that is one ticket lookup per match. Here it is one index-only range of
    (team, status, keyword) already carrying each match's score. The copies are refreshed on every
    ticket save that touches them (Ticket.save), after every set-based rescore, and reconciled by
    the beat pass; only watched terms are kept, so this table stays small.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+", db_index=False)
    keyword = models.CharField(max_length=rules.MAX_KEYWORD_LENGTH)
    # Copies of the ticket's columns the inbox filters and orders by (Ticket.ALERT_MATCH_COPIED).
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+", db_index=False)
    status = models.CharField(max_length=10)
    channel = models.CharField(max_length=10)
    assignee = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    score = models.FloatField()

    class Meta:
        indexes = [
            models.Index(
                fields=["team", "status", "keyword", "score", "ticket"],
                include=["channel", "assignee"],
                name="alert_match_page_idx",
            )
        ]
        constraints = [models.UniqueConstraint(fields=["ticket", "keyword"], name="alert_match_unique")]

    def __str__(self) -> str:
        return f"{self.keyword} #{self.ticket_id}"


class TopicAlertQuerySet(models.QuerySet):
    def active(self, now=None):
        now = now or timezone.now()
        return self.filter(cleared_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


class TopicAlert(models.Model):
    """An agent's saved keyword list: matching tickets get the topic alert boost in their inbox."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="topic_alerts")
    text = models.CharField(max_length=500)
    terms = models.JSONField(default=list)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    cleared_at = models.DateTimeField(null=True, blank=True)

    objects = TopicAlertQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(cleared_at__isnull=True), name="topic_alert_one_active"
            )
        ]

    def __str__(self) -> str:
        return ", ".join(self.terms)
