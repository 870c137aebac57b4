"""Issue 10, item 3: a reply is sent exactly once, whichever tab, retry or parallel client sends it."""

import re
import threading

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from crm.errors import ServiceError
from outbound.models import Delivery
from tickets import services
from tickets.models import Message


def _key(client, ticket) -> str:
    html = client.get(reverse("tickets:detail", args=[ticket.pk])).content.decode()
    return re.search(r'name="idempotency_key" value="([0-9a-f]+)"', html).group(1)


def test_two_tabs_sending_the_same_draft_send_it_once(make_ticket, agent_client, on_commit):
    t = make_ticket("Where is my order?")
    draft = t.drafts.get(status="ready")
    tab_one, tab_two = _key(agent_client, t), _key(agent_client, t)  # each tab rendered its own key
    assert tab_one != tab_two
    url = reverse("tickets:reply", args=[t.pk])
    with on_commit():
        agent_client.post(url, {"body": draft.content, "idempotency_key": tab_one, "draft": draft.pk})
        # The second tab even edited the text before pressing Send: the draft has gone already.
        r = agent_client.post(
            url, {"body": draft.content + " Thanks!", "idempotency_key": tab_two, "draft": draft.pk}, follow=True
        )
    html = r.content.decode()
    sent_at = timezone.localtime(Message.objects.get(ticket=t, direction="out").created_at)
    assert f"Already sent at {sent_at:%H:%M} by agent" in html and "not sent twice" in html
    assert Message.objects.filter(ticket=t, direction="out").count() == 1
    assert len(mail.outbox) == 1


def test_the_same_body_again_without_a_key_is_refused_unless_resend(make_ticket, api, on_commit):
    t = make_ticket("Where is my order?")
    url = f"/api/tickets/{t.pk}/messages"
    with on_commit():
        first = api.post(url, {"body": "It ships today."}, format="json")
        again = api.post(url, {"body": "It ships today."}, format="json")
        meant = api.post(url, {"body": "It ships today.", "resend": True}, format="json")
    assert first.status_code == 201
    assert again.status_code == 409 and "sent at" in again.json()["body"][0] and "by agent" in again.json()["body"][0]
    assert meant.status_code == 201
    assert len(mail.outbox) == 2


def test_idempotency_key_makes_a_retry_safe_stripe_style(make_ticket, api, on_commit):
    t = make_ticket("Where is my order?")
    url = f"/api/tickets/{t.pk}/messages"
    with on_commit():
        first = api.post(url, {"body": "It ships today."}, format="json", HTTP_IDEMPOTENCY_KEY="retry-1")
        retry = api.post(url, {"body": "It ships today."}, format="json", HTTP_IDEMPOTENCY_KEY="retry-1")
    assert first.status_code == 201 and retry.status_code == 200
    assert retry.json()["id"] == first.json()["id"]
    assert len(mail.outbox) == 1


def test_a_different_body_is_not_a_duplicate(make_ticket, agent, on_commit):
    t = make_ticket("Where is my order?")
    services.send_reply(actor=agent, ticket=t, body="First answer.")
    message, created = services.send_reply(actor=agent, ticket=t, body="A second, different answer.")
    assert created


def test_duplicate_window_can_be_turned_off(make_ticket, agent, settings):
    settings.TICKETS_REPLY_DUPLICATE_WINDOW_MINUTES = 0
    t = make_ticket("Where is my order?")
    services.send_reply(actor=agent, ticket=t, body="Same.")
    assert services.send_reply(actor=agent, ticket=t, body="Same.")[1]


def test_duplicate_refusal_is_a_conflict_naming_the_body(make_ticket, agent):
    t = make_ticket("Where is my order?")
    services.send_reply(actor=agent, ticket=t, body="Same.")
    with pytest.raises(ServiceError) as err:
        services.send_reply(actor=agent, ticket=t, body="Same.")
    assert err.value.code == "conflict" and err.value.field == "body"


@pytest.mark.django_db(transaction=True)
def test_parallel_api_posts_without_a_key_send_once(make_ticket, agent):
    if connection.vendor != "postgresql":
        pytest.skip("parallel requests need a database shared across connections (PostgreSQL)")
    t = make_ticket("Where is my order?")
    barrier = threading.Barrier(8)
    codes = []

    def post():
        client = APIClient()
        client.force_authenticate(agent)
        barrier.wait()
        try:
            codes.append(client.post(f"/api/tickets/{t.pk}/messages", {"body": "Hi"}, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(codes) == [201] + [409] * 7
    assert Message.objects.filter(ticket=t, direction="out").count() == 1
    assert Delivery.objects.filter(source="tickets.message").count() == 1
