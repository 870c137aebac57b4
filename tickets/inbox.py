"""One inbox page in smart order, from stored scores, with topic alerts and keyset pagination.

Without a topic alert a page is one indexed query: (team, status, score, id) walked backwards from
the cursor. With an alert the order is score + boost for matching tickets, which no index holds, so
the page merges two indexed queries: matching tickets (ids and scores from the precomputed keyword
index and the covering ticket_match_idx, with the match count as a window count) and non-matching
ones (the score index, skipping matches, with display columns); then one primary-key lookup fetches
the display columns of the matching tickets that made the page. The first 50 of the merge are
exactly the first 50 of the boosted order, because each list is already in boosted order and the
lists are disjoint. No OFFSET and no COUNT over the whole table: page 200 costs what page 1 does.

The usual case, one team and an alert whose terms are all watched (AlertMatch), runs as ONE
statement (`_watched_page`): the same two lists merged and cut inside the database, joined to the
display columns, with the match count as a scalar subquery; one round trip and one planning, and
on PostgreSQL a prepared statement whose plan is reused (`_prepared_statement`).
"""

from __future__ import annotations

import base64
import json
import math
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.db.models import Case, Count, Exists, F, FloatField, OuterRef, Q, Subquery, Value, When, Window
from django.db.models.expressions import RawSQL

from crm import visibility as crm_visibility
from crm.models import Membership, is_admin
from tickets import cache
from tickets.models import AlertMatch, Ticket, TicketKeyword


class BadCursor(ValueError):
    pass


def encode_cursor(eff: float, pk: int, matches: int = 0, page: int = 2) -> str:
    """`page` is the number of the page the cursor leads to (shown as pagination.page)."""
    values = [repr(float(eff)), int(pk), int(matches), int(page)]
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def decode_cursor(cursor: str | None) -> tuple[float, int, int, int] | None:
    """(effective score, id, topic-alert match count as of the first page, page number)."""
    if not cursor:
        return None
    try:
        eff, pk, matches, *rest = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        value = float(eff)
        if not math.isfinite(value) or len(rest) > 1:
            raise ValueError(eff)
        page = int(rest[0]) if rest else 2  # cursors from before the page number lead to "page 2"
        return value, int(pk), max(0, int(matches)), max(2, page)
    except (ValueError, TypeError, UnicodeError) as exc:
        raise BadCursor("This page link is no longer valid: start from the first page.") from exc


@dataclass
class InboxPage:
    tickets: list[Ticket]
    next_cursor: str | None
    terms: list[str]
    matches: int
    limit: int
    cursor: str | None = None
    filters: dict = field(default_factory=dict)

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    @property
    def has_prev(self) -> bool:
        return bool(self.cursor)

    @property
    def number(self) -> int:
        """1 for the first page; later pages carry their number in the cursor."""
        after = decode_cursor(self.cursor)
        return after[3] if after else 1


# The columns the list shows. Narrow rows matter: with every column of the ticket, account, contact
# and assignee the page spent 3 ms planning and 7 ms moving rows; with these, under 1 ms each.
LIST_FIELDS = (
    "id",
    "subject",
    "status",
    "priority",
    "channel",
    "score",
    "team_id",
    "account_id",
    "contact_id",
    "assignee_id",
    "created_at",
    "waiting_since",
    "sla_due_at",
    "sla_breached",
    "response_target_s",
    "escalated_at",
    "needs_review",
    "category",
    "customer_vip",
    "customer_ltv",
    "customer_churn",
    "account__name",
    "assignee__username",
)


