from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from outbound.models import Delivery


@pytest.fixture
def failed(queue):
    delivery, _ = queue(key="failed-1")
    Delivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=5, last_error="webhook refused: 422")
    return Delivery.objects.get(pk=delivery.pk)


@pytest.fixture
def uncertain(queue):
    delivery, _ = queue(key="uncertain-1")
    at = timezone.now() - timedelta(hours=1)
    Delivery.objects.filter(pk=delivery.pk).update(
        status="uncertain", attempts=1, claimed_at=at, handed_at=at, last_error="The worker stopped while sending"
    )
    return Delivery.objects.get(pk=delivery.pk)


def test_page_lists_recent_deliveries_and_what_needs_attention(agent_client, failed, uncertain):
    html = agent_client.get(reverse("outbound:list")).content.decode()
    assert f'id="delivery-{failed.pk}"' in html and f'id="delivery-{uncertain.pk}"' in html
    assert "webhook refused: 422" in html and "Mark as sent" in html and "Send again" in html
    assert "2</strong> need" in html


def test_page_filters_by_status(agent_client, failed, uncertain):
    html = agent_client.get(reverse("outbound:list"), {"status": "uncertain"}).content.decode()
    assert f'id="delivery-{uncertain.pk}"' in html and f'id="delivery-{failed.pk}"' not in html


def test_page_query_count_is_flat(agent_client, queue, django_assert_max_num_queries):
    for _ in range(30):
        queue()
    with django_assert_max_num_queries(8):
        response = agent_client.get(reverse("outbound:list"))
    assert response.status_code == 200 and response.content.decode().count('id="delivery-') == 30


def test_htmx_retry_swaps_the_row(agent_client, failed, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(reverse("outbound:retry", args=[failed.pk]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and html.strip().startswith(f'<tr id="delivery-{failed.pk}"')
    assert "Queued" in html and "Retry" not in html  # rendered before the send ran on commit
    failed.refresh_from_db()
    assert failed.status == "sent"


def test_confirm_records_it_as_sent_without_sending(agent_client, uncertain, agent):
    response = agent_client.post(reverse("outbound:confirm", args=[uncertain.pk]))
    assert response.status_code == 302
    uncertain.refresh_from_db()
    assert uncertain.status == "sent" and uncertain.resolved_by == agent


def test_retry_needs_the_csrf_token(agent, failed):
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    assert client.post(reverse("outbound:retry", args=[failed.pk])).status_code == 403
    failed.refresh_from_db()
    assert failed.status == "failed"


def test_outsider_sees_nothing_and_gets_404(outsider_client, failed, uncertain):
    html = outsider_client.get(reverse("outbound:list")).content.decode()
    assert f'id="delivery-{failed.pk}"' not in html and "No deliveries yet" in html
    assert outsider_client.post(reverse("outbound:retry", args=[failed.pk])).status_code == 404
    assert outsider_client.post(reverse("outbound:confirm", args=[uncertain.pk])).status_code == 404
    failed.refresh_from_db()
    assert failed.status == "failed"


def test_page_needs_login(client):
    assert client.get(reverse("outbound:list")).status_code == 302


def test_api_lists_the_teams_deliveries(api, failed, uncertain):
    rows = api.get("/api/deliveries/", {"status": "uncertain"}).json()["results"]
    assert [r["id"] for r in rows] == [uncertain.pk]
    assert api.get(f"/api/deliveries/{failed.pk}").json()["last_error"] == "webhook refused: 422"


def test_api_outsider_gets_404_everywhere(outsider_api, failed, uncertain):
    assert outsider_api.get("/api/deliveries/").json()["results"] == []
    assert outsider_api.get(f"/api/deliveries/{failed.pk}").status_code == 404
    assert outsider_api.post(f"/api/deliveries/{failed.pk}/retry").status_code == 404
    assert outsider_api.post(f"/api/deliveries/{uncertain.pk}/confirm").status_code == 404


def test_api_retry_and_confirm(api, failed, uncertain, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/api/deliveries/{failed.pk}/retry").status_code == 202
    assert api.post(f"/api/deliveries/{failed.pk}/retry").status_code == 409
    r = api.post(f"/api/deliveries/{uncertain.pk}/confirm")
    assert r.status_code == 200 and r.json()["status"] == "sent"
    assert api.post(f"/api/deliveries/{uncertain.pk}/confirm").status_code == 409


def test_api_is_read_only(api, failed):
    assert api.post("/api/deliveries/", {"key": "x"}, format="json").status_code == 405
    assert api.delete(f"/api/deliveries/{failed.pk}").status_code == 405
