"""API bodies are JSON, except the file uploads, which are multipart (docs/api.md, Bodies)."""

from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import QueryDict
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers
from rest_framework.test import APIClient

from crm.models import Account, Deal

UPLOADS = {
    "/api/assistant/playbooks/",
    "/api/notifications/import/",
    "/api/nudges/import/crm-events/",
    "/api/nudges/import/emails/",
}


def _form(client, method, url, data, kind):
    if kind == "multipart":
        return getattr(client, method)(url, data, format="multipart")
    return getattr(client, method)(url, urlencode(data), content_type="application/x-www-form-urlencoded")


@pytest.mark.parametrize("kind", ["multipart", "urlencoded"])
def test_a_form_body_to_a_json_endpoint_is_415_naming_the_type_and_writes_nothing(api, team, deal, kind):
    created = _form(api, "post", "/api/accounts/", {"team": team.pk, "name": "FormCo"}, kind)
    assert created.status_code == 415, created.content
    assert "Unsupported media type" in created.json()["detail"]
    assert not Account.objects.filter(name="FormCo").exists()

    changed = _form(api, "patch", f"/api/deals/{deal.pk}/", {"name": "Renamed by form"}, kind)
    assert changed.status_code == 415
    assert Deal.objects.get(pk=deal.pk).name == "TechGiant renewal"


def test_the_token_endpoint_takes_json_only(agent):
    from conftest import PASSWORD

    form = APIClient().post("/api/token/", {"username": "agent", "password": PASSWORD}, format="multipart")
    assert form.status_code == 415
    token = APIClient().post("/api/token/", {"username": "agent", "password": PASSWORD}, format="json")
    assert token.status_code == 200 and token.json()["token"]


def test_a_json_body_to_a_file_upload_is_415(api, team):
    response = api.post("/api/nudges/import/crm-events/", {"team": team.pk, "file": "deal_id,amount"}, format="json")
    assert response.status_code == 415 and "application/json" in response.json()["detail"]


def test_a_file_upload_still_takes_multipart_with_its_string_flags(api, team):
    upload = SimpleUploadedFile("crm_events.csv", b"deal_id,amount_eur,last_activity,stage\nD-1,100,2026-11-01,lead\n")
    response = api.post(
        "/api/nudges/import/crm-events/", {"team": team.pk, "file": upload, "dry_run": "true"}, format="multipart"
    )
    assert response.status_code == 200, response.content
    assert response.json()["dry_run"] is True and not Deal.objects.filter(external_id="D-1").exists()


def test_the_schema_lists_json_bodies_only_except_the_uploads():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    bodies = {
        (path, method): set(operation["requestBody"]["content"])
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation
    }
    assert {path for path, _ in bodies} >= UPLOADS
    for (path, method), types in bodies.items():
        expected = {"multipart/form-data"} if path in UPLOADS else {"application/json"}
        assert types == expected, (method, path)
        assert "415" in schema["paths"][path][method]["responses"], (method, path)


class Flags(serializers.Serializer):
    flag = serializers.BooleanField()


@pytest.mark.parametrize("value", ["true", "false", 1, 0, "yes", "on", None])
def test_a_json_boolean_field_takes_true_or_false_only(value):
    flags = Flags(data={"flag": value})
    assert not flags.is_valid() and set(flags.errors) == {"flag"}


@pytest.mark.parametrize("value", [True, False])
def test_json_true_and_false_are_booleans(value):
    flags = Flags(data={"flag": value})
    assert flags.is_valid() and flags.validated_data["flag"] is value


def test_a_query_string_or_multipart_flag_reads_form_strings():
    flags = Flags(data=QueryDict("flag=false"))
    assert flags.is_valid() and flags.validated_data["flag"] is False
    assert not Flags(data=QueryDict("flag=maybe")).is_valid()


def test_a_string_for_a_boolean_in_an_api_body_is_400_naming_it(api, team):
    response = api.post("/api/plans/runs/", {"stale_only": "true"}, format="json")
    assert response.status_code == 400 and set(response.json()) == {"stale_only"}
