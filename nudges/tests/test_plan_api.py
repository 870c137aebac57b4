"""API: plans, expand, use, feedback, context, cache stats; the outsider gets 404 everywhere."""

import pytest

from nudges import context, plans
from nudges.models import Learning, Plan

pytestmark = pytest.mark.django_db


def test_create_then_cached(api, stale_deal):
    first = api.post("/api/plans/", {"deal": str(stale_deal.pk), "campaign_context": "Q4"}, format="json")
    assert first.status_code == 201 and not first.data["cached"]
    counts = {p: sum(1 for i in first.data["items"] if i["priority"] == p) for p in ("P0", "P1", "P2")}
    assert 1 <= counts["P0"] <= 2 and 2 <= counts["P1"] <= 3 and 1 <= counts["P2"] <= 3
    again = api.post("/api/plans/", {"deal": str(stale_deal.pk), "campaign_context": "Q4"}, format="json")
    assert again.status_code == 200 and again.data["cached"]
    assert again.data["recommendation_id"] == first.data["recommendation_id"]
    forced = api.post(
        "/api/plans/", {"deal": str(stale_deal.pk), "campaign_context": "Q4", "force_refresh": True}, format="json"
    )
    assert forced.status_code == 201


def test_create_by_external_id_and_unknown_deal(api, stale_deal):
    stale_deal.external_id = "690daec017db693613964d23"
    stale_deal.save()
    assert api.post("/api/plans/", {"deal": "690daec017db693613964d23"}, format="json").status_code == 201
    missing = api.post("/api/plans/", {"deal": "nope"}, format="json")
    assert missing.status_code == 404 and "nope" in str(missing.data)


def test_template_without_placeholder_refused(api, stale_deal):
    response = api.post("/api/plans/", {"deal": stale_deal.pk, "prompt_template": "Hello"}, format="json")
    assert response.status_code == 400 and "company_context" in str(response.data["prompt_file"])
    assert not Plan.objects.exists()


def test_read_expand_use(api, stale_deal):
    plan, _ = plans.plan_for_deal(deal=stale_deal)
    assert api.get(f"/api/plans/{plan.public_id}/").data["recommendation_id"] == plan.public_id
    assert api.get("/api/plans/", {"deal": stale_deal.pk}).data["results"][0]["recommendation_id"] == plan.public_id
    p1 = plan.items.filter(priority="P1").first()
    expanded = api.post(f"/api/plans/{plan.public_id}/expand/", {"item": p1.pk}, format="json")
    assert expanded.status_code == 200 and expanded.data["content"]
    p0 = plan.items.filter(priority="P0").first()
    used = api.post(f"/api/plans/{plan.public_id}/use/", {"item": p0.pk, "action": "done"}, format="json")
    assert used.status_code == 200 and used.data["use"] == "done" and used.data["edit_distance"] == 0
    assert (
        api.post(f"/api/plans/{plan.public_id}/use/", {"item": p0.pk, "action": "done"}, format="json").status_code
        == 409
    )
    assert api.post(f"/api/plans/{plan.public_id}/expand/", {"item": 999999}, format="json").status_code == 404


def test_feedback_and_unknown_recommendation(api, stale_deal):
    plan, _ = plans.plan_for_deal(deal=stale_deal)
    response = api.post(
        "/api/plan-feedback/",
        {"recommendation_id": plan.public_id, "type": "negative", "text": "Email too long, keep under 150 words"},
        format="json",
    )
    assert response.status_code == 201 and response.data["learning"]["status"] == "proposed"
    unknown = api.post(
        "/api/plan-feedback/", {"recommendation_id": "rec_nope", "type": "positive", "text": "x"}, format="json"
    )
    assert unknown.status_code == 404 and "rec_nope" in str(unknown.data)
    bad = api.post(
        "/api/plan-feedback/", {"recommendation_id": plan.public_id, "type": "great", "text": "x"}, format="json"
    )
    assert bad.status_code == 400 and "type" in bad.data
    assert api.get("/api/plan-feedback/").data["results"][0]["recommendation_id"] == plan.public_id