def page(
    user,
    *,
    status: str = "open",
    channel: str = "",
    team_id: int | None = None,
    assignee: str | int | None = None,
    terms: list[str] | None = None,
    boost: float | dict = 5.0,
    limit: int = 50,
    cursor: str | None = None,
) -> InboxPage:
    """`boost` is the topic-alert boost: one value, or {team id: boost, None: the default's} when
    teams have their own scoring weights. Raises BadCursor for a cursor that does not decode."""
    after = decode_cursor(cursor)
    terms = list(terms or [])
    base = (
        Ticket.objects.visible_to(user)
        .select_related("account", "assignee")
        .only(*LIST_FIELDS)
        .filter(**_plain_filters(user, status, channel, team_id, assignee))
    )
    filters = {"status": status, "channel": channel, "team": team_id, "assignee": assignee}
    # Each walk of the (team, status, score, id) index covers one team; a view over several teams
    # merges one walk per team (UNION ALL on PostgreSQL) instead of keeping a global score index.
    teams = [team_id] if team_id else visible_team_ids(user)
    candidates: list[tuple[float, int, Ticket | None, bool]] = []
    matches = 0
    boost_expr = boost_sql(boost, teams)

    if terms and len(teams) == 1 and set(terms) <= cache.watched_terms():
        # Watched terms, one team: the whole page is one statement (see _watched_page).
        rows, matches = _watched_page(user, base, terms, boost_of(boost, teams[0]), limit, after, filters, teams[0])
        return _finish(rows, limit, terms, matches, cursor, filters)
    if terms and set(terms) <= cache.watched_terms():
        # Watched terms (some agent's saved alert uses them): matches, their scores and the count
        # come from one index-only range of AlertMatch, whatever the number of matches.
        a_rows = _watched_matches(user, terms, boost_expr, limit, after, status, channel, team_id, assignee)
        matches = a_rows[0][2] if a_rows else (after[2] if after else 0)
        candidates += [(eff, pk, None, True) for pk, eff, _ in a_rows]
        rest = base.filter(~Exists(AlertMatch.objects.filter(ticket_id=OuterRef("pk"), keyword__in=terms)))
    elif terms:
        keywords = TicketKeyword.objects.filter(keyword__in=terms)
        if team_id:
            keywords = keywords.filter(team_id=team_id)
        if not is_admin(user):
            keywords = keywords.filter(team_id__in=Membership.objects.filter(user=user).values("team_id"))
        # Matching tickets: (id, score) only, so PostgreSQL answers from the keyword index and the
        # covering ticket_match_idx without touching table rows. The match count rides along as a
        # window count on the first page and travels in the cursor after that.
        matching = (
            Ticket.objects.visible_to(user)
            .filter(pk__in=keywords.values("ticket_id"))
            .filter(**_plain_filters(user, status, channel, team_id, assignee))
            .annotate(eff=F("score") + boost_expr)
        )
        if after:
            a = matching.boosted_after(after[0], after[1]).annotate(match_count=Value(after[2]))
        else:
            a = matching.annotate(match_count=Window(Count("pk")))
        a_rows = list(a.order_by("-eff", "-pk").values_list("pk", "eff", "match_count")[: limit + 1])
        matches = a_rows[0][2] if a_rows else (after[2] if after else 0)
        candidates += [(eff, pk, None, True) for pk, eff, _ in a_rows]
        rest = base.filter(~Exists(TicketKeyword.objects.filter(ticket_id=OuterRef("pk"), keyword__in=terms)))
    else:
        rest = base
    rest = rest.smart_order()
    if after:
        rest = rest.after(after[0], after[1])
    if len(teams) == 1 and not terms:
        # One team, no alert: a single index walk that also brings the display columns.
        candidates += [(t.score, t.pk, t, False) for t in rest.filter(team_id=teams[0])[: limit + 1]]
    elif len(teams) == 1:
        # With an alert the display columns are fetched once for the whole page (below), so this
        # walk stays narrow: ids and scores from the index, cheap to plan and to run.
        walk = rest.filter(team_id=teams[0]).values_list("score", "pk")[: limit + 1]
        candidates += [(score, pk, None, False) for score, pk in walk]
    elif teams:
        candidates += [(score, pk, None, False) for score, pk in _merged_walks(rest, teams, limit + 1)]
    candidates.sort(key=lambda c: (c[0], c[1]), reverse=True)
    shown = candidates[: limit + 1]
    wanted = [pk for _, pk, t, _ in shown if t is None]
    # Display columns for rows that came from id-only queries: one lookup by primary key.
    fetched = {t.pk: t for t in base.filter(pk__in=wanted)} if wanted else {}
    rows = []
    for eff, pk, t, matched in shown:
        t = t or fetched.get(pk)
        if t is None:  # closed between the queries
            continue
        t.eff, t.matches_alert = eff, matched
        rows.append(t)
    return _finish(rows, limit, terms, matches, cursor, filters)


