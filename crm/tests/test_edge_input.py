"""Edge input never reaches a 5xx (issue 10, item 2): every JSON write endpoint, every datetime
filter and every cursor of the API, walked from the OpenAPI schema so new endpoints are covered."""

import json
from functools import cache
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from config.celery import app
from crm.models import Activity, Contact

BODY_METHODS = ("post", "put", "patch")


@cache
def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _json_write_operations() -> list[tuple[str, str]]:
    ops = []
    for path, item in _schema()["paths"].items():
        for method, op in item.items():
            if method in BODY_METHODS and "application/json" in (op.get("requestBody") or {}).get("content", {}):
                ops.append((method, path))
    return ops


def _list_params(fmt: str | None = None, name: str | None = None) -> list[tuple[str, str]]:
    found = []
    for path, item in _schema()["paths"].items():
        op = item.get("get")
        if not op or "{" in path:
            continue
        for param in op.get("parameters", []):
            schema = param.get("schema", {})
            if param["in"] == "query" and (schema.get("format") == fmt if fmt else param["name"] == name):
                found.append((path, param["name"]))
    return found


@pytest.fixture
def world(db):
    app.loader.import_default_modules()  # every app's tasks registered, as in a worker
    call_command("load_demo", stdout=StringIO())
    # demo: an agent on three teams, so every list has rows to aim the {id} endpoints at.
    client = APIClient()
    client.force_authenticate(get_user_model().objects.get(username="demo"))
    return client


def _expected(client, method, url, wanted=400):
    """`wanted`, unless this user cannot reach the endpoint at all (a manager-only write: 403;
    a permission that answers 404): then the same refusal, which never reads the body."""
    baseline = _send(client, method, url, "{}").status_code
    return baseline if baseline in (403, 404) else wanted


def _concrete(client, path: str) -> str:
    """Fill {id} with the id of a real row the user sees (the list endpoint's first)."""
    if "{id}" not in path:
        return path
    prefix = path.split("{id}")[0]
    candidates = [prefix, prefix.replace("/api/ai/", "/api/")]
    for url in candidates:
        response = client.get(url)
        if response.status_code == 200:
            body = response.json()
            rows = body.get("results") or body.get("tickets") or [] if isinstance(body, dict) else body
            if rows:
                return path.replace("{id}", str(rows[0]["id"]))
    return path.replace("{id}", "1")


def _send(client, method, url, raw: str):
    return getattr(client, method)(url, data=raw, content_type="application/json")


def test_every_json_write_endpoint_is_found(world):
    ops = _json_write_operations()
    assert ("post", "/api/deals/") in ops and ("post", "/api/tickets/") in ops and len(ops) >= 25


NUL_BODY = json.dumps({"name": "a\x00b", "subject": "x\x00", "body": "\x00", "text": "\x00", "note": "\x00"})
# Each body with the field a 400 must name (None: any 400).
HOSTILE_BODIES = [
    ('{"name": ' + "[" * 40 + "]" * 40 + "}", "name"),  # deeper than we accept, parses fine
    ('{"name": ' + "[" * 5_000 + "]" * 5_000 + "}", None),  # deeper than Python's parser recurses
    ("[" * 100_000 + "]" * 100_000, None),
    (NUL_BODY, "name"),
    ('{"name": "\\ud800"}', "name"),  # a lone surrogate: not encodable as UTF-8
    ('{"name": NaN}', None),
    ('{"a\\u0000": 1}', None),
]


def test_hostile_json_bodies_are_a_400_naming_the_field_on_every_json_write_endpoint(world):
    bad = {}
    for method, path in _json_write_operations():
        url = _concrete(world, path)
        expected = _expected(world, method, url)
        for body, field in HOSTILE_BODIES:
            response = _send(world, method, url, body)
            named = field is None or expected != 400 or field in response.json()
            if response.status_code != expected or not named:
                bad[(method, path, body[:30])] = response.status_code
    assert bad == {}


OUT_OF_RANGE = [
    "2024-01-01T00:00:00+16:00",
    "2024-01-01T00:00:00-23:59",
    "9999-12-31T23:59:59-05:00",
    "0001-01-01T00:00:00+05:00",
]


def test_datetime_filters_out_of_range_are_a_400_naming_the_filter(world):
    params = _list_params(fmt="date-time")
    assert ("/api/deals/", "last_activity_at__lt") in params and ("/api/llm/calls/", "created_at__gte") in params
    bad = {}
    for path, name in params:
        if world.get(path).status_code == 404:  # not this user's (the usage ledger: managers)
            continue
        for value in OUT_OF_RANGE:
            response = world.get(path, {name: value})
            if response.status_code != 400 or name not in response.json():
                bad[(path, name, value)] = (response.status_code, response.content[:200])
    assert bad == {}


def _boolean_params() -> list[tuple[str, str]]:
    return [
        (path, param["name"])
        for path, item in _schema()["paths"].items()
        if (op := item.get("get")) and "{" not in path
        for param in op.get("parameters", [])
        if param["in"] == "query" and param.get("schema", {}).get("type") == "boolean"
    ]


