"""The schema states the limits the API enforces (docs/api.md, "What the schema says"): a limit
checked in validate() or in a service is invisible to clients and to schemathesis, which then
generates "valid" input that gets a 400."""

import pytest
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _parameter(schema, path, name):
    return next(p["schema"] for p in schema["paths"][path]["get"]["parameters"] if p["name"] == name)


@pytest.mark.parametrize(
    ("component", "field", "expected"),
    [
        ("AccountRequest", "churn_risk", {"minimum": 0, "maximum": 1}),
        ("PatchedAccountRequest", "churn_risk", {"minimum": 0, "maximum": 1}),
        ("WeightSetRequest", "age_cap", {"minimum": 0, "maximum": 1000}),
        ("WeightSetRequest", "sentiment_threshold", {"minimum": 0, "maximum": 1000}),
        ("WeightSetRequest", "churn", {"minimum": -1000, "maximum": 1000}),
        ("AssistantAskRequest", "question", {"minLength": 1, "pattern": r"\S"}),
    ],
)
def test_body_fields_document_their_bounds(schema, component, field, expected):
    documented = schema["components"]["schemas"][component]["properties"][field]
    assert expected.items() <= documented.items(), documented


@pytest.mark.parametrize("path", ["/api/deals/", "/api/nudges/", "/api/deliveries/", "/api/plans/runs/"])
def test_the_page_size_is_documented_as_at_least_one(schema, path):
    assert _parameter(schema, path, "limit") == {"type": "integer", "minimum": 1}


@pytest.mark.parametrize("name", ["deal", "owner"])
def test_nudge_id_filters_are_positive_integers(schema, name):
    assert _parameter(schema, "/api/nudges/", name) == {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}


def test_the_bounds_moved_into_fields_still_answer_with_their_reasons(api, team, manager):
    from rest_framework.test import APIClient

    risky = api.post("/api/accounts/", {"team": team.pk, "name": "RiskCo", "churn_risk": 1.5}, format="json")
    assert risky.json() == {"churn_risk": ["Churn risk is a share between 0 and 1."]}
    blank = api.post("/api/assistant/ask/", {"question": "   "}, format="json")
    assert blank.status_code == 400 and blank.json()["question"] == ["Ask a question first."]
    managing = APIClient()
    managing.force_authenticate(manager)
    weights = managing.post("/api/scoring-weights/", {"team": team.pk, "age_cap": -1}, format="json")
    assert weights.status_code == 400 and weights.json()["age_cap"] == ["Must be zero or more."]


def test_money_fields_take_a_decimal_string_or_a_number_in_bodies_and_answer_strings(schema, api, team):
    components = schema["components"]["schemas"]
    body = components["AccountRequest"]["properties"]["lifetime_value"]
    assert [s["type"] for s in body["oneOf"]] == ["string", "number"] and body["oneOf"][0]["format"] == "decimal"
    assert components["Account"]["properties"]["lifetime_value"]["type"] == "string"  # answers: exact text
    for sent in (12.5, "12.50"):
        created = api.post(
            "/api/accounts/", {"team": team.pk, "name": f"Co {sent}", "lifetime_value": sent}, format="json"
        )
        assert created.status_code == 201 and created.json()["lifetime_value"] == "12.50"
