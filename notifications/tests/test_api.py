import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from crm.models import Contact
from notifications.models import AnalysisRun, CustomerRecord, Notification, PastNotification
from notifications.runs import run_analysis
from notifications.tests.conftest import sample_files
from outbound.models import Delivery
from outbound.services import deliver

pytestmark = pytest.mark.django_db
BASE = "/api/notifications/"


@pytest.fixture
def analysed(imported, team):
    run_analysis(AnalysisRun.objects.create(team=team, segment="Value Seekers").pk)


def _sendable(team):
    return (
        Notification.objects.filter(team=team, record__marketing_consent=True, account__contacts__opted_out=False)
        .exclude(account__contacts__email="")
        .order_by("pk")
        .first()
    )


def test_customers_are_the_focus_segment_with_profiles(api, imported, team):
    body = api.get(BASE + "customers/").json()
    vs = CustomerRecord.objects.filter(team=team, segment="Value Seekers").count()
    assert body["count"] == vs and body["results"][0]["segment"] == "Value Seekers"
    assert {"tariff", "risk_score", "risk_factors", "engagement_score"} <= set(body["results"][0])


def test_segments_and_value_seekers_statistics(api, imported):
    seg = api.get(BASE + "segments/").json()
    assert sum(s["customers"] for s in seg["segments"]) == 300 and seg["risk_check"]["churned"] > 0
    vs = api.get(BASE + "value-seekers/").json()
    assert vs["customers"] > 0 and vs["top_risk_factors"]


def test_notifications_are_prioritised_with_risk_scores(api, analysed):
    rows = api.get(BASE + "notifications/").json()["results"]
    keys = [({"High": 0, "Medium": 1, "Low": 2}[r["priority"]], -r["risk_score"]) for r in rows]
    assert rows and keys == sorted(keys)


def test_billing_issues_list_customers_with_billing_interactions(api, imported):
    body = api.get(BASE + "billing-issues/").json()
    assert body["count"] > 0
    assert all(
        "bill" in i["category"].lower() or "payment" in i["category"].lower()
        for c in body["customers"]
        for i in c["interactions"]
    )


def test_send_goes_through_outbound_once_and_updates_history(api, analysed, team, django_capture_on_commit_callbacks):
    n = _sendable(team)
    url = f"{BASE}notifications/{n.pk}/send/"
    with django_capture_on_commit_callbacks(execute=False):
        first = api.post(url, {"message": n.message, "subject": n.subject}, format="json")
        second = api.post(url, {"message": n.message, "subject": n.subject}, format="json")
    assert first.status_code == second.status_code == 200, first.json()
    assert Delivery.objects.filter(source="notifications.notification", source_id=n.pk).count() == 1
    delivery = Delivery.objects.get(source_id=n.pk)
    assert deliver(delivery_id=delivery.pk) == "sent"  # as the worker would, after quiet hours
    n.refresh_from_db()
    assert n.status == "sent" and n.sent_at and n.sent_body == n.message
    assert PastNotification.objects.filter(account=n.account, delivery_id=delivery.pk, subject=n.subject).exists()
    assert len(mail.outbox) == 1 and mail.outbox[0].body == n.message
    again = api.post(url, {"message": "changed"}, format="json")
    assert again.status_code == 200 and Delivery.objects.count() == 1


def test_send_refuses_empty_and_opted_out_with_the_reason(api, analysed, team):
    n = _sendable(team)
    empty = api.post(f"{BASE}notifications/{n.pk}/send/", {"message": "  "}, format="json")
    assert empty.status_code == 400 and "empty" in str(empty.json())
    Contact.objects.filter(account=n.account).update(opted_out=True)
    refused = api.post(f"{BASE}notifications/{n.pk}/send/", {"message": n.message}, format="json")
    assert refused.status_code == 400 and "asked not to be contacted" in str(refused.json())
    assert not Delivery.objects.exists()


def test_refresh_starts_an_analysis_and_recompute_recomputes(api, imported):
    started = api.post(BASE + "refresh/", {}, format="json")
    assert started.status_code == 202 and started.json()["segment"] == "Value Seekers"
    assert api.post(BASE + "refresh/", {"action": "recompute"}, format="json").status_code == 200


def test_import_dry_run_returns_the_report_and_writes_nothing(manager, team):
    c = APIClient()
    c.force_authenticate(manager)
    files = [SimpleUploadedFile(n, d) for n, d in sample_files()]
    dry = c.post(BASE + "import/?team=blue", {"files": files, "dry_run": "true"}, format="multipart")
    body = dry.json()
    assert dry.status_code == 200 and body["dry_run"] and body["created"] == body["rows"]
    assert {f["name"]: f["created"] for f in body["files"]}["Customer Profiles.csv"] == 300
    assert not CustomerRecord.objects.exists()
    real = c.post(
        BASE + "import/?team=blue", {"files": [SimpleUploadedFile(n, d) for n, d in sample_files()]}, format="multipart"
    )
    assert real.status_code == 201 and real.json()["status"] == "imported"
    assert c.get(BASE + f"imports/{real.json()['id']}/").json()["id"] == real.json()["id"]
    bad = c.post(
        BASE + "import/",
        {"files": [SimpleUploadedFile("Customer Profiles.csv", b"\x00\x01binary")]},
        format="multipart",
    )
    assert bad.status_code == 422 and "binary" in bad.json()["failed"]


def test_agents_cannot_import(api):
    assert api.post(BASE + "import/", {}, format="multipart").status_code == 404


def test_outsider_gets_404_everywhere(outsider_api, analysed, team):
    n = Notification.objects.filter(team=team).first()
    run = AnalysisRun.objects.first()
    for url in ["customers/", "segments/", "notifications/", "billing-issues/", "value-seekers/"]:
        assert outsider_api.get(f"{BASE}{url}?team={team.slug}").status_code == 404, url
    assert outsider_api.get(f"{BASE}notifications/{n.pk}/").status_code == 404
    assert outsider_api.get(f"{BASE}runs/{run.pk}/").status_code == 404
    assert outsider_api.post(f"{BASE}notifications/{n.pk}/send/", {"message": "x"}, format="json").status_code == 404
    assert outsider_api.post(f"{BASE}refresh/?team={team.slug}", {}, format="json").status_code == 404
    # and their own team shows none of it
    assert outsider_api.get(BASE + "notifications/").json()["count"] == 0
