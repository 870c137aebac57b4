"""The storage checks every boundary shares (crm.validators) and the API's refusal handler (crm.errors)."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from crm.errors import ServiceError, api_exception_handler
from crm.models import Account, Activity, Membership
from crm.validators import bounded_datetime, bounded_decimal, check_json_text, clean_json, clean_text
from crm.visibility import visible_team_ids


@pytest.mark.parametrize(
    ("value", "max_length", "reason"),
    [
        ("a\x00b", None, "NUL at position 2"),
        ("x\ud800", None, r"U\+D800"),
        ("é" * 11, 10, "11 characters long; at most 10"),
        (5, None, "must be text"),
    ],
)
def test_clean_text_refuses_what_postgresql_text_cannot_hold(value, max_length, reason):
    with pytest.raises(ServiceError, match=reason) as caught:
        clean_text(value, max_length=max_length, field="name")
    assert caught.value.field == "name"


def test_clean_text_keeps_ordinary_unicode():
    assert clean_text("Zoë 🎉 \u200b\ufffe", max_length=10) == "Zoë 🎉 \u200b\ufffe"


@pytest.mark.parametrize(
    "value",
    [
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5))),  # year 10000 in UTC
        datetime(9999, 12, 31, 12, 0, tzinfo=UTC),  # year 10000 in Kiribati
        datetime(1899, 12, 31, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))),
    ],
)
def test_bounded_datetime_refuses_instants_some_time_zone_cannot_show(value):
    with pytest.raises(ServiceError, match="outside the years 1900-9999"):
        bounded_datetime(value, field="last_activity")


def test_bounded_datetime_converts_to_utc_and_reads_naive_as_utc():
    assert bounded_datetime(datetime(2024, 1, 1, 5, tzinfo=timezone(timedelta(hours=5)))) == datetime(
        2024, 1, 1, tzinfo=UTC
    )
    assert bounded_datetime(datetime(2024, 1, 1)) == datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1e12", "too large"),
        ("999999999999.999", "too large"),  # rounds up past the column
        ("NaN", "finite"),
        ("-Infinity", "finite"),
        ("12,5", "not a number"),
        ("-1", "cannot be below 0"),
    ],
)
def test_bounded_decimal_refuses_amounts_that_do_not_fit(value, reason):
    with pytest.raises(ServiceError, match=reason):
        bounded_decimal(value, max_digits=14, decimal_places=2, minimum=Decimal(0))


def test_bounded_decimal_rounds_to_the_column():
    assert bounded_decimal("12.345", max_digits=14, decimal_places=2) == Decimal("12.34")
    assert bounded_decimal("999999999999.99", max_digits=14, decimal_places=2) == Decimal("999999999999.99")


def test_json_depth_is_checked_on_text_before_parsing_and_on_values():
    deep = "[" * 5000 + "]" * 5000
    with pytest.raises(ServiceError, match="5000 levels"):
        check_json_text(deep)
    assert check_json_text('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}') is not None  # brackets in strings
    nested: list = []
    for _ in range(40):
        nested = [nested]
    with pytest.raises(ServiceError, match="deeper than 32"):
        clean_json(nested)
    with pytest.raises(ServiceError, match="NUL"):
        clean_json({"k\x00": 1})
    assert clean_json({"a": [1, "b", {"c": None}]}) == {"a": [1, "b", {"c": None}]}


def _nested(depth):
    value: list = [1]
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "Nul\x00Corp"}, "name"),
        ({"name": "Deep", "extra": {"a": _nested(40)}}, "extra"),
        ({"name": "Nul in JSON", "extra": {"note": "a\x00"}}, "extra"),
    ],
)
def test_api_write_with_unstorable_value_is_400_naming_the_field(api, team, payload, field):
    response = api.post("/api/accounts/", {"team": team.pk, **payload}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Account.objects.exists()


def test_api_write_with_a_lone_surrogate_is_400(api, team):
    # JSON's \ud83d escape without its pair decodes to a lone surrogate, which UTF-8 cannot encode.
    body = '{"team": TEAM, "name": "Surrogate \\ud83d Corp"}'.replace("TEAM", str(team.pk))
    response = api.post("/api/accounts/", body, content_type="application/json")
    assert response.status_code == 400
    assert "name" in response.json()
    assert not Account.objects.exists()


def test_api_activity_in_year_10000_is_400(api, account):
    response = api.post(
        "/api/activities/",
        {"account": account.pk, "kind": "note", "body": "x", "occurred_at": "9999-12-31T23:59:59-05:00"},
        format="json",
    )
    assert response.status_code == 400
    assert "occurred_at" in response.json()
    assert not Activity.objects.exists()


@pytest.mark.parametrize(("code", "status"), [("invalid", 400), ("conflict", 409)])
def test_service_error_becomes_400_or_409_naming_the_field(code, status):
    response = api_exception_handler(ServiceError("Nope.", code=code, field="reason"), {})
    assert (response.status_code, response.data) == (status, {"reason": ["Nope."]})


def test_visible_team_ids_for_each_persona(agent, admin_user, outsider, team, other_team, django_user_model):
    assert visible_team_ids(agent) == {team.pk}
    assert visible_team_ids(outsider) == {other_team.pk}
    assert visible_team_ids(admin_user) is None
    loner = django_user_model.objects.create_user("loner")
    assert visible_team_ids(loner) == set()
    from django.contrib.auth.models import AnonymousUser

    assert visible_team_ids(AnonymousUser()) == set()


def test_visible_team_ids_is_memoised_per_user_object_and_can_be_forgotten(
    agent, other_team, django_assert_num_queries
):
    from crm.visibility import forget

    first = visible_team_ids(agent)
    with django_assert_num_queries(0):
        assert visible_team_ids(agent) == first
    Membership.objects.create(user=agent, team=other_team)
    forget(agent)
    assert visible_team_ids(agent) == first | {other_team.pk}
