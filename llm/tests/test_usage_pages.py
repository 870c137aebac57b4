"""Settings -> AI usage, the admin summary, the API and `manage.py llm_usage` show the same figures."""

import json
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from llm import ask
from llm.models import LLMCall, Outcome
from llm.usage import nearest_rank, summarize

pytestmark = pytest.mark.django_db


# Rows belong to the persona team's scope, so its manager sees them (scoping: test_usage_scopes.py).
SCOPE = {}


@pytest.fixture(autouse=True)
def team_scope(team):
    SCOPE["team"] = team.pk
    return team.pk


def call(feature="tickets.draft", days_ago=0, **kw):
    defaults = {
        "scope": SCOPE["team"],
        "provider": "anthropic",
        "model": "claude-sonnet-4-6",
        "outcome": Outcome.OK,
        "input_tokens": 1000,
        "output_tokens": 200,
        "cost_usd": Decimal("0.006"),
        "latency_ms": 1500,
        "created_at": timezone.now() - timedelta(days=days_ago),
    }
    defaults.update(kw)
    return LLMCall.objects.create(feature=feature, **defaults)


@pytest.fixture
def ledger(db):
    for ms in (100, 200, 300, 400, 2000):
        call(latency_ms=ms)
    call(outcome=Outcome.CACHE_HIT, cache_hit=True, input_tokens=0, output_tokens=0, cost_usd=0, latency_ms=0.4)
    call(outcome=Outcome.FALLBACK, error_kind="temporary", input_tokens=0, output_tokens=0, cost_usd=0, latency_ms=9000)
    call(outcome=Outcome.FALLBACK, error_kind="budget", input_tokens=0, output_tokens=0, cost_usd=0, latency_ms=3)
    call(feature="nudges.nudge", days_ago=1, cache_read_tokens=4000)
    call(feature="old.feature", days_ago=30)


def test_summary_counts_per_feature_and_day(ledger):
    today = timezone.localdate()
    summary = summarize(since=today - timedelta(days=6), until=today)
    rows = {(r.day, r.feature): r for r in summary.rows}
    assert set(rows) == {(today, "tickets.draft"), (today - timedelta(days=1), "nudges.nudge")}
    draft = rows[(today, "tickets.draft")]
    assert (draft.calls, draft.cache_hits, draft.failures, draft.fallbacks) == (8, 1, 1, 2)
    assert (draft.input_tokens, draft.output_tokens, draft.cost_usd) == (5000, 1000, Decimal("0.030"))
    # Uncached latencies 3, 100, 200, 300, 400, 2000, 9000 -> nearest-rank p50 = 300, p95 = 9000.
    assert (draft.p50_ms, draft.p95_ms) == (300, 9000)
    assert summary.totals.calls == 9 and summary.totals.cache_read_tokens == 4000


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [([], 0.5, None), ([5], 0.95, 5), ([1, 2, 3, 4], 0.5, 2), ([1, 2, 3, 4], 0.95, 4), (list(range(1, 101)), 0.95, 95)],
)
def test_nearest_rank_percentiles(values, p, expected):
    assert nearest_rank(values, p) == expected


def test_manager_sees_usage_page(client, manager, ledger):
    client.force_login(manager)
    response = client.get(reverse("llm:usage"))
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        '<td class="feature">tickets.draft</td>' in html
        and '<td class="feature">nudges.nudge</td>' in html
        and '<td class="feature">old.feature</td>' not in html
    )
    assert "300 ms" in html and "9000 ms" in html


def test_usage_page_filters_by_feature_and_dates(client, manager, ledger):
    client.force_login(manager)
    old = (timezone.localdate() - timedelta(days=30)).isoformat()
    response = client.get(reverse("llm:usage"), {"since": old, "until": old, "feature": "old.feature"})
    html = response.content.decode()
    assert "old.feature" in response.context["summary"].rows[0].feature and "tickets.draft</td>" not in html


def test_usage_page_rejects_reversed_dates_with_a_message(client, manager):
    client.force_login(manager)
    response = client.get(reverse("llm:usage"), {"since": "2026-02-10", "until": "2026-02-01"})
    assert response.status_code == 200 and response.context["summary"] is None
    assert "Must be on or before the end date." in response.content.decode()


def test_usage_page_query_count_is_flat(client, manager, ledger, django_assert_max_num_queries):
    client.force_login(manager)
    for i in range(50):
        call(feature=f"feature.{i}")
    with django_assert_max_num_queries(12):
        assert client.get(reverse("llm:usage")).status_code == 200


def test_agent_and_outsider_get_404_on_the_usage_page(agent_client, outsider_client):
    assert agent_client.get(reverse("llm:usage")).status_code == 404
    assert outsider_client.get(reverse("llm:usage")).status_code == 404


def test_usage_page_shows_exhausted_budget(client, admin_user, settings):
    from llm.config import parse_budgets

    settings.LLM_BUDGETS = parse_budgets("tickets.draft=1000tok")
    call(input_tokens=900, output_tokens=300)
    client.force_login(admin_user)  # budget figures are every team's spend: admins only
    html = client.get(reverse("llm:usage")).content.decode()
    assert "1,200 of 1,000 tokens" in html and "used up" in html


