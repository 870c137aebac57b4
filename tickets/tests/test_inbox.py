import pytest
from django.urls import reverse

from crm.models import Account
from tickets import inbox, services
from tickets.models import Ticket


@pytest.fixture
def small_inbox(make_ticket, account, team):
    poor = Account.objects.create(team=team, name="Small Shop", lifetime_value=100, churn_risk=0.1)
    tickets = {
        "vip": make_ticket("My parcel is late", priority="urgent"),
        "fraud": make_ticket("I see an unauthorized charge, chargeback coming", acct=poor, priority="low"),
        "plain": make_ticket("Question about sizes", acct=poor, priority="low"),
        "other": make_ticket("Where is my order", acct=poor, priority="normal"),
    }
    return tickets


def test_inbox_is_in_stored_score_order(small_inbox, agent):
    page = inbox.page(agent)
    scores = [t.score for t in page.tickets]
    assert scores == sorted(scores, reverse=True)
    assert page.tickets[0].pk == small_inbox["vip"].pk
    assert page.matches == 0 and page.terms == []


def test_topic_alert_lifts_matching_tickets_by_the_boost(small_inbox, agent):
    plain = inbox.page(agent)
    alerted = inbox.page(agent, terms=["chargeback", "fraud"], boost=5.0)
    fraud = next(t for t in alerted.tickets if t.pk == small_inbox["fraud"].pk)
    before = next(t for t in plain.tickets if t.pk == small_inbox["fraud"].pk)
    assert fraud.matches_alert is True
    assert fraud.eff == pytest.approx(before.score + 5.0)
    assert [t.pk for t in alerted.tickets].index(fraud.pk) < [t.pk for t in plain.tickets].index(fraud.pk)
    assert alerted.matches == 1
    assert all(not t.matches_alert for t in alerted.tickets if t.pk != fraud.pk)


@pytest.mark.parametrize("terms", [[], ["order", "late"]])
def test_cursor_pages_walk_every_ticket_once_in_order(make_ticket, account, agent, terms):
    for i in range(13):
        make_ticket(
            f"ticket {i} {'order' if i % 3 == 0 else 'late' if i % 5 == 0 else 'hello'}",
            priority=["low", "high", "normal"][i % 3],
        )
    seen, cursor, effs = [], None, []
    while True:
        page = inbox.page(agent, terms=terms, limit=4, cursor=cursor)
        seen += [t.pk for t in page.tickets]
        effs += [(t.eff, t.pk) for t in page.tickets]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted(Ticket.objects.filter(status="open").values_list("pk", flat=True))
    assert len(seen) == len(set(seen))
    assert effs == sorted(effs, reverse=True)


def test_filters_by_channel_and_assignee(make_ticket, agent):
    sms = make_ticket("hi", channel="sms")
    mine = make_ticket("mine", assignee=agent)
    assert [t.pk for t in inbox.page(agent, channel="sms").tickets] == [sms.pk]
    assert [t.pk for t in inbox.page(agent, assignee="me").tickets] == [mine.pk]
    assert mine.pk not in [t.pk for t in inbox.page(agent, assignee="none").tickets]


def test_bad_cursor_is_refused():
    with pytest.raises(inbox.BadCursor):
        inbox.decode_cursor("not-a-cursor")


def test_outsider_sees_no_tickets(small_inbox, outsider):
    assert inbox.page(outsider).tickets == []
    assert inbox.page(outsider, terms=["chargeback"]).matches == 0


def test_seed_approach_gives_the_same_first_page(small_inbox, agent):
    services.rescore_open_tickets()
    fast = [t.pk for t in inbox.page(agent, terms=["chargeback"], boost=5.0).tickets]
    seed = [t.pk for t in inbox.seed_page(agent, terms=["chargeback"], weights=services.current_weights())]
    assert fast == seed


@pytest.mark.parametrize("with_alert", [False, True])
def test_inbox_page_query_count_is_pinned(make_ticket, agent_client, agent, with_alert, django_assert_max_num_queries):
    for i in range(12):
        make_ticket(f"chargeback {i}" if i % 2 else f"hello {i}", assignee=agent if i % 3 else None)
    if with_alert:
        services.set_topic_alert(user=agent, text="chargeback")
    agent_client.get(reverse("tickets:inbox"))  # warm the per-user alert cache, as any second page view is
    with django_assert_max_num_queries(6):
        response = agent_client.get(reverse("tickets:inbox"))
    assert response.status_code == 200
    assert response.content.decode().count('class="ticket-row') == 12
    with django_assert_max_num_queries(6):
        response = agent_client.get(reverse("tickets:inbox"), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="inbox-list")
    assert "<html" not in response.content.decode()


def test_inbox_page_shows_alert_marks_and_counts(small_inbox, agent_client, agent):
    services.set_topic_alert(user=agent, text="chargeback, fraud")
    html = agent_client.get(reverse("tickets:inbox")).content.decode()
    assert html.count('class="topic-alert"') == 1
    assert '<strong class="match-count">1</strong>' in html


def test_inbox_self_refreshes(agent_client):
    html = agent_client.get(reverse("tickets:inbox")).content.decode()
    assert 'hx-trigger="every 30s"' in html


@pytest.mark.parametrize("terms", [[], ["refund"]])
def test_view_over_several_teams_merges_them_in_smart_order(make_ticket, agent, team, other_team, terms):
    from crm.models import Membership

    Membership.objects.create(user=agent, team=other_team)
    theirs = Account.objects.create(team=other_team, name="Other", lifetime_value=9000, churn_risk=0.9)
    made = [make_ticket(f"refund {i}" if i % 2 else f"hello {i}", priority="high") for i in range(4)]
    made += [make_ticket(f"refund x{i}" if i % 2 else f"hi {i}", acct=theirs) for i in range(4)]
    seen, cursor = [], None
    while True:
        page = inbox.page(agent, terms=terms, limit=3, cursor=cursor)
        seen += [(t.eff, t.pk) for t in page.tickets]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert sorted(pk for _, pk in seen) == sorted(t.pk for t in made)
    assert seen == sorted(seen, reverse=True)
    assert {t.team_id for t in Ticket.objects.filter(pk__in=[pk for _, pk in seen[:4]])} == {other_team.pk}
