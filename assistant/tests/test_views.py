"""Console pages, the answer stream, the API and the commands of the co-pilot."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from assistant import services
from assistant.demo import SAMPLE_PDF
from assistant.models import Conversation, Message, PlaybookDocument

SEED_SPEND = "How much has TechGiant spent so far?"


@pytest.mark.django_db
def test_asking_without_javascript_answers_and_shows_citations(agent_client, world):
    response = agent_client.post(reverse("assistant:ask"), {"question": SEED_SPEND}, follow=True)
    assert response.status_code == 200
    body = response.content.decode()
    assert "TechGiant has spent $120,000 so far this year." in body
    assert "TechGiant · spend YTD" in body and world["techgiant"].get_absolute_url() in body
    assert "offline answer" in body
    assert Conversation.objects.get().title == SEED_SPEND


@pytest.mark.django_db
def test_htmx_ask_returns_the_turn_with_a_stream_to_follow(agent_client, world):
    response = agent_client.post(reverse("assistant:ask"), {"question": SEED_SPEND}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    message = Message.objects.get(role="assistant")
    assert message.status == "pending"
    assert reverse("assistant:stream", args=[message.pk]) in response.content.decode()


@pytest.mark.django_db
def test_htmx_ask_refuses_an_empty_question_as_plain_text(agent_client):
    response = agent_client.post(reverse("assistant:ask"), {"question": " "}, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == "Ask a question first."


@pytest.mark.django_db(transaction=True)
def test_stream_sends_steps_then_the_escaped_answer(agent_client, agent, world):
    message = services.start_turn(user=agent, question=SEED_SPEND)
    response = agent_client.get(reverse("assistant:stream", args=[message.pk]))
    assert response["Content-Type"] == "text/event-stream"
    events = b"".join(response.streaming_content).decode()
    assert events.index("event: step") < events.index("event: answer")
    assert "Looked up client" in events
    payload = json.loads(events.split("event: answer\ndata: ")[1].split("\n")[0])
    assert "$120,000" in payload["html"]
    message.refresh_from_db()
    assert message.status == "done"


@pytest.mark.django_db
def test_conversation_page_lists_earlier_conversations_and_cache_stats(agent_client, agent, world):
    m = services.ask(user=agent, question=SEED_SPEND)
    response = agent_client.get(m.conversation.get_absolute_url())
    body = response.content.decode()
    assert 'id="conversation-list"' in body and SEED_SPEND in body
    assert "Hit rate" in body and "Hits / misses" in body


@pytest.mark.django_db
def test_rating_from_the_page(agent_client, agent, world):
    m = services.ask(user=agent, question=SEED_SPEND)
    response = agent_client.post(
        reverse("assistant:rate", args=[m.pk]), {"helpful": "0", "reason": "too short"}, headers={"HX-Request": "true"}
    )
    assert "You rated this not helpful" in response.content.decode()
    m.refresh_from_db()
    assert (m.rating.helpful, m.rating.reason) == (False, "too short")


@pytest.mark.django_db
def test_customer_text_in_an_answer_is_escaped(agent_client, agent, team, teammate):
    from assistant.demo import ensure_techgiant

    account = ensure_techgiant(team, teammate)
    account.industry = "<script>alert(1)</script>"
    account.save()
    services.ask(user=agent, question="What industry is TechGiant in?")
    body = agent_client.get(reverse("assistant:conversation", args=[Conversation.objects.get().pk])).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


@pytest.mark.django_db
def test_the_outsider_gets_404_on_another_users_conversation_stream_and_rating(outsider_client, agent, world):
    m = services.ask(user=agent, question=SEED_SPEND)
    assert outsider_client.get(m.conversation.get_absolute_url()).status_code == 404
    assert (
        outsider_client.post(reverse("assistant:ask_in", args=[m.conversation.pk]), {"question": "x"}).status_code
        == 404
    )
    assert outsider_client.get(reverse("assistant:stream", args=[m.pk])).status_code == 404
    assert outsider_client.post(reverse("assistant:rate", args=[m.pk]), {"helpful": "1"}).status_code == 404
    assert outsider_client.get(reverse("assistant:playbook_detail", args=[world["playbook"].pk])).status_code == 404


@pytest.mark.django_db
def test_manager_uploads_a_playbook_and_an_agent_cannot(client, manager, agent, team):
    client.force_login(agent)
    assert client.post(reverse("assistant:playbook_list"), {}).status_code == 404
    client.force_login(manager)
    with SAMPLE_PDF.open("rb") as fh:
        response = client.post(
            reverse("assistant:playbook_list"), {"team": team.pk, "title": "Playbook", "file": fh}, follow=True
        )
    assert "passages indexed" in response.content.decode()
    doc = PlaybookDocument.objects.get()
    assert doc.pages == 3 and doc.passages.count() > 5


@pytest.mark.django_db
def test_upload_of_a_scanned_pdf_says_it_has_no_text_layer(client, manager, team):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from assistant.sample_data.make_pdf import build

    client.force_login(manager)
    upload = SimpleUploadedFile("scan.pdf", build(""), content_type="application/pdf")
    response = client.post(reverse("assistant:playbook_list"), {"team": team.pk, "file": upload})
    assert response.status_code == 200
    assert "no text layer" in response.content.decode()
    assert not PlaybookDocument.objects.exists()


@pytest.mark.django_db
def test_list_pages_query_counts_are_pinned(agent_client, agent, world, django_assert_max_num_queries):
    for q in (SEED_SPEND, "What is our policy on discussing 2026 pricing?"):
        services.ask(user=agent, question=q)
    conversation = Conversation.objects.first()
    with django_assert_max_num_queries(8):
        assert agent_client.get(conversation.get_absolute_url()).status_code == 200


# --- API ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_ask_returns_the_answer_with_citations_and_steps(api, world):
    response = api.post("/api/assistant/ask/", {"question": SEED_SPEND}, format="json")
    assert response.status_code == 201
    data = response.json()
    assert data["text"] == "TechGiant has spent $120,000 so far this year."
    assert data["citations"][0]["label"] == "TechGiant · spend YTD"
    assert data["verdict"]["ok"] is True and data["steps"][0]["kind"] == "tool"


@pytest.mark.django_db
@pytest.mark.parametrize(("question", "status"), [("", 400), ("x" * 50_000, 400)])
def test_api_ask_refuses_bad_questions_with_400(api, question, status):
    response = api.post("/api/assistant/ask/", {"question": question}, format="json")
    assert response.status_code == status
    assert "question" in response.json()


@pytest.mark.django_db(transaction=True)
def test_api_ask_can_stream(api, world):
    response = api.post("/api/assistant/ask/", {"question": SEED_SPEND, "stream": True}, format="json")
    events = b"".join(response.streaming_content).decode()
    assert "event: step" in events and "event: answer" in events
    # Each event is what the OpenAPI schema says a stream's event is (schemathesis ST108 checks it).
    import jsonschema
    from drf_spectacular.generators import SchemaGenerator

    operation = SchemaGenerator().get_schema(public=True)["paths"]["/api/assistant/ask/"]["post"]
    event_schema = operation["responses"]["200"]["content"]["text/event-stream"]["schema"]
    parsed = []
    for block in events.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            parsed.append({**fields, **({"retry": int(fields["retry"])} if "retry" in fields else {})})
    assert [e["event"] for e in parsed][-1] == "answer" and len(parsed) >= 2
    for event in parsed:
        jsonschema.validate(event, event_schema)
        assert isinstance(json.loads(event["data"]), dict)


@pytest.mark.django_db
def test_api_conversations_rating_and_cache(api, agent, world):
    m = services.ask(user=agent, question=SEED_SPEND)
    listing = api.get("/api/assistant/conversations/").json()
    assert [c["id"] for c in listing["results"]] == [m.conversation_id]
    detail = api.get(f"/api/assistant/conversations/{m.conversation_id}/").json()
    assert [x["role"] for x in detail["messages"]] == ["user", "assistant"]
    rated = api.post(f"/api/assistant/messages/{m.pk}/rating/", {"helpful": True, "reason": "spot on"}, format="json")
    assert rated.status_code == 200 and rated.json()["rating"] == {"helpful": True, "reason": "spot on"}
    stats = api.get("/api/assistant/cache/").json()
    assert stats["misses"] >= 1 and set(stats["tools"]) == {"lookup_client", "account_records", "search_playbook"}


@pytest.mark.django_db
def test_api_outsider_gets_404_and_sees_no_playbook(outsider_api, agent, world):
    m = services.ask(user=agent, question=SEED_SPEND)
    assert outsider_api.get(f"/api/assistant/conversations/{m.conversation_id}/").status_code == 404
    assert outsider_api.get(f"/api/assistant/messages/{m.pk}/").status_code == 404
    assert (
        outsider_api.post(f"/api/assistant/messages/{m.pk}/rating/", {"helpful": True}, format="json").status_code
        == 404
    )
    assert outsider_api.get(f"/api/assistant/playbooks/{world['playbook'].pk}/").status_code == 404
    assert outsider_api.get("/api/assistant/playbooks/").json()["results"] == []
    response = outsider_api.post(
        "/api/assistant/ask/", {"question": "x", "conversation": m.conversation_id}, format="json"
    )
    assert response.status_code == 404


@pytest.mark.django_db
def test_api_playbook_upload_for_managers_only(agent, manager, team):
    from rest_framework.test import APIClient

    c = APIClient()
    c.force_authenticate(agent)
    with SAMPLE_PDF.open("rb") as fh:
        assert c.post("/api/assistant/playbooks/", {"team": team.pk, "file": fh}, format="multipart").status_code == 404
    c.force_authenticate(manager)
    with SAMPLE_PDF.open("rb") as fh:
        response = c.post("/api/assistant/playbooks/", {"team": team.pk, "file": fh}, format="multipart")
    assert response.status_code == 201 and response.json()["pages"] == 3


# --- Commands ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_ask_command_prints_steps_answer_and_citations(capsys, agent, world):
    call_command("ask", SEED_SPEND, "--user", agent.username)
    out = capsys.readouterr().out
    assert "· Looked up client “TechGiant”" in out
    assert "TechGiant has spent $120,000 so far this year.[1]" in out
    assert "[1] TechGiant · spend YTD · $120,000" in out


@pytest.mark.django_db
def test_ask_command_json_and_errors(capsys, agent, world):
    call_command("ask", SEED_SPEND, "--user", agent.username, "--json")
    assert json.loads(capsys.readouterr().out)["verdict"]["ok"] is True
    with pytest.raises(CommandError, match="No user"):
        call_command("ask", SEED_SPEND, "--user", "nobody")
    with pytest.raises(CommandError, match="Ask a question first"):
        call_command("ask", "  ", "--user", agent.username)


@pytest.mark.django_db
def test_import_playbook_command(capsys, team, tmp_path):
    call_command("import_playbook", str(SAMPLE_PDF), "--team", team.slug, "--title", "Playbook")
    assert "passages indexed" in capsys.readouterr().out
    with pytest.raises(CommandError, match="No file"):
        call_command("import_playbook", str(tmp_path / "missing.pdf"))
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\x01")
    with pytest.raises(CommandError, match="binary"):
        call_command("import_playbook", str(bad), "--team", team.slug)


@pytest.mark.django_db
def test_export_preferences_pairs_helpful_and_unhelpful_answers(agent, teammate, world, tmp_path):
    a = services.ask(user=agent, question=SEED_SPEND)
    b = services.ask(user=teammate, question="how much has techgiant spent so far?")
    services.rate(user=agent, message=a, helpful=True)
    services.rate(user=teammate, message=b, helpful=False, reason="wrong client")
    out = tmp_path / "prefs.jsonl"
    call_command("export_preferences", "--out", str(out))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows == [
        {
            "prompt": SEED_SPEND,
            "chosen": a.text,
            "rejected": b.text,
            "source": "rating",
            "reason": "wrong client",
            "message_ids": [a.pk, b.pk],
        }
    ]


@pytest.mark.django_db
def test_the_demo_world_answers_the_seeds_three_questions(capsys):
    from django.contrib.auth import get_user_model

    from crm.models import Account

    call_command("load_demo")
    call_command("load_demo")  # a rerun keeps one TechGiant
    demo = get_user_model().objects.get(username="demo")
    assert Account.objects.filter(name="TechGiant", team__slug="enterprise-sales").count() == 1
    spend = services.ask(user=demo, question=SEED_SPEND)
    assert spend.text == "TechGiant has spent $120,000 so far this year."
    policy = services.ask(user=demo, question="What is our policy on discussing 2026 pricing?")
    assert "15 January 2026" in policy.text
    pitch = services.ask(
        user=demo,
        question="I have a meeting with TechGiant. Based on their spending and industry, what product should I pitch?",
    )
    assert "Mobile App Banners and Online Display Ads" in pitch.text
    assert all(m.verdict["ok"] for m in (spend, policy, pitch))