def _watched_page(user, base, terms, boost, limit, after, filters, team) -> tuple[list[Ticket], int]:
    """The page of a watched alert over one team in ONE statement: (rows in boosted order, count).

    The two narrow lists the general path runs as separate queries (the matches' ids and boosted
    scores from AlertMatch, the non-matching walk of the team's score index) become a `UNION ALL`
    sorted and cut to limit + 1 ids inside the statement; the outer query fetches those tickets'
    display columns, each one's AlertMatch score (one probe of the (ticket, keyword) index; none for
    a non-matching ticket), and on the first page the exact match count as an uncorrelated scalar
    subquery over the same AlertMatch range (evaluated once). One round trip and one planning
    instead of three; the order, the boosted scores and the count are those of the three queries.
    """
    status, channel, assignee = filters["status"], filters["channel"], filters["assignee"]
    n = limit + 1
    boost_expr = Value(float(boost), output_field=FloatField())
    grouped = _watched_grouped(user, terms, boost_expr, after, status, channel, filters["team"], assignee)
    walk = base.filter(~Exists(AlertMatch.objects.filter(ticket_id=OuterRef("pk"), keyword__in=terms)))
    walk = walk.smart_order()
    if after:
        walk = walk.after(after[0], after[1])
    a_sql, a_params = grouped.values_list("ticket_id", "eff")[:n].query.sql_with_params()
    w_sql, w_params = walk.filter(team_id=team).values_list("pk", "score")[:n].query.sql_with_params()
    # Positional ORDER BY: the compound's column names are the first part's. Each part keeps its
    # own ORDER BY ... LIMIT (an index range each); the union of at most 2n rows is cut to n.
    # Every value is a parameter; the SQL text comes from the two querysets' compilers.
    ids = RawSQL(  # noqa: S611
        f"SELECT page.ticket_id FROM (SELECT a.* FROM ({a_sql}) a UNION ALL "  # noqa: S608
        f"SELECT w.* FROM ({w_sql}) w ORDER BY 2 DESC, 1 DESC LIMIT {int(n)}) page",
        (*a_params, *w_params),
    )
    am = AlertMatch.objects.filter(ticket_id=OuterRef("pk"), keyword__in=terms).values("score")[:1]
    qs = base.filter(pk__in=ids).annotate(am_score=Subquery(am, output_field=FloatField()))
    if not after:
        c_sql, c_params = grouped.order_by().values("ticket_id").query.sql_with_params()
        count = f"SELECT COUNT(*) FROM ({c_sql}) c"  # noqa: S608
        qs = qs.annotate(match_count=RawSQL(count, c_params))  # noqa: S611
    rows, matches = [], after[2] if after else 0
    with _prepared_statement():
        fetched = list(qs)
    for t in fetched:
        matched = t.am_score is not None
        # The boost is added in SQL for the cursor's comparison; Python's float addition of the
        # same two doubles gives the same value.
        t.eff, t.matches_alert = (t.am_score + float(boost) if matched else t.score), matched
        if not after:
            matches = t.match_count
        rows.append(t)
    rows.sort(key=lambda t: (t.eff, t.pk), reverse=True)
    return rows, matches


@contextmanager
def _prepared_statement():
    """On PostgreSQL, run the query inside as a prepared statement: bound on the server, prepared
    by psycopg the second time the same statement runs on a connection, after which PostgreSQL
    reuses its plan instead of planning it again. For the watched page planning is about half of
    the statement's server time (0.7-1.3 ms of 1.3-2.5 ms), and its plan is index ranges and
    probes whatever the values, so the reused (generic) plan is as fast as a fresh one. Not for
    the general keyword path: there PostgreSQL's reused plan measured slower than planning afresh
    (p50 7.0 against 4.5 ms on the benchmark data). Django keeps prepared statements off
    (`prepare_threshold` None) and binds on the client; both are changed only for the statements
    run here, with Django told so (its query log then shows them with their values, as it does
    under its own `server_side_binding` option). `TICKETS_INBOX_PREPARED=0` turns it off (for a
    pooler that cannot keep prepared statements)."""
    if connection.vendor != "postgresql" or not settings.TICKETS_INBOX_PREPARED:
        yield
        return
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    pg, features = connection.connection, connection.features
    default = pg.cursor_factory, pg.prepare_threshold, features.uses_server_side_binding
    pg.cursor_factory, pg.prepare_threshold, features.uses_server_side_binding = ServerBindingCursor, 1, True
    try:
        yield
    finally:
        pg.cursor_factory, pg.prepare_threshold, features.uses_server_side_binding = default


def _watched_grouped(user, terms, boost_expr, after, status, channel, team_id, assignee):
    """AlertMatch grouped by ticket with its boosted score, filtered and after the cursor."""
    rows = AlertMatch.objects.filter(keyword__in=terms, **_plain_filters(user, status, channel, team_id, assignee))
    if not is_admin(user):
        rows = rows.filter(team_id__in=Membership.objects.filter(user=user).values("team_id"))
    eff = F("score") + boost_expr
    if after:
        rows = rows.alias(e=eff).filter(Q(e__lt=after[0]) | Q(e=after[0], ticket_id__lt=after[1]))
    # Count() makes a ticket with several matching keywords one group.
    return rows.values("ticket_id", "score").annotate(eff=eff, n=Count("pk")).order_by("-eff", "-ticket_id")