def test_context_read_update_versions_rollback(api, manager_api, team):
    assert api.get("/api/plan-context/").data["version"] == "1.0"
    assert api.put("/api/plan-context/", {"sections": {"Target Audience": "x"}}, format="json").status_code == 403
    updated = manager_api.put("/api/plan-context/", {"sections": {"Target Audience": "Retail"}}, format="json")
    assert updated.status_code == 200 and updated.data["version"] == "1.1"
    bad = manager_api.put("/api/plan-context/", {"markdown": "# T\nstray"}, format="json")
    assert bad.status_code == 400 and "line 2" in str(bad.data) and context.current(team.pk).version == "1.1"
    versions = api.get("/api/plan-context/versions/").data
    assert [v["version"] for v in versions] == ["1.1", "1.0"] and versions[0]["created_by"] == "manager"
    back = manager_api.post("/api/plan-context/rollback/", {"version": "1.0"}, format="json")
    assert back.status_code == 200 and back.data["version"] == "1.2" and back.data["rolled_back_to"] == "1.0"
    assert manager_api.post("/api/plan-context/rollback/", {"version": "9.9"}, format="json").status_code == 404


def test_a_context_version_created_by_no_one_reads_null_as_the_schema_says(api, team):
    from drf_spectacular.generators import SchemaGenerator

    context.init_context(team_id=team.pk)  # as load_demo and the CLI do: no one
    assert api.get("/api/plan-context/").data["created_by"] is None
    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert schema["components"]["schemas"]["ContextVersion"]["properties"]["created_by"]["nullable"] is True


@pytest.mark.parametrize(
    ("component", "field"),
    [("Plan", "context_version"), ("Learning", "result_version"), ("PlanRun", "started_by")],
)
def test_optional_links_in_plan_answers_are_nullable_in_the_schema(component, field):
    # Each is a nullable foreign key (a deleted version, a run started from the command line).
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert schema["components"]["schemas"][component]["properties"][field]["nullable"] is True


def test_cache_stats(api, stale_deal):
    plans.plan_for_deal(deal=stale_deal)
    stats = api.get("/api/plan-cache/").data
    assert stats["total"] == 1 and stats["fresh"] == 1 and stats["ttl_minutes"] == 60


@pytest.mark.parametrize(
    "name",
    [
        "read",
        "list",
        "expand",
        "use",
        "feedback",
        "create",
        "context",
        "versions",
        "rollback",
        "cache",
        "feedback_list",
    ],
)
def test_outsider_gets_404(outsider_api, stale_deal, team, agent, name):
    plan, _ = plans.plan_for_deal(deal=stale_deal)
    from nudges import feedback

    feedback.record_feedback(plan=plan, actor=agent, type="positive", text="fine, keep under 90 words")
    item = plan.items.first()
    calls = {
        "read": ("get", f"/api/plans/{plan.public_id}/", None),
        "list": ("get", f"/api/plans/?deal={stale_deal.pk}", None),
        "expand": ("post", f"/api/plans/{plan.public_id}/expand/", {"item": item.pk}),
        "use": ("post", f"/api/plans/{plan.public_id}/use/", {"item": item.pk, "action": "done"}),
        "feedback": (
            "post",
            "/api/plan-feedback/",
            {"recommendation_id": plan.public_id, "type": "positive", "text": "x"},
        ),
        "create": ("post", "/api/plans/", {"deal": stale_deal.pk}),
        "context": ("get", f"/api/plan-context/?team={team.pk}", None),
        "versions": ("get", f"/api/plan-context/versions/?team={team.pk}", None),
        "rollback": ("post", "/api/plan-context/rollback/", {"team": team.pk, "version": "1.0"}),
        "cache": ("get", f"/api/plan-cache/?team={team.pk}", None),
        "feedback_list": ("get", "/api/plan-feedback/", None),
    }
    method, url, data = calls[name]
    response = getattr(outsider_api, method)(url, data, format="json") if data else getattr(outsider_api, method)(url)
    if name in ("list", "feedback_list"):
        assert response.status_code == 200 and response.data["results"] == []
    else:
        assert response.status_code == 404
    assert Learning.objects.count() == 1
