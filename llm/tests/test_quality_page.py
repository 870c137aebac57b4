"""Settings -> AI quality: managers see the latest run per feature, scores against thresholds, a
chart over past runs and the failing cases; agents and outsiders get 404."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from llm.evaluation.charts import HEIGHT, PAD, score_chart
from llm.evaluation.models import EvalCaseResult, EvalRun

pytestmark = pytest.mark.django_db


def make_run(feature="tickets.draft", *, days_ago=0, scores=None, thresholds=None, failed=(), cases=()):
    run = EvalRun.objects.create(
        feature=feature,
        dataset=f"{feature}.jsonl",
        dataset_hash="ab" * 32,
        provider="offline",
        model="offline",
        cases=len(cases) or 3,
        scores=scores or {"channel_limit": 1.0},
        thresholds=thresholds or {"channel_limit": 1.0},
        failed_metrics=list(failed),
        passed=not failed,
        skipped={"draft_quality": "offline provider: no model to judge"},
    )
    EvalRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    for case_id, reasons in cases:
        scores = {metric: 0.0 for metric in reasons} or {"channel_limit": 1.0}
        EvalCaseResult.objects.create(run=run, case_id=case_id, scores=scores, reasons=reasons, passed=not reasons)
    run.refresh_from_db()
    return run


def test_manager_sees_latest_run_scores_thresholds_chart_and_failing_cases(client, manager):
    make_run(days_ago=2, scores={"channel_limit": 1.0, "care_tone": 1.0}, cases=[("draft-01-sms-vip", {})])
    make_run(
        days_ago=0,
        scores={"channel_limit": 0.75, "care_tone": 1.0},
        failed=["channel_limit"],
        cases=[
            ("draft-01-sms-vip", {"channel_limit": ["sms: 362 characters, limit 160"]}),
            ("draft-02-email", {}),
            ("draft-03-chat-<b>x</b>", {"channel_limit": ["chat: <script>alert(1)</script>"]}),
        ],
    )
    make_run("nudges.nudge", scores={"right_contact": 1.0}, thresholds={"right_contact": 1.0})
    client.force_login(manager)

    response = client.get(reverse("llm:quality"))

    assert response.status_code == 200
    html = response.content.decode()
    draft = next(f for f in response.context["features"] if f["run"].feature == "tickets.draft")
    assert [(r["metric"], r["score"], r["threshold"], r["passed"]) for r in draft["rows"]] == [
        ("channel_limit", 0.75, 1.0, False),
        ("care_tone", 1.0, None, True),
    ]
    assert "1 below threshold" in html and "meets every threshold" in html  # drafts fail, nudges pass
    assert "offline provider: no model to judge" in html
    assert "draft-01-sms-vip" in html and "sms: 362 characters, limit 160" in html
    assert "draft-02-email" not in html  # passed cases are not listed
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    # The chart has a line per metric over both runs, and the threshold as a dashed line.
    line = next(x for x in draft["chart"].lines if x.metric == "channel_limit")
    assert len(line.points.split()) == 2 and line.threshold_y == PAD
    assert f'<polyline points="{line.points}"' in html and 'stroke-dasharray="4 3"' in html
    # Compared with the run before: draft-01 got worse on channel_limit, and why.
    assert [(c.case_id, c.metric, c.why) for c in draft["comparison"].worse] == [
        ("draft-01-sms-vip", "channel_limit", ["sms: 362 characters, limit 160"])
    ]
    assert "1 worse" in html


def test_agent_and_outsider_get_404_on_the_quality_page(agent_client, outsider_client):
    make_run()
    assert agent_client.get(reverse("llm:quality")).status_code == 404
    assert outsider_client.get(reverse("llm:quality")).status_code == 404


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("llm:quality"))
    assert response.status_code in (302, 404)
    assert response.status_code == 404 or "/login" in response["Location"]


def test_empty_quality_page_says_how_to_run_an_evaluation(client, manager):
    client.force_login(manager)
    assert "Run <code>manage.py evaluate_ai</code>" in client.get(reverse("llm:quality")).content.decode()


def test_quality_page_query_count_is_flat(client, manager, django_assert_max_num_queries):
    for n in range(8):
        for day in range(40):
            make_run(f"feature.{n}", days_ago=day, cases=[("c1", {"channel_limit": ["too long"]})])
    client.force_login(manager)
    # 9: one is the nav's membership lookup (Notifications shows to team members only; crm.navigation).
    with django_assert_max_num_queries(9):
        response = client.get(reverse("llm:quality"))
    assert len(response.context["features"]) == 8
    assert all(len(f["chart"].lines[0].points.split()) == 30 for f in response.context["features"])


def test_chart_places_scores_between_the_pads():
    runs = [
        EvalRun(pk=1, scores={"a": 0.0}, created_at=timezone.now()),
        EvalRun(pk=2, scores={"a": 1.0}, created_at=timezone.now()),
    ]
    chart = score_chart(runs, {"a": 0.5})
    [line] = chart.lines
    assert line.points == "24.0,116.0 536.0,24.0"
    assert line.threshold_y == HEIGHT / 2


def test_admin_lists_runs_and_shows_a_runs_cases_read_only(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("ops", "ops@example.com", "pw-ops-123"))
    admin_client = client
    run = make_run(cases=[("draft-01-sms-vip", {"channel_limit": ["sms: 362 characters, limit 160"]})])
    listing = admin_client.get("/admin/llm/evalrun/")
    assert listing.status_code == 200 and "tickets.draft" in listing.content.decode()
    detail = admin_client.get(f"/admin/llm/evalrun/{run.pk}/change/")
    assert detail.status_code == 200 and "draft-01-sms-vip" in detail.content.decode()
    assert admin_client.get("/admin/llm/evalrun/add/").status_code == 403
