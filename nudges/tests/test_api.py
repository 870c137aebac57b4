from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from crm.models import Activity, Deal
from nudges import services
from nudges.models import Nudge

FIXTURES = Path(__file__).parent / "fixtures"


def test_list_shows_only_my_teams_nudges(api, nudge, foreign_nudge):
    response = api.get("/api/nudges/")
    assert response.status_code == 200
    ids = [row["id"] for row in response.json()["results"]]
    assert ids == [nudge.pk]
    row = response.json()["results"][0]
    assert row["warnings"][0]["code"] == "no_activity"
    assert row["stage"] == "proposal" and row["offline"] is True


@pytest.mark.parametrize(
    "query, found",
    [
        ("warning=no_activity", True),
        ("warning=ghosted", False),
        ("stage=proposal", True),
        ("stage=lead", False),
        ("status=open", True),
        ("status=done", False),
    ],
)
def test_list_filters(api, nudge, query, found):
    assert bool(api.get(f"/api/nudges/?{query}").json()["results"]) is found


def test_list_filter_by_owner(api, nudge, agent, teammate):
    assert api.get(f"/api/nudges/?owner={agent.pk}").json()["results"]
    assert not api.get(f"/api/nudges/?owner={teammate.pk}").json()["results"]


@pytest.mark.parametrize("query", ["warning=nonsense", "owner=abc", "status=zzz"])
def test_bad_filters_are_400_not_500(api, nudge, query):
    assert api.get(f"/api/nudges/?{query}").status_code == 400


def test_outsider_gets_404_on_detail_and_act(outsider_api, nudge):
    assert outsider_api.get(f"/api/nudges/{nudge.pk}/").status_code == 404
    assert outsider_api.post(f"/api/nudges/{nudge.pk}/act/", {"action": "done"}, format="json").status_code == 404
    nudge.refresh_from_db()
    assert nudge.status == Nudge.Status.OPEN


def test_act_done_snooze_dismiss(api, stale_deal, nudge):
    response = api.post(
        f"/api/nudges/{nudge.pk}/act/", {"action": "done", "kind": "call", "note": "Spoke"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "done"
    assert Activity.objects.filter(deal=stale_deal, kind="call", body="Spoke").exists()
    # the next one: make the deal stale again and snooze it
    Deal.objects.filter(pk=stale_deal.pk).update(last_activity_at=timezone.now() - timedelta(days=20))
    services.refresh_nudges(deal_ids=[stale_deal.pk])
    second = Nudge.objects.open().get()
    until = (timezone.now().date() + timedelta(days=10)).isoformat()
    response = api.post(
        f"/api/nudges/{second.pk}/act/", {"action": "snooze", "until": until, "reason": "budget freeze"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["snoozed_until"] == until


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"action": "snooze", "reason": "x"}, "until"),
        ({"action": "snooze", "until": "2099-01-01"}, "reason"),
        ({"action": "dismiss"}, "reason"),
        ({"action": "launch"}, "action"),
        ({}, "action"),
        ({"action": "done", "kind": "telepathy"}, "kind"),
        ({"action": "snooze", "until": "not-a-date", "reason": "x"}, "until"),
    ],
)
def test_act_validation_errors_are_400_with_field_errors(api, nudge, payload, field):
    response = api.post(f"/api/nudges/{nudge.pk}/act/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_act_on_a_closed_nudge_is_400(api, nudge):
    api.post(f"/api/nudges/{nudge.pk}/act/", {"action": "dismiss", "reason": "dup"}, format="json")
    response = api.post(f"/api/nudges/{nudge.pk}/act/", {"action": "done"}, format="json")
    assert response.status_code == 400
    assert "already dismissed" in response.json()["non_field_errors"][0]


def test_scan_endpoint_scans_my_teams(api, stale_deal, foreign_stale_deal, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/nudges/scan/", {}, format="json")
    assert response.status_code == 202
    assert response.json()["chunks"] == 1
    assert list(Nudge.objects.values_list("deal_id", flat=True)) == [stale_deal.pk]


def test_scan_of_another_team_is_400(api, other_team):
    response = api.post("/api/nudges/scan/", {"team": other_team.pk}, format="json")
    assert response.status_code == 400
    assert "team" in response.json()


def test_api_import_of_the_seed_files(api, team, stages):
    with open(FIXTURES / "crm_events.csv", "rb") as f:
        response = api.post("/api/nudges/import/crm-events/", {"team": team.pk, "file": f}, format="multipart")
    assert response.status_code == 200
    assert (response.json()["created"], response.json()["errors"]) == (2, [])
    with open(FIXTURES / "emails.json", "rb") as f:
        response = api.post("/api/nudges/import/emails/", {"team": team.pk, "file": f}, format="multipart")
    assert response.json()["created"] == 1


def test_api_import_reports_rows_and_rejects_unusable_files(api, team, stages):
    bad = SimpleUploadedFile("c.csv", b"deal_id,amount_eur,last_activity,stage\n,1,2024-01-01,lead\n")
    response = api.post("/api/nudges/import/crm-events/", {"team": team.pk, "file": bad}, format="multipart")
    assert response.status_code == 200
    assert response.json()["errors"] == [{"line": 2, "reason": "missing deal_id", "column": "deal_id", "file": "c.csv"}]
    assert (response.json()["status"], response.json()["rejected"]) == ("partial", 1)
    junk = SimpleUploadedFile("e.json", b"{not json")
    response = api.post("/api/nudges/import/emails/", {"team": team.pk, "file": junk}, format="multipart")
    assert response.status_code == 400
    assert response.json()["failed"]


def test_outsider_cannot_import_into_my_team(outsider_api, team, stages):
    with open(FIXTURES / "crm_events.csv", "rb") as f:
        response = outsider_api.post("/api/nudges/import/crm-events/", {"team": team.pk, "file": f}, format="multipart")
    assert response.status_code == 400
    assert "team" in response.json()
    assert Deal.objects.count() == 0


def test_anonymous_api_is_refused(client, nudge):
    assert client.get("/api/nudges/").status_code in (401, 403)


@pytest.mark.parametrize("query", ["owner=99999999999999999999999", "deal=-1", "deal=1.5"])
def test_out_of_range_ids_are_400(api, nudge, query):
    assert api.get(f"/api/nudges/?{query}").status_code == 400