def test_boolean_filters_refuse_anything_but_true_or_false(world):
    # django-filter read `null` or a typo as "no filter" and listed every row (schemathesis ST201).
    params = _boolean_params()
    assert ("/api/contacts/", "opted_out") in params
    bad = {}
    for path, name in params:
        if world.get(path).status_code == 404:
            continue
        for value in ("null", "maybe", "2"):
            response = world.get(path, {name: value})
            if response.status_code != 400 or name not in response.json():
                bad[(path, name, value)] = (response.status_code, response.content[:200])
        for value in ("true", "false", "1", "0"):
            if (status := world.get(path, {name: value}).status_code) != 200:
                bad[(path, name, value)] = status
    assert bad == {}


def test_the_issues_example_offset_filter_is_a_400_and_an_in_range_offset_works(api, deal):
    response = api.get("/api/deals/?last_activity_at__lt=2024-01-01T00:00:00%2B16:00")
    assert response.status_code == 400
    assert "UTC offset" in response.json()["last_activity_at__lt"][0]
    assert api.get("/api/deals/", {"last_activity_at__lt": "2024-01-01T00:00:00+14:00"}).status_code == 200


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


BAD_CURSORS = [
    "garbage",
    '{"a": {"b": {"c": [1, 2, {"d": null}]}}}',
    _b64("p=abc"),
    _b64("p=99999999999999999999999"),
    _b64("p=" + json.dumps({"a": {"b": 1}})),
    _b64("o=-1"),
    _b64("r=x"),
    _b64("p=\x00"),
]


def test_a_page_cursor_holding_garbage_or_nested_json_is_a_400_on_every_cursor_list(world):
    lists = _list_params(name="cursor")
    assert ("/api/deals/", "cursor") in lists
    bad = {}
    for path, _ in lists:
        if world.get(path).status_code == 404:  # not this user's (the usage ledger: managers)
            continue
        for cursor in BAD_CURSORS:
            response = world.get(path, {"cursor": cursor})
            if response.status_code != 400:
                bad[(path, cursor)] = response.status_code
    assert bad == {}
    page = world.get("/api/deals/", {"limit": 2}).json()  # a real cursor still walks the pages
    assert page["next"]
    assert world.get(page["next"]).status_code == 200


# --- console ----------------------------------------------------------------------------------


@pytest.mark.parametrize("deal_id", ["abc", "1.5", "99999999999999999999999", "\x00", "-1"])
def test_a_non_numeric_deal_id_on_the_account_note_form_is_a_form_error(agent_client, account, deal, deal_id):
    response = agent_client.post(
        reverse("crm:account_log_activity", args=[account.pk]),
        {"kind": "note", "subject": "Call", "body": "Spoke to Dana", "deal": deal_id},
        follow=True,
    )
    assert response.status_code in (200, 400)
    assert "Could not log it" in response.content.decode()
    assert not Activity.objects.filter(body="Spoke to Dana").exists()


def test_the_note_form_still_logs_on_a_deal(agent_client, account, deal):
    agent_client.post(
        reverse("crm:account_log_activity", args=[account.pk]),
        {"kind": "note", "subject": "Call", "body": "Spoke to Dana", "deal": str(deal.pk)},
    )
    assert Activity.objects.get(body="Spoke to Dana").deal == deal


# --- emails -----------------------------------------------------------------------------------


@pytest.mark.parametrize("sender", ["not-an-email", "a@", "@b.example", "dana@techgiant.example\x00"])
def test_inbound_email_with_an_invalid_sender_address_is_refused(api, team, sender):
    response = api.post(
        "/api/inbound/messages/",
        {"team": team.slug, "channel": "email", "sender": sender, "subject": "Hi", "body": "Hello"},
        format="json",
    )
    assert response.status_code == 400
    assert "sender" in response.json()
    # (PostgreSQL refuses NUL even in a query, so the NUL case is checked by the 400 alone.)
    assert "\x00" in sender or not Contact.objects.exclude(email="").filter(email=sender).exists()


def test_contacts_refuse_an_invalid_email(api, account):
    response = api.post("/api/contacts/", {"account": account.pk, "name": "X", "email": "nope"}, format="json")
    assert response.status_code == 400 and "email" in response.json()


@pytest.mark.parametrize("value", [0, 1.5, True, ["en"], {"x": 1}])
def test_text_fields_refuse_numbers_and_other_non_strings(api, account, value):
    # DRF's CharField stored `"language": 0` as "0" where the schema says string (schemathesis ST201).
    response = api.post("/api/contacts/", {"account": account.pk, "name": "X", "language": value}, format="json")
    assert response.status_code == 400 and "language" in response.json()
    ok = api.post("/api/contacts/", {"account": account.pk, "name": "X", "language": "en"}, format="json")
    assert ok.status_code == 201, ok.content


def test_a_text_over_its_max_length_is_refused_even_when_it_is_whitespace_that_would_be_trimmed(api, team):
    # DRF trims first and checks max_length on the rest: 500 characters and a leading no-break space
    # were taken where the schema says maxLength 500 (schemathesis ST201 on /api/topic-alerts/).
    longest = "refund, " + "x" * 492
    sent = api.post("/api/topic-alerts/", {"team": team.pk, "text": "\u00a0" + longest}, format="json")
    assert sent.status_code == 400 and "500" in str(sent.json()["text"])
    assert api.post("/api/topic-alerts/", {"team": team.pk, "text": " refund "}, format="json").status_code == 201
