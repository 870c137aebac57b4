"""AlertMatch: the matches of watched topic-alert terms, with their scores, kept in step with tickets."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tickets import cache, inbox, matches, services
from tickets.models import AlertMatch, Ticket, TicketKeyword, TopicAlert, WatchedTerm

TERMS = ["chargeback", "fraud"]


def rows(ticket):
    """{keyword: (status, channel, assignee_id, score)} of a ticket's match rows."""
    return {m.keyword: (m.status, m.channel, m.assignee_id, m.score) for m in AlertMatch.objects.filter(ticket=ticket)}


def copies(ticket):
    ticket.refresh_from_db()
    return (ticket.status, ticket.channel, ticket.assignee_id, ticket.score)


def test_saving_an_alert_copies_existing_matches_with_their_scores(make_ticket, agent):
    fraud = make_ticket("Unauthorized charge, I will file a chargeback for fraud")
    make_ticket("Where is my parcel")
    services.set_topic_alert(user=agent, text="chargeback, fraud")
    assert set(WatchedTerm.objects.values_list("keyword", flat=True)) == set(TERMS)
    assert rows(fraud) == {k: copies(fraud) for k in TERMS}
    assert AlertMatch.objects.count() == 2


def test_watched_page_reads_the_match_table_not_the_keywords(make_ticket, agent):
    make_ticket("chargeback please")
    services.set_topic_alert(user=agent, text="chargeback")
    cache.watched_terms()
    with CaptureQueriesContext(connection) as ctx:
        page = inbox.page(agent, terms=["chargeback"])
    sql = " ".join(q["sql"] for q in ctx.captured_queries)
    assert page.matches == 1 and page.tickets[0].matches_alert
    assert "tickets_alertmatch" in sql and "tickets_ticketkeyword" not in sql
    with CaptureQueriesContext(connection) as ctx:
        page = inbox.page(agent, terms=["chargeback", "unwatched"])
    sql = " ".join(q["sql"] for q in ctx.captured_queries)
    assert page.matches == 1 and "tickets_ticketkeyword" in sql and "tickets_alertmatch" not in sql


@pytest.mark.parametrize(
    "filters",
    [{}, {"status": "pending"}, {"channel": "sms"}, {"assignee": "me"}, {"assignee": "none"}, {"status": ""}],
)
def test_watched_and_keyword_paths_give_the_same_pages(make_ticket, agent, filters):
    for i in range(14):
        t = make_ticket(
            f"{['chargeback', 'fraud', 'chargeback fraud', 'hello'][i % 4]} case {i}",
            channel=["email", "sms"][i % 2],
            priority=["low", "high", "normal", "urgent"][i % 4],
            assignee=agent if i % 3 else None,
        )
        if i % 5 == 0:
            services.update_ticket(actor=agent, ticket=t, changes={"status": "pending"})
    services.set_topic_alert(user=agent, text="chargeback, fraud")

    def walk(**kw):
        out, cursor, counts = [], None, set()
        while True:
            p = inbox.page(agent, terms=TERMS, boost=5.0, limit=3, cursor=cursor, **filters, **kw)
            out += [(t.pk, t.eff, t.matches_alert) for t in p.tickets]
            counts.add(p.matches)
            if not p.next_cursor:
                return out, counts
            cursor = p.next_cursor

    fast = walk()
    WatchedTerm.objects.all().delete()
    AlertMatch.objects.all().delete()
    cache.forget_watched_terms()
    slow = walk()
    assert fast == slow
    assert len(fast[1]) == 1  # the count stays the same on every page


def test_new_ticket_and_new_customer_text_update_the_count(make_ticket, agent):
    services.set_topic_alert(user=agent, text="chargeback, fraud")
    assert inbox.page(agent, terms=TERMS).matches == 0
    first = make_ticket("A chargeback is coming")
    other = make_ticket("Where is my parcel")
    assert inbox.page(agent, terms=TERMS).matches == 1
    services.receive_customer_message(ticket=other, body="Also this looks like fraud")
    assert set(rows(other)) == {"fraud"}
    assert inbox.page(agent, terms=TERMS).matches == 2
    assert rows(first) == {"chargeback": copies(first)}


def test_status_score_and_assignee_changes_are_copied(make_ticket, agent):
    ticket = make_ticket("fraud on my card", priority="low")
    services.set_topic_alert(user=agent, text="fraud")
    services.update_ticket(actor=agent, ticket=ticket, changes={"priority": "urgent", "assignee": agent})
    assert rows(ticket) == {"fraud": copies(ticket)}
    assert ticket.assignee_id == agent.pk
    services.update_ticket(actor=agent, ticket=ticket, changes={"status": "resolved"})
    assert rows(ticket)["fraud"][0] == "resolved"
    assert inbox.page(agent, terms=["fraud"]).matches == 0
    assert inbox.page(agent, status="resolved", terms=["fraud"]).matches == 1


def test_set_based_rescore_copies_the_new_scores(make_ticket, agent):
    ticket = make_ticket("fraud again")
    services.set_topic_alert(user=agent, text="fraud")
    weights = services.current_weights()
    heavier = type(weights)(**{**weights.__dict__, "urgency": weights.urgency * 3, "version": weights.version})
    services.rescore_open_tickets(weights=heavier)
    assert rows(ticket) == {"fraud": copies(ticket)}
    assert inbox.page(agent, terms=["fraud"]).tickets[0].eff == pytest.approx(ticket.score + 5.0)


