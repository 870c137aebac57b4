import pytest
from django.urls import reverse

from crm.models import Order
from llm import LLMResult
from tickets import ai, rules, services, tasks
from tickets.models import Draft


@pytest.fixture
def order(account):
    return Order.objects.create(
        account=account, number="54321", amount=156.99, status="in_transit", tracking_status="No updates for 5 days"
    )


@pytest.mark.parametrize("channel", ["email", "sms", "chat", "phone"])
def test_offline_draft_follows_the_channel_rules(make_ticket, order, channel):
    t = make_ticket("My order #54321 hasn't arrived yet, tracking shows nothing", channel=channel)
    draft = t.drafts.get()
    assert draft.status == "ready" and draft.offline
    assert rules.check_reply(channel, draft.content, draft=True) == []
    assert draft.tone == rules.CHANNEL_RULES[channel].tone


def test_draft_uses_order_tracking_and_extra_care_for_churn_risk(make_ticket, order):
    t = make_ticket("My order #54321 hasn't arrived yet, the delivery is late", channel="email")  # churn 0.8
    draft = t.drafts.get()
    assert "54321" in draft.content and "no updates for 5 days" in draft.content.lower()
    assert "express" in draft.content
    assert draft.personalization == {
        "used_order_info": True,
        "mentioned_tracking": True,
        "referenced_past_issue": False,
        "applied_vip_treatment": True,
    }


def test_draft_for_a_low_risk_customer_gets_no_vip_treatment(make_ticket, account, order):
    account.churn_risk, account.is_vip = 0.1, False
    account.save()
    t = make_ticket("My order #54321 is late, where is the delivery", channel="email")
    draft = t.drafts.get()
    assert draft.personalization["applied_vip_treatment"] is False and "express" not in draft.content


def test_regeneration_is_chained_to_the_draft_it_replaces(make_ticket, agent, on_commit):
    t = make_ticket("Where is my delivery?", channel="chat")
    first = t.drafts.get()
    with on_commit():
        second = services.request_draft(ticket=t, actor=agent, instruction="shorter please")
    second.refresh_from_db()
    assert second.previous == first and second.instruction == "shorter please" and second.status == "ready"
    assert len(second.content.split()) <= len(first.content.split())


def test_double_regenerate_queues_one_draft(make_ticket, agent):
    t = make_ticket("Where is my delivery?")
    a = services.request_draft(ticket=t, actor=agent)
    b = services.request_draft(ticket=t, actor=agent)
    assert a.pk == b.pk and t.drafts.filter(status="pending").count() == 1


def test_generate_task_twice_is_idempotent(make_ticket, agent):
    t = make_ticket("Where is my delivery?")
    d = services.request_draft(ticket=t, actor=agent)
    assert tasks.generate_draft_task(d.pk) == "ready"
    content = Draft.objects.get(pk=d.pk).content
    assert tasks.generate_draft_task(d.pk) == "skipped"
    assert Draft.objects.get(pk=d.pk).content == content
    assert tasks.generate_draft_task(987654) == "skipped"


def test_model_draft_that_breaks_the_channel_rules_is_not_shown(make_ticket, agent, monkeypatch):
    calls = []

    def fake_ask(**kwargs):
        calls.append(kwargs)
        return LLMResult(text="", data={"content": "x" * 400, "tone": "casual", "reasoning": "r"}, provider="anthropic")

    t = make_ticket("hi", channel="sms")
    monkeypatch.setattr(ai, "ask", fake_ask)
    d = services.request_draft(ticket=t, actor=agent)
    t.drafts.exclude(pk=d.pk).delete()
    assert services.generate_draft(draft_id=d.pk) == "failed"
    d.refresh_from_db()
    assert d.status == "failed" and "160 characters" in d.error
    assert len(calls) == 2  # one uncached retry before giving up
    assert calls[1]["force_refresh"] is True
    assert calls[0]["inputs"]["customer_text"] == "hi"  # customer text travels as data, not instructions


def test_model_failure_marks_the_draft_failed(make_ticket, agent, monkeypatch):
    def boom(**kwargs):
        raise TimeoutError("provider timed out")

    t = make_ticket("hi")
    monkeypatch.setattr(ai, "ask", boom)
    d = services.request_draft(ticket=t, actor=agent)
    assert services.generate_draft(draft_id=d.pk) == "failed"
    d.refresh_from_db()
    assert "timed out" in d.error


def test_panel_polls_while_pending_and_stops_when_ready(make_ticket, agent_client, agent):
    t = make_ticket("Where is my delivery?")
    pending = services.request_draft(ticket=t, actor=agent)
    url = reverse("tickets:draft", args=[t.pk])
    html = agent_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 2s"' in html and "drafting" in html
    services.generate_draft(draft_id=pending.pk)
    html = agent_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in html and "offline draft" in html and 'id="send-reply"' in html


def test_draft_api_answers_202_while_generating_then_200(make_ticket, api, agent):
    t = make_ticket("Where is my delivery?", channel="chat")
    url = f"/api/ai/tickets/{t.pk}/draft-response"
    pending = services.request_draft(ticket=t, actor=agent)
    r = api.get(url)
    assert r.status_code == 202 and r.json()["status"] == "pending"
    services.generate_draft(draft_id=pending.pk)
    r = api.get(url)
    body = r.json()
    assert r.status_code == 200
    assert set(body) >= {"content", "tone", "channel", "reasoning", "personalization"}
    assert body["channel"] == "chat" and body["offline"] is True
    assert body["previous_id"] is not None


def test_draft_api_regenerate_with_instruction(make_ticket, api):
    t = make_ticket("Where is my delivery?")
    r = api.post(f"/api/ai/tickets/{t.pk}/draft-response", {"instruction": "apologise"}, format="json")
    assert r.status_code == 202 and r.json()["instruction"] == "apologise"


def test_outsider_gets_404_for_drafts(make_ticket, outsider_api, outsider_client):
    t = make_ticket("Where is my delivery?")
    assert outsider_api.get(f"/api/ai/tickets/{t.pk}/draft-response").status_code == 404
    assert outsider_client.get(reverse("tickets:draft", args=[t.pk])).status_code == 404


def test_offline_reasoning_mentions_instructions_only_when_given(make_ticket, agent, on_commit):
    t = make_ticket("Where is my delivery?")
    assert "instructions" not in t.drafts.get().reasoning
    with on_commit():
        d = services.request_draft(ticket=t, actor=agent, instruction="apologise")
    d.refresh_from_db()
    assert "instructions" in d.reasoning and "sorry" in d.content.lower()


def test_reading_a_draft_never_drafts_or_calls_the_model(make_ticket, api, agent_client):
    from llm.models import LLMCall

    t = make_ticket("Where is my delivery?")
    t.drafts.all().delete()
    calls = LLMCall.objects.count()
    r = api.get(f"/api/ai/tickets/{t.pk}/draft-response")
    assert r.status_code == 404 and "POST" in r.json()["detail"]
    page = agent_client.get(reverse("tickets:draft", args=[t.pk]))
    assert page.status_code == 200 and "Draft a reply" in page.content.decode()
    assert not t.drafts.exists() and LLMCall.objects.count() == calls
    assert api.post(f"/api/ai/tickets/{t.pk}/draft-response", {}, format="json").status_code in (200, 202)
    assert t.drafts.count() == 1
