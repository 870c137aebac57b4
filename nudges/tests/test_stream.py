import asyncio
import json
import logging

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.urls import reverse
from rest_framework.authtoken.models import Token

from nudges import services, stream
from nudges.models import Nudge


@pytest.fixture(autouse=True)
def quick_stream(settings):
    # Short-lived streams so a test reads the whole response; production keeps them open minutes.
    settings.NUDGES_STREAM_POLL_SECONDS = 0.01
    settings.NUDGES_STREAM_HEARTBEAT_SECONDS = 0.05
    settings.NUDGES_STREAM_MAX_SECONDS = 0.3


def parse(body: str) -> list[dict]:
    events = []
    for block in body.split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        fields = dict(line.split(": ", 1) for line in lines)
        if fields.get("event") == "nudge":
            events.append({"id": int(fields["id"]), "data": json.loads(fields["data"])})
    return events


def read(response) -> str:
    assert response["Content-Type"] == "text/event-stream"
    return b"".join(response.streaming_content).decode()


@pytest.fixture
def nudges(stale_deal, foreign_stale_deal, account, contact, agent, stages):
    from datetime import timedelta

    from django.utils import timezone

    from crm.models import Deal

    second = Deal.objects.create(
        team=account.team,
        account=account,
        primary_contact=contact,
        owner=agent,
        name="Second",
        stage=stages["proposal"],
        amount=2000,
        last_activity_at=timezone.now() - timedelta(days=15),
    )
    for d in (stale_deal, foreign_stale_deal, second):
        services.refresh_nudges(deal_ids=[d.pk])
    return list(Nudge.objects.order_by("id"))


def test_stream_sends_my_teams_nudges_as_sse_events(agent_client, nudges, foreign_stale_deal):
    body = read(agent_client.get(reverse("nudges:stream")))
    assert body.startswith("retry: 2000\n\n")
    events = parse(body)
    mine = [n for n in nudges if n.deal_id != foreign_stale_deal.pk]
    assert [e["id"] for e in events] == [n.pk for n in mine]
    first = events[0]["data"]
    assert first["deal_id"] == str(mine[0].deal_id)
    assert first["nudge"] == mine[0].text
    assert first["urgency"] == mine[0].urgency
    assert first["warnings"] == ["no_activity"]
    assert "html" not in first


def test_stream_resumes_after_last_event_id(agent_client, nudges, foreign_stale_deal):
    mine = [n for n in nudges if n.deal_id != foreign_stale_deal.pk]
    body = read(agent_client.get(reverse("nudges:stream"), headers={"Last-Event-ID": str(mine[0].pk)}))
    assert [e["id"] for e in parse(body)] == [mine[1].pk]
    body = read(agent_client.get(reverse("nudges:stream") + f"?last_event_id={mine[1].pk}"))
    assert parse(body) == []


def test_stream_sends_heartbeats_while_idle(agent_client, team):
    body = read(agent_client.get(reverse("nudges:stream")))
    assert ": heartbeat\n\n" in body
    assert parse(body) == []


def test_outsider_stream_sees_only_their_team(outsider_client, nudges, foreign_stale_deal):
    events = parse(read(outsider_client.get(reverse("nudges:stream"))))
    assert [e["data"]["deal"] for e in events] == [foreign_stale_deal.pk]


def test_console_stream_can_carry_rendered_cards(agent_client, nudges):
    events = parse(read(agent_client.get(reverse("nudges:stream") + "?html=1")))
    assert f'id="nudge-{events[0]["id"]}"' in events[0]["data"]["html"]


def test_api_stream_needs_authentication(client, nudges):
    response = client.get("/api/nudges/stream/")
    assert response.status_code == 401


def test_api_stream_accepts_a_token(client, agent, nudges):
    token = Token.objects.create(user=agent)
    response = client.get("/api/nudges/stream/", headers={"Authorization": f"Token {token.key}"})
    assert len(parse(read(response))) == 2
    assert client.get("/api/nudges/stream/", headers={"Authorization": "Token nope"}).status_code == 401


def test_bad_last_event_id_starts_from_the_beginning(agent_client, nudges):
    body = read(agent_client.get(reverse("nudges:stream"), headers={"Last-Event-ID": "garbage"}))
    assert len(parse(body)) == 2


@pytest.mark.django_db(transaction=True)
def test_asgi_stream_is_async_and_delivers_nudges_stored_after_connecting(async_client, agent, stale_deal):
    async def scenario():
        await async_client.aforce_login(agent)
        response = await async_client.get(reverse("nudges:stream"))
        assert response.is_async
        chunks = []

        async def consume():
            async for chunk in response.streaming_content:
                chunks.append(chunk.decode())

        reader = asyncio.create_task(consume())
        await asyncio.sleep(0.05)
        await sync_to_async(services.refresh_nudges)(deal_ids=[stale_deal.pk])
        await reader
        await sync_to_async(connections.close_all)()  # the executor thread's connection
        return "".join(chunks)

    body = asyncio.run(scenario())
    events = parse(body)
    assert [e["data"]["deal"] for e in events] == [stale_deal.pk]


@pytest.mark.django_db(transaction=True)
def test_async_generator_releases_itself_when_the_client_disconnects(stale_deal, caplog, settings):
    settings.NUDGES_STREAM_MAX_SECONDS = 60
    services.refresh_nudges(deal_ids=[stale_deal.pk])

    async def scenario():
        gen = stream.aevents(None, 0)
        first = [await gen.__anext__(), await gen.__anext__()]
        await gen.aclose()  # what Django does when the browser goes away
        await sync_to_async(connections.close_all)()
        return first

    with caplog.at_level(logging.DEBUG, logger="nudges.stream"):
        first = asyncio.run(scenario())
    assert first[1].startswith("id: ")
    assert "nudge stream closed after 1 events" in caplog.text


def test_seed_path_get_nudges_streams_too(agent_client, nudges):
    assert len(parse(read(agent_client.get("/nudges")))) == 2