def test_api_usage_matches_the_page(manager, ledger):
    api = APIClient()
    api.force_authenticate(manager)
    response = api.get("/api/llm/usage/", {"feature": "tickets.draft"})
    assert response.status_code == 200
    body = response.json()
    assert [r["feature"] for r in body["rows"]] == ["tickets.draft"]
    row = body["rows"][0]
    assert (row["calls"], row["cache_hits"], row["failures"], row["fallbacks"], row["p50_ms"]) == (8, 1, 1, 2, 300)
    assert row["cost_usd"] == "0.030000" and body["totals"]["calls"] == 8


def test_api_usage_bad_dates_are_a_400_with_field_errors(manager):
    api = APIClient()
    api.force_authenticate(manager)
    assert api.get("/api/llm/usage/", {"since": "not-a-date"}).status_code == 400
    response = api.get("/api/llm/usage/", {"since": "2026-03-01", "until": "2026-01-01"})
    assert response.status_code == 400 and "since" in response.json()


def test_api_ledger_lists_calls_for_managers(manager, ledger):
    api = APIClient()
    api.force_authenticate(manager)
    response = api.get("/api/llm/calls/", {"feature": "nudges.nudge"})
    assert response.status_code == 200
    assert [r["feature"] for r in response.json()["results"]] == ["nudges.nudge"]


def test_api_is_404_for_agents_and_outsiders_and_401_anonymous(api, outsider_api, ledger):
    for client in (api, outsider_api):
        assert client.get("/api/llm/usage/").status_code == 404
        assert client.get("/api/llm/calls/").status_code == 404
        assert client.get(f"/api/llm/calls/{LLMCall.objects.first().pk}/").status_code == 404
    assert APIClient().get("/api/llm/usage/").status_code in (401, 403)


def test_admin_changelist_shows_the_summary(client, ledger):
    boss = get_user_model().objects.create_superuser("root", "root@example.com", "pw-not-used")
    client.force_login(boss)
    response = client.get(reverse("admin:llm_llmcall_changelist"), {"feature": "nudges.nudge"})
    assert response.status_code == 200
    summary = response.context["usage_summary"]
    assert [r.feature for r in summary.rows] == ["nudges.nudge"] and summary.rows[0].cache_read_tokens == 4000


def test_management_command_prints_the_same_summary(ledger):
    out = StringIO()
    call_command("llm_usage", "--days", "7", stdout=out)
    text = out.getvalue()
    assert "tickets.draft" in text and "nudges.nudge" in text and "old.feature" not in text
    assert text.splitlines()[-1].split()[:3] == ["TOTAL", "all", "9"]
    out = StringIO()
    call_command("llm_usage", "--feature", "tickets.draft", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["rows"][0]["calls"] == 8 and data["rows"][0]["p95_ms"] == 9000


def test_management_command_rejects_bad_ranges():
    with pytest.raises(CommandError):
        call_command("llm_usage", "--since", "2026-05-01", "--until", "2026-04-01")


def test_offline_calls_are_counted_on_the_page(client, manager):
    for _ in range(3):
        ask(feature="test.draft", system="s", prompt="p", inputs={"customer": "Dana"}, scope=SCOPE["team"])
    client.force_login(manager)
    summary = client.get(reverse("llm:usage")).context["summary"]
    assert summary.rows[0].feature == "test.draft" and summary.rows[0].calls == 3


@pytest.mark.parametrize(
    "params",
    [
        {"until": "0001-01-01"},
        {"since": "9999-12-31"},
        {"since": "0001-01-01", "until": "9999-12-31"},
        {"feature": "x" * 500},
        {"feature": "nul\x00char"},
        {"since": "2026-13-45"},
    ],
)
def test_odd_filters_never_500(client, manager, params):
    api = APIClient()
    api.force_authenticate(manager)
    assert api.get("/api/llm/usage/", params).status_code in (200, 400)
    client.force_login(manager)
    assert client.get(reverse("llm:usage"), params).status_code == 200


def test_api_ledger_list_query_count_is_flat(manager, account, django_assert_max_num_queries):
    api = APIClient()
    api.force_authenticate(manager)
    for _ in range(30):
        call(content_type_id=None)
        ask(
            feature="test.draft",
            system="s",
            prompt="p",
            inputs={"customer": "Dana"},
            about=account,
            scope=account.team_id,
        )
    with django_assert_max_num_queries(6):
        response = api.get("/api/llm/calls/")
    assert response.status_code == 200 and len(response.json()["results"]) == 50
    assert {r["about_type"] for r in response.json()["results"]} == {"", "account"}


def test_management_command_shows_budgets(settings):
    from llm.config import parse_budgets

    settings.LLM_BUDGETS = parse_budgets("tickets.draft=1000tok")
    call(input_tokens=900, output_tokens=300)
    out = StringIO()
    call_command("llm_usage", stdout=out)
    assert "tickets.draft            1,200 of 1,000 tokens  (USED UP: offline until midnight)" in out.getvalue()
