"""Integers in a JSON body are JSON integers (crm.drf_input.refuse_non_integer_numbers); query strings and
multipart bodies, where every value is a string, still read digits."""

import pytest
from django.http import QueryDict
from rest_framework import serializers

from crm.models import Account, Team


class Numbers(serializers.Serializer):
    n = serializers.IntegerField(required=False)
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), required=False)


@pytest.mark.parametrize("value", ["5", 5.0, "5.0", 5.5, True, [5]])
def test_a_json_integer_field_refuses_what_is_not_an_integer(value):
    numbers = Numbers(data={"n": value})
    assert not numbers.is_valid() and set(numbers.errors) == {"n"}


def test_a_json_integer_is_an_integer():
    numbers = Numbers(data={"n": 5})
    assert numbers.is_valid() and numbers.validated_data["n"] == 5


@pytest.mark.parametrize("offset", ["str", "float"])
def test_a_json_foreign_key_refuses_what_is_not_an_integer(team, offset):
    # 5.7 read as row 5 before: the model field's int() truncates.
    value = str(team.pk) if offset == "str" else team.pk + 0.7
    numbers = Numbers(data={"team": value})
    assert not numbers.is_valid() and set(numbers.errors) == {"team"}
    assert "Incorrect type" in str(numbers.errors["team"][0])


def test_a_json_foreign_key_takes_the_row_id(team):
    numbers = Numbers(data={"team": team.pk})
    assert numbers.is_valid() and numbers.validated_data["team"] == team


def test_a_query_string_still_reads_digits(team):
    numbers = Numbers(data=QueryDict(f"n=5&team={team.pk}"))
    assert numbers.is_valid(), numbers.errors
    assert numbers.validated_data == {"n": 5, "team": team}


def test_a_string_id_in_an_api_body_is_400_naming_it(api, team, agent):
    created = api.post("/api/accounts/", {"team": str(team.pk), "name": "StringCo"}, format="json")
    assert created.status_code == 400 and set(created.json()) == {"team"}
    managed = api.post(
        "/api/accounts/", {"team": team.pk, "name": "StringCo", "account_manager": str(agent.pk)}, format="json"
    )
    assert managed.status_code == 400 and set(managed.json()) == {"account_manager"}
    assert not Account.objects.filter(name="StringCo").exists()
    ok = api.post("/api/accounts/", {"team": team.pk, "name": "IntCo", "account_manager": agent.pk}, format="json")
    assert ok.status_code == 201, ok.content


def test_integer_query_parameters_still_work(api, team):
    response = api.get("/api/tickets/", {"team": team.pk, "limit": "5", "page": "1"})
    assert response.status_code == 200, response.content
    assert api.get("/api/tickets/", {"limit": "5.0"}).status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize("value", [False, True, "0.5"])
def test_a_number_field_takes_json_numbers_only(api, account, value):
    # DRF's FloatField read `false` as 0.0 and "0.5" as 0.5 where the schema says number (ST201 on
    # PATCH /api/tickets/{id}/triage/ `sentiment`); an account's churn_risk is the same kind of field.
    response = api.patch(f"/api/accounts/{account.pk}/", {"churn_risk": value}, format="json")
    assert response.status_code == 400 and "churn_risk" in response.json()
    assert api.patch(f"/api/accounts/{account.pk}/", {"churn_risk": 0.5}, format="json").status_code == 200
    assert api.patch(f"/api/accounts/{account.pk}/", {"churn_risk": 1}, format="json").status_code == 200