def test_cleared_or_expired_alert_terms_are_dropped_after_the_grace(make_ticket, agent, teammate):
    make_ticket("fraud and chargeback")
    services.set_topic_alert(user=agent, text="fraud, chargeback")
    services.set_topic_alert(user=teammate, text="fraud", expires_at=timezone.now() + timedelta(hours=1))
    services.clear_topic_alert(user=agent)
    now = timezone.now()
    matches.reconcile(now=now)
    assert WatchedTerm.objects.get(keyword="chargeback").unused_since == now  # kept during the grace
    assert WatchedTerm.objects.get(keyword="fraud").unused_since is None  # teammate still watches it
    later = now + matches.UNWATCH_GRACE + timedelta(seconds=1)
    matches.reconcile(now=later)
    assert list(WatchedTerm.objects.values_list("keyword", flat=True)) == ["fraud"]
    assert set(AlertMatch.objects.values_list("keyword", flat=True)) == {"fraud"}
    # the teammate's alert expires: "fraud" goes the same way
    expired = later + timedelta(hours=1)
    matches.reconcile(now=expired)
    matches.reconcile(now=expired + matches.UNWATCH_GRACE + timedelta(seconds=1))
    assert not WatchedTerm.objects.exists() and not AlertMatch.objects.exists()


def test_saving_again_during_the_grace_keeps_the_term(make_ticket, agent):
    make_ticket("fraud")
    services.set_topic_alert(user=agent, text="fraud")
    services.clear_topic_alert(user=agent)
    now = timezone.now()
    matches.reconcile(now=now)
    services.set_topic_alert(user=agent, text="fraud")
    assert WatchedTerm.objects.get(keyword="fraud").unused_since is None
    matches.reconcile(now=now + matches.UNWATCH_GRACE * 2)
    assert AlertMatch.objects.filter(keyword="fraud").count() == 1


def test_reconcile_repairs_missing_orphan_and_stale_rows_and_is_idempotent(make_ticket, agent):
    a = make_ticket("fraud one")
    b = make_ticket("fraud two")
    c = make_ticket("nothing here")
    services.set_topic_alert(user=agent, text="fraud")
    AlertMatch.objects.filter(ticket=a).delete()  # missed by a racing transaction
    AlertMatch.objects.create(ticket=c, keyword="fraud", team_id=c.team_id, status="open", channel="email", score=0)
    Ticket.objects.filter(pk=b.pk).update(score=42.0, assignee=agent)  # a path that skipped Ticket.save
    result = matches.reconcile()
    assert (result["missing"], result["orphans"], result["synced"]) == (1, 1, 1)
    assert rows(a) == {"fraud": copies(a)} and rows(b) == {"fraud": copies(b)} and rows(c) == {}
    again = matches.reconcile()
    assert (again["missing"], again["orphans"], again["synced"]) == (0, 0, 0)


def test_reconcile_watches_alerts_saved_before_the_match_table(make_ticket, agent):
    ticket = make_ticket("chargeback")
    TopicAlert.objects.create(user=agent, text="chargeback", terms=["chargeback"])
    assert not WatchedTerm.objects.exists()
    services.refresh_open_tickets()  # the beat pass
    assert rows(ticket) == {"chargeback": copies(ticket)}


def test_keyword_rows_and_match_rows_agree_after_messages(make_ticket, agent):
    services.set_topic_alert(user=agent, text="fraud, wrong address")
    t = make_ticket("hello")
    services.receive_customer_message(ticket=t, body="the wrong address and fraud")
    kws = set(
        TicketKeyword.objects.filter(ticket=t, keyword__in=["fraud", "wrong address"]).values_list("keyword", flat=True)
    )
    assert set(rows(t)) == kws == {"fraud", "wrong address"}


def test_outsider_gets_no_watched_matches(make_ticket, agent, outsider):
    make_ticket("fraud")
    services.set_topic_alert(user=agent, text="fraud")
    services.set_topic_alert(user=outsider, text="fraud")
    assert "fraud" in cache.watched_terms()
    page = inbox.page(outsider, terms=["fraud"])
    assert page.matches == 0 and page.tickets == []


def _prepared_statements(like="%") -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", [like])
        return cur.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
@pytest.mark.parametrize("enabled", [True, False])
def test_watched_page_runs_as_a_prepared_statement_on_postgresql(make_ticket, agent, settings, enabled):
    settings.TICKETS_INBOX_PREPARED = enabled
    make_ticket("chargeback please")
    services.set_topic_alert(user=agent, text="chargeback")
    cache.watched_terms()
    with connection.cursor() as cur:
        cur.execute("DEALLOCATE ALL")  # psycopg forgets its own list of prepared statements too
    pages = [inbox.page(agent, terms=["chargeback"]) for _ in range(3)]
    # Prepared on its second run; the same page, and the query log still shows the SQL with values.
    assert _prepared_statements("%tickets_alertmatch%") == (1 if enabled else 0)
    assert {(p.matches, tuple(t.pk for t in p.tickets)) for p in pages} == {(1, (pages[0].tickets[0].pk,))}
    with CaptureQueriesContext(connection) as ctx:
        inbox.page(agent, terms=["chargeback"])
    assert "'chargeback'" in ctx.captured_queries[-1]["sql"]
    # Everything else keeps Django's defaults: client-side binding, nothing prepared.
    assert connection.connection.prepare_threshold is None and not connection.features.uses_server_side_binding
    before = _prepared_statements()
    for _ in range(3):
        Ticket.objects.filter(subject__startswith="chargeback").count()
    assert _prepared_statements() == before
