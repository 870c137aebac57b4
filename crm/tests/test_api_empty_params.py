"""A typed query parameter sent empty (`?team=`, `?occurred_at__lt=`) is refused, as the schema says:
an empty value is not an integer, a date-time, a boolean or one of an enum's values. Handlers used to
read it as "not given" and answer 200 (schemathesis ST201, found at random by the fuzzer)."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from crm.drf import EMPTY_PARAMETER

SCHEMA = None


def _schema():
    global SCHEMA
    if SCHEMA is None:
        SCHEMA = SchemaGenerator().get_schema(public=True)
    return SCHEMA


def _typed_params():
    out = []
    for path, item in _schema()["paths"].items():
        if "{" in path:
            continue  # rows named in the path: covered where the ids exist (the conformance test)
        get = item.get("get")
        if not get:
            continue
        for p in get.get("parameters", []):
            schema = p.get("schema", {})
            if p.get("in") != "query":
                continue
            typed = schema.get("type") in ("integer", "number", "boolean") or schema.get("format") in (
                "date-time",
                "date",
            )
            if typed or "enum" in schema and "" not in schema["enum"]:
                out.append((path, p["name"]))
    return out


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["demo", "boss"])
def test_every_typed_query_parameter_sent_empty_is_refused(admin_user, who):
    """As the demo manager and as an admin (who also sees the gateway's usage and calls)."""
    call_command("load_demo", verbosity=0)
    client = APIClient()
    client.force_authenticate(get_user_model().objects.get(username=who))
    accepted, answered = [], 0
    params = _typed_params()
    assert len(params) > 40  # the schema was read
    for path, name in params:
        if "stream" in path:
            continue  # an endless event stream
        response = client.get(path, {name: ""})
        answered += response.status_code == 400
        if response.status_code < 400:
            accepted.append(f"{path}?{name}= -> {response.status_code}")
    assert not accepted, "\n".join(accepted)
    assert answered > 40


@pytest.mark.django_db
def test_an_empty_text_filter_is_still_taken_and_a_given_value_still_filters(api, account):
    assert (
        api.get("/api/accounts/", {"name__icontains": ""}).json()["results"][0]["id"] == account.pk
    )  # text: empty is a value
    assert api.get("/api/activities/", {"account": str(account.pk)}).status_code == 200
    refused = api.get("/api/activities/", {"account": ""})
    assert refused.status_code == 400 and refused.json() == {"account": [EMPTY_PARAMETER]}


@pytest.mark.django_db
def test_an_integer_filter_refuses_a_fraction(api):
    # django-filter's NumberFilter read `?source_id=0.5` as a decimal and answered an empty page.
    refused = api.get("/api/deliveries/", {"source_id": "0.5"})
    assert refused.status_code == 400 and "source_id" in refused.json()
    assert api.get("/api/deliveries/", {"source_id": "5"}).status_code == 200


@pytest.mark.django_db
def test_a_method_the_endpoint_lacks_is_405_even_where_the_caller_would_get_404(api):
    # The usage ledger hides itself from agents with 404; TRACE is still the method's fault (ST204).
    assert api.get("/api/llm/usage/").status_code == 404
    assert api.generic("TRACE", "/api/llm/usage/").status_code == 405
    assert api.delete("/api/llm/usage/").status_code == 405


@pytest.mark.django_db
def test_a_query_parameter_the_operation_does_not_document_is_refused_by_name(api, account):
    # A misspelt filter used to answer with every row; the schema lists all an operation takes.
    refused = api.get("/api/accounts/", {"nmae__icontains": "Tech", "name__icontains": "Tech"})
    assert refused.status_code == 400 and set(refused.json()) == {"nmae__icontains"}
    assert api.get("/api/accounts/", {"name__icontains": "Tech", "format": "json"}).status_code == 200
    assert api.get(f"/api/accounts/{account.pk}/", {"x": "1"}).status_code == 400
    assert api.get("/api/llm/usage/", {"x": "1"}).status_code == 404  # a hidden endpoint stays hidden


@pytest.mark.django_db
def test_a_literal_path_is_not_taken_for_a_template_that_also_matches_it(api, team):
    # /api/plans/runs/ documents `team` and `status`; the plan /api/plans/{public_id}/ documents neither.
    assert api.get("/api/plans/runs/", {"team": team.pk, "status": "done"}).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["team", "segment", "priority", "status"])
def test_a_nul_in_a_query_parameter_is_a_400_not_a_database_error(api, team, name):
    # The notifications endpoints read these by hand; PostgreSQL refuses NUL in a comparison (500).
    response = api.get("/api/notifications/notifications/", {name: "a\x00b"})
    assert response.status_code == 400 and set(response.json()) == {name}
