"""Usage rows carry the caller's opaque `scope` (crm passes the team id); crm's resolver decides
which scopes a user sees: a manager of team A never sees team B's rows, on the page or the API."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import _user
from crm.models import MANAGER_GROUP
from llm import BulkItem, ask, ask_many, offline_writer, use_provider
from llm.models import LLMCall, Outcome
from llm.scopes import register_scope_resolver, visible_scopes
from llm.testing import FakeProvider, reply

pytestmark = pytest.mark.django_db


@offline_writer("test.scoped")
def _scoped_offline(inputs):
    return f"Offline note for {inputs.get('customer', '')}"


def row(scope, feature, cost="0.010000"):
    return LLMCall.objects.create(
        feature=feature,
        provider="anthropic",
        model="claude-sonnet-4-6",
        outcome=Outcome.OK,
        input_tokens=1000,
        output_tokens=100,
        cost_usd=Decimal(cost),
        latency_ms=900,
        scope=scope,
        created_at=timezone.now() - timedelta(minutes=5),
    )


@pytest.fixture
def ledger(team, other_team):
    return {
        "blue": row(team.pk, "blue.only.feature", "0.100000"),
        "red": row(other_team.pk, "red.only.feature", "7.000000"),
        "none": row(None, "unscoped.feature", "3.000000"),
    }


@pytest.fixture
def red_manager(other_team):
    return _user("redboss", other_team, MANAGER_GROUP)


def api_for(user):
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_ask_and_ask_many_store_the_scope_the_caller_passes(team):
    ask(feature="test.scoped", system="s", prompt="p", inputs={"customer": "Dana"}, scope=team.pk)
    ask_many(
        feature="test.scoped",
        system="s",
        prompt="p",
        items=[BulkItem(key="a", inputs={"customer": "A"}, scope=team.pk), BulkItem(key="b", inputs={"customer": "B"})],
    )
    with use_provider(FakeProvider([reply("Hello Dana.")])):
        ask(feature="test.scoped", system="s", prompt="p", inputs={"customer": "Dana"}, scope=team.pk + 1000)
    assert sorted(LLMCall.objects.values_list("scope", flat=True), key=str) == sorted(
        [team.pk, team.pk, None, team.pk + 1000], key=str
    )


def test_crm_registers_team_visibility_as_the_resolver(manager, admin_user, team):
    assert visible_scopes(manager) == {team.pk}
    assert visible_scopes(admin_user) is None


def test_manager_of_team_a_never_sees_team_b_rows_on_the_page(client, manager, ledger):
    client.force_login(manager)
    response = client.get(reverse("llm:usage"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "blue.only.feature" in html
    assert "red.only.feature" not in html and "unscoped.feature" not in html
    summary = response.context["summary"]
    assert summary.totals.calls == 1 and summary.totals.cost_usd == Decimal("0.1")
    assert list(response.context["features"]) == ["blue.only.feature"]


def test_manager_of_team_a_never_sees_team_b_rows_in_the_api(manager, red_manager, ledger):
    api = api_for(manager)
    listed = api.get("/api/llm/calls/").json()["results"]
    assert [r["feature"] for r in listed] == ["blue.only.feature"]
    assert api.get(f"/api/llm/calls/{ledger['red'].pk}/").status_code == 404
    assert api.get(f"/api/llm/calls/{ledger['none'].pk}/").status_code == 404
    assert api.get(f"/api/llm/calls/{ledger['blue'].pk}/").status_code == 200
    summary = api.get("/api/llm/usage/").json()
    assert [r["feature"] for r in summary["rows"]] == ["blue.only.feature"] and summary["totals"]["calls"] == 1
    # ...and the other way round.
    red = api_for(red_manager)
    assert [r["feature"] for r in red.get("/api/llm/calls/").json()["results"]] == ["red.only.feature"]
    assert red.get(f"/api/llm/calls/{ledger['blue'].pk}/").status_code == 404


def test_filtering_by_a_foreign_feature_shows_nothing(client, manager, ledger):
    client.force_login(manager)
    response = client.get(reverse("llm:usage"), {"feature": "red.only.feature"})
    assert response.context["summary"].rows == [] and "7.0000" not in response.content.decode()
    assert api_for(manager).get("/api/llm/calls/", {"feature": "red.only.feature"}).json()["results"] == []


def test_admin_sees_every_row_including_unscoped(client, admin_user, ledger):
    client.force_login(admin_user)
    summary = client.get(reverse("llm:usage")).context["summary"]
    assert {r.feature for r in summary.rows} == {"blue.only.feature", "red.only.feature", "unscoped.feature"}
    assert len(api_for(admin_user).get("/api/llm/calls/").json()["results"]) == 3


def test_outsider_and_agent_see_nothing(agent_client, outsider_client, agent, outsider, ledger):
    for client in (agent_client, outsider_client):
        assert client.get(reverse("llm:usage")).status_code == 404
    for user in (agent, outsider):
        api = api_for(user)
        assert api.get("/api/llm/calls/").status_code == 404
        assert api.get("/api/llm/usage/").status_code == 404
        assert api.get(f"/api/llm/calls/{ledger['blue'].pk}/").status_code == 404
    assert not LLMCall.objects.visible_to(outsider).exists()


def test_a_manager_sees_whether_a_budget_is_used_up_but_not_other_teams_spend(client, manager, admin_user, settings):
    from llm.config import parse_budgets

    settings.LLM_BUDGETS = parse_budgets("red.only.feature=1000tok")
    row(None, "red.only.feature")  # 1,100 tokens today, spent by another team
    client.force_login(manager)
    html = client.get(reverse("llm:usage")).content.decode()
    assert "used up" in html and "1,100 of 1,000 tokens" not in html
    client.force_login(admin_user)
    assert "1,100 of 1,000 tokens" in client.get(reverse("llm:usage")).content.decode()


def test_without_a_resolver_every_permitted_user_sees_every_scope(manager, ledger, monkeypatch):
    from llm import scopes

    monkeypatch.setattr(scopes, "_resolver", [])
    assert visible_scopes(manager) is None
    assert LLMCall.objects.visible_to(manager).count() == 3
    monkeypatch.setattr(scopes, "_resolver", [])
    register_scope_resolver(lambda user: {ledger["red"].scope})
    assert list(LLMCall.objects.visible_to(manager)) == [ledger["red"]]


def test_page_query_count_is_flat_for_a_scoped_manager(client, manager, team, django_assert_max_num_queries):
    for i in range(40):
        row(team.pk, f"feature.{i}")
    client.force_login(manager)
    with django_assert_max_num_queries(14):
        assert client.get(reverse("llm:usage")).status_code == 200
