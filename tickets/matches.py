"""Keeping AlertMatch (the matches of watched topic-alert terms, with score and list columns) in step.

A term becomes watched when an alert using it is saved: the WatchedTerm row and every matching
ticket's AlertMatch row are written in the same transaction, so a committed term is complete. From
then on:

- a ticket's keywords are refreshed (new customer text): `sync_ticket` rewrites its match rows;
- a service changes a ticket's score, status, channel, assignee or team: it calls `copy_columns`;
- a set-based rescore (weights change, aging, customer inputs): `sync_scores`, one UPDATE over the
  active match rows whose score differs;
- the beat pass (`reconcile`): terms no alert uses are marked unused and dropped after
  UNWATCH_GRACE (longer than the inbox's cache of the watched set, so a page never reads a
  dropped term), missing or orphan rows from racing transactions are repaired, every copy re-synced.

The inbox reads AlertMatch only when every term of the alert is watched (tickets/cache.py keeps the
set); other terms (an ad-hoc `topic_alerts` on the API) use the general TicketKeyword path.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from crm.models import Team
from tickets.models import AlertMatch, Ticket, TicketKeyword, TopicAlert, WatchedTerm

UNWATCH_GRACE = timedelta(minutes=10)
# The inbox's cached copy of the watched set lives this long: below UNWATCH_GRACE, so a dropped
# term has left every cached copy before its match rows go.
WATCHED_TTL = 60
WATCHED_KEY = "tickets:watched"


def cached_watched_terms() -> frozenset[str]:
    """The watched set as the inbox reads it (cached WATCHED_TTL seconds)."""
    value = cache.get(WATCHED_KEY)
    if value is None:
        value = frozenset(watched_terms())
        cache.set(WATCHED_KEY, value, WATCHED_TTL)
    return value


def forget_watched_terms() -> None:
    cache.delete(WATCHED_KEY)


def copy_columns(ticket: Ticket) -> int:
    """After a service changed a ticket's copied columns: refresh them on its match rows."""
    return AlertMatch.objects.filter(ticket_id=ticket.pk).update(
        **{f: getattr(ticket, f) for f in Ticket.ALERT_MATCH_COPIED}
    )


def _insert_matches(terms: list[str] | None = None) -> int:
    """INSERT ... SELECT the AlertMatch rows of watched terms (or just `terms`) that are missing."""
    m, k, t, w, team = (x._meta.db_table for x in (AlertMatch, TicketKeyword, Ticket, WatchedTerm, Team))
    if terms is not None:
        if not terms:
            return 0
        which, params = f"k.keyword IN ({', '.join(['%s'] * len(terms))})", list(terms)
    else:
        which, params = f"k.keyword IN (SELECT keyword FROM {w})", []  # noqa: S608 (table names from _meta)
    # Table names come from the models' _meta; every value is a parameter.
    sql = (
        f"INSERT INTO {m} (ticket_id, keyword, team_id, status, channel, assignee_id, score) "  # noqa: S608
        f"SELECT k.ticket_id, k.keyword, t.team_id, t.status, t.channel, t.assignee_id, t.score "
        # Through the teams: one seek of the (team, keyword, ticket) index per team and term, where
        # a bare keyword condition would read the whole keyword table.
        f"FROM {team} tm JOIN {k} k ON k.team_id = tm.id JOIN {t} t ON t.id = k.ticket_id WHERE {which} "
        f"AND NOT EXISTS (SELECT 1 FROM {m} x WHERE x.ticket_id = k.ticket_id AND x.keyword = k.keyword) "
        f"ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return max(cur.rowcount, 0)


@transaction.atomic
def watch_terms(terms: list[str]) -> list[str]:
    """Make `terms` watched (complete AlertMatch rows) in the caller's transaction. Returns the new ones."""
    terms = sorted(set(terms))
    known = set(WatchedTerm.objects.filter(keyword__in=terms).values_list("keyword", flat=True))
    if known:
        WatchedTerm.objects.filter(keyword__in=known, unused_since__isnull=False).update(unused_since=None)
    new = [t for t in terms if t not in known]
    if new:
        WatchedTerm.objects.bulk_create([WatchedTerm(keyword=t) for t in new], ignore_conflicts=True)
        _insert_matches(new)
        transaction.on_commit(forget_watched_terms)
    return new


def sync_ticket(ticket: Ticket, words: list[str]) -> None:
    """After a ticket's keywords changed: its AlertMatch rows are exactly its watched keywords."""
    watched = list(WatchedTerm.objects.filter(keyword__in=words).values_list("keyword", flat=True)) if words else []
    AlertMatch.objects.filter(ticket_id=ticket.pk).exclude(keyword__in=watched).delete()
    if watched:
        copies = {f: getattr(ticket, f) for f in Ticket.ALERT_MATCH_COPIED}
        AlertMatch.objects.bulk_create(
            [AlertMatch(ticket_id=ticket.pk, keyword=w, **copies) for w in watched], ignore_conflicts=True
        )
        AlertMatch.objects.filter(ticket_id=ticket.pk).update(**copies)


def _ticket_value(field: str):
    return Subquery(Ticket.objects.filter(pk=OuterRef("ticket_id")).values(field)[:1])


def sync_scores() -> int:
    """After a set-based rescore: copy the new score onto active match rows whose score differs."""
    differs = Ticket.objects.filter(pk=OuterRef("ticket_id")).exclude(score=OuterRef("score"))
    return (
        AlertMatch.objects.filter(status__in=Ticket.ACTIVE_STATUSES)
        .filter(Exists(differs))
        .update(score=_ticket_value("score"))
    )


def sync_all() -> int:
    """Every copied column of every match row, where any differs (the beat pass's safety net)."""
    differs = (
        Ticket.objects.filter(pk=OuterRef("ticket_id"))
        .annotate(who=Coalesce("assignee_id", 0))
        .exclude(
            team_id=OuterRef("team_id"),
            status=OuterRef("status"),
            channel=OuterRef("channel"),
            score=OuterRef("score"),
            who=Coalesce(OuterRef("assignee_id"), 0),
        )
    )
    return AlertMatch.objects.filter(Exists(differs)).update(**{f: _ticket_value(f) for f in Ticket.ALERT_MATCH_COPIED})


def watched_terms() -> set[str]:
    return set(WatchedTerm.objects.values_list("keyword", flat=True))


@transaction.atomic
def reconcile(*, now=None) -> dict:
    """The beat pass: follow the active alerts, drop long-unused terms, repair and re-sync rows."""
    now = now or timezone.now()
    wanted: set[str] = set()
    for terms in TopicAlert.objects.active(now).values_list("terms", flat=True):
        wanted.update(terms or [])
    added = watch_terms(sorted(wanted)) if wanted else []
    WatchedTerm.objects.exclude(keyword__in=wanted).filter(unused_since__isnull=True).update(unused_since=now)
    gone = list(WatchedTerm.objects.filter(unused_since__lt=now - UNWATCH_GRACE).values_list("keyword", flat=True))
    if gone:
        AlertMatch.objects.filter(keyword__in=gone).delete()
        WatchedTerm.objects.filter(keyword__in=gone).delete()
        transaction.on_commit(forget_watched_terms)
    orphans = AlertMatch.objects.exclude(
        Exists(TicketKeyword.objects.filter(ticket_id=OuterRef("ticket_id"), keyword=OuterRef("keyword")))
    ).delete()[0]
    missing = _insert_matches()
    return {"watched": len(added), "dropped": len(gone), "orphans": orphans, "missing": missing, "synced": sync_all()}
