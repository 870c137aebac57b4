"""Console: plan a deal, read, expand, use, feedback; the outsider gets 404 everywhere."""

import pytest
from django.urls import reverse

from crm.models import Activity
from nudges import plans
from nudges.models import Learning, PlanFeedback, PlanItem

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(stale_deal):
    return plans.plan_for_deal(deal=stale_deal)[0]


def test_deal_page_has_the_plan_panel(agent_client, stale_deal):
    page = agent_client.get(reverse("crm:deal_detail", args=[stale_deal.pk]))
    assert b"Plan next actions" in page.content
    assert reverse("nudges:plan_create", args=[stale_deal.pk]).encode() in page.content


def test_plan_next_actions_with_campaign_context(agent_client, stale_deal):
    response = agent_client.post(
        reverse("nudges:plan_create", args=[stale_deal.pk]), {"campaign_context": "Q4 product launch"}
    )
    plan = stale_deal.plans.get()
    assert response.status_code == 302 and plan.public_id in response["Location"]
    assert plan.campaign_context == "Q4 product launch"
    page = agent_client.get(response["Location"])
    text = page.content.decode()
    assert "Situation analysis" in text and "P0 · execute today" in text and "Expand into full content" in text
    assert "offline" in text


def test_plan_page_queries_are_bounded(agent_client, plan, django_assert_max_num_queries):
    with django_assert_max_num_queries(14):
        assert agent_client.get(reverse("nudges:plan_detail", args=[plan.public_id])).status_code == 200


def test_expand_an_outline(agent_client, plan):
    item = plan.items.filter(priority="P1").first()
    response = agent_client.post(reverse("nudges:plan_item_expand", args=[item.pk]), HTTP_HX_REQUEST="true")
    item.refresh_from_db()
    assert response.status_code == 200 and item.content and item.expanded_at
    assert f'id="item-{item.pk}"' in response.content.decode()


def test_mark_a_p0_done_with_edits_keeps_text_and_distance(agent_client, plan, stale_deal):
    item = plan.items.filter(priority="P0").first()
    original = item.content
    body = original.get("body") or original.get("message") or "x"
    response = agent_client.post(
        reverse("nudges:plan_item_use", args=[item.pk]),
        {"action": "done", "subject": original.get("subject", ""), "text": body + "\nPS: see you soon."},
        HTTP_HX_REQUEST="true",
    )
    item.refresh_from_db()
    assert response.status_code == 200
    assert item.use == PlanItem.Use.DONE and item.edit_distance == len("\nPS: see you soon.")
    assert PlanFeedback.objects.get(item=item).kind == PlanFeedback.Kind.EDITED
    assert Activity.objects.filter(deal=stale_deal, body__contains="PS: see you soon.").exists()
    again = agent_client.post(
        reverse("nudges:plan_item_use", args=[item.pk]), {"action": "done"}, HTTP_HX_REQUEST="true"
    )
    assert again.status_code == 409  # used once only


def test_send_email_goes_through_outbound_exactly_once(agent_client, plan):
    from outbound.models import Delivery

    item = plan.items.filter(priority="P0", channel="email").first()
    url = reverse("nudges:plan_item_use", args=[item.pk])
    response = agent_client.post(
        url, {"action": "send", "subject": "Hello", "text": "Short body"}, HTTP_HX_REQUEST="true"
    )
    item.refresh_from_db()
    assert response.status_code == 200 and item.use == PlanItem.Use.SENT
    delivery = Delivery.objects.get()
    assert delivery.pk == item.delivery_id and delivery.recipient == "dana@techgiant.example"
    assert delivery.subject == "Hello" and delivery.source == "nudges.plan_item" and delivery.source_id == item.pk
    assert item.edit_distance > 0 and PlanFeedback.objects.get(item=item).kind == "edited"
    again = agent_client.post(url, {"action": "send"}, HTTP_HX_REQUEST="true")
    assert again.status_code == 409 and Delivery.objects.count() == 1