def _watched_matches(user, terms, boost_expr, limit, after, status, channel, team_id, assignee):
    """[(ticket id, score + boost, match count)] of the next limit + 1 matches, from AlertMatch.

    Its rows copy the ticket's team, status, channel, assignee and score, so the filters, the order
    and the count are answered by the (team, status, keyword, score, ticket) index alone. On later
    pages the count travels in the cursor. (Several teams; one team takes `_watched_page`.)
    """
    grouped = _watched_grouped(user, terms, boost_expr, after, status, channel, team_id, assignee)
    if after:
        return [(pk, e, after[2]) for pk, e in grouped.values_list("ticket_id", "eff")[: limit + 1]]
    grouped = grouped.annotate(match_count=Window(Count("*")))
    return list(grouped.values_list("ticket_id", "eff", "match_count")[: limit + 1])


def boost_of(boost: float | dict, team_id: int | None) -> float:
    """One team's topic-alert boost from a single value or a {team id: boost, None: default} map."""
    if isinstance(boost, dict):
        return float(boost.get(team_id, boost[None]))
    return float(boost)


def boost_sql(boost: float | dict, teams: list[int]):
    """The boost as SQL over rows with a `team_id`: one value when every team shown shares it (the
    usual case), else a CASE on the team (teams with their own scoring weights)."""
    default = boost_of(boost, None)
    own = {t: boost_of(boost, t) for t in teams}
    if len(set(own.values())) <= 1:
        return Value(next(iter(own.values()), default), output_field=FloatField())
    whens = [When(team_id=t, then=Value(v)) for t, v in own.items() if v != default]
    return Case(*whens, default=Value(default), output_field=FloatField())


def visible_team_ids(user) -> list[int]:
    from tickets import cache

    team_ids = crm_visibility.visible_team_ids(user)
    # Admins see every team; the per-team index walks need their ids, which the cache holds.
    return sorted(team_ids) if team_ids is not None else [pk for pk, _ in cache.visible_teams(user)]


def _merged_walks(qs, teams: list[int], n: int) -> list[tuple[float, int]]:
    """Top n (score, id) over several teams: one index walk per team, merged by the database."""
    parts = [qs.filter(team_id=t).values_list("score", "pk")[:n] for t in teams]
    if connection.vendor != "postgresql" or len(parts) == 1:
        # SQLite cannot LIMIT inside a compound SELECT; its databases are small, so one query does.
        return list(qs.filter(team_id__in=teams).values_list("score", "pk")[:n])
    return list(parts[0].union(*parts[1:], all=True).order_by("-score", "-id")[:n])


def _plain_filters(user, status, channel, team_id, assignee) -> dict:
    out = {}
    if status:
        out["status"] = status
    if channel:
        out["channel"] = channel
    if team_id:
        out["team_id"] = team_id
    if assignee == "me":
        out["assignee"] = user
    elif assignee == "none":
        out["assignee__isnull"] = True
    elif assignee:
        out["assignee_id"] = int(assignee)
    return out


def _finish(rows, limit, terms, matches, cursor, filters) -> InboxPage:
    shown = rows[:limit]
    page = InboxPage(shown, None, terms, matches, limit, cursor, filters)
    if len(rows) > limit and shown:
        page.next_cursor = encode_cursor(shown[-1].eff, shown[-1].pk, matches, page.number + 1)
    return page


def seed_page(user, *, status="open", team_id=None, terms=None, weights=None, limit=50, now=None):
    """The seed's approach, kept for the benchmark: load every ticket, score in Python, sort, slice."""
    from django.utils import timezone

    from tickets import rules, scoring

    now = now or timezone.now()
    weights = weights or scoring.Weights()
    qs = Ticket.objects.visible_to(user).filter(status=status)
    if team_id:
        qs = qs.filter(team_id=team_id)
    scored = []
    wanted = set(terms or [])
    for t in qs.select_related("account").prefetch_related("messages"):
        text = t.subject + " " + " ".join(m.body for m in t.messages.all() if m.direction == "in")
        match = bool(wanted & set(rules.keywords(text)))
        s = scoring.score(t.score_inputs(now=now, matches_topic_alert=match), weights)
        scored.append((s.total, t.pk, t))
    scored.sort(key=lambda x: (x[0], x[1]), reverse=True)
    return [t for _, _, t in scored[:limit]]