def test_send_to_an_opted_out_contact_is_refused_and_nothing_is_used(agent_client, plan, contact):
    from outbound.models import Delivery

    item = plan.items.filter(priority="P0", channel="email").first()
    contact.opted_out = True
    contact.save()
    response = agent_client.post(
        reverse("nudges:plan_item_use", args=[item.pk]), {"action": "send"}, HTTP_HX_REQUEST="true"
    )
    item.refresh_from_db()
    assert response.status_code == 400 and "not sent" in response.content.decode()
    assert item.use == PlanItem.Use.PROPOSED and not Delivery.objects.exists() and not PlanFeedback.objects.exists()


def test_feedback_proposes_a_learning(agent_client, plan):
    item = plan.items.filter(priority="P0").first()
    response = agent_client.post(
        reverse("nudges:plan_feedback", args=[plan.public_id]),
        {"type": "negative", "text": "Email too long, keep under 150 words", "item": item.pk},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    learning = Learning.objects.get(feedback__plan=plan)
    assert learning.status == "proposed" and "150 words" in learning.text
    assert "waiting for a manager" in response.content.decode()


def test_feedback_needs_some_text(agent_client, plan):
    response = agent_client.post(
        reverse("nudges:plan_feedback", args=[plan.public_id]), {"type": "positive"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400 and not PlanFeedback.objects.exists()


def test_unknown_deal_is_404(agent_client):
    assert agent_client.post(reverse("nudges:plan_create", args=[999999])).status_code == 404


@pytest.mark.parametrize("name", ["detail", "feedback", "expand", "use", "create", "panel"])
def test_outsider_gets_404(outsider_client, plan, name):
    item = plan.items.first()
    url, method = {
        "detail": (reverse("nudges:plan_detail", args=[plan.public_id]), "get"),
        "feedback": (reverse("nudges:plan_feedback", args=[plan.public_id]), "post"),
        "expand": (reverse("nudges:plan_item_expand", args=[item.pk]), "post"),
        "use": (reverse("nudges:plan_item_use", args=[item.pk]), "post"),
        "create": (reverse("nudges:plan_create", args=[plan.deal_id]), "post"),
        "panel": (reverse("nudges:plan_panel", args=[plan.deal_id]), "get"),
    }[name]
    response = getattr(outsider_client, method)(url, {"type": "positive", "text": "x", "action": "done"})
    assert response.status_code == 404


def test_a_sent_plan_email_lands_on_the_timeline_once(agent_client, plan, stale_deal):
    from nudges import feedback
    from outbound.models import Delivery

    item = plan.items.filter(priority="P0", channel="email").first()
    agent_client.post(reverse("nudges:plan_item_use", args=[item.pk]), {"action": "send"})
    delivery = Delivery.objects.get()
    feedback.on_plan_email_sent(delivery)
    feedback.on_plan_email_sent(delivery)
    assert Activity.objects.filter(deal=stale_deal, external_id=f"outbound-delivery-{delivery.pk}").count() == 1


def test_with_a_model_the_console_stores_a_pending_plan_and_a_task_writes_it(
    agent_client, stale_deal, django_capture_on_commit_callbacks
):
    from llm import use_provider
    from llm.testing import FakeProvider
    from nudges import tasks
    from nudges.models import Plan

    fake = FakeProvider([TimeoutError("slow")])  # any failure falls back to the offline writer
    with use_provider(fake):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = agent_client.post(
                reverse("nudges:plan_create", args=[stale_deal.pk]), {"campaign_context": "Q4"}
            )
        plan = Plan.objects.get()
        assert (
            response.status_code == 302 and plan.status == "pending" and not plan.items.exists() and len(callbacks) == 1
        )
        page = agent_client.get(reverse("nudges:plan_detail", args=[plan.public_id]))
        assert "being written" in page.content.decode() and 'hx-trigger="every 2s"' in page.content.decode()
        assert tasks.generate_plan_task(plan.pk) is True
        assert tasks.generate_plan_task(plan.pk) is False  # idempotent
    plan.refresh_from_db()
    assert plan.status == "ready" and plan.items.filter(priority="P0").exists() and plan.campaign_context == "Q4"
    page = agent_client.get(reverse("nudges:plan_detail", args=[plan.public_id]))
    assert 'hx-trigger="every 2s"' not in page.content.decode()
