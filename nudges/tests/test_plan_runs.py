"""Plan my pipeline: runs over many deals (task, service), the API, the console and the command."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from crm.models import Deal
from nudges import plan_bulk, plan_runs, tasks
from nudges.models import Plan, PlanRun
from nudges.plan_errors import PlanError

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def _start(team, actor=None, **choice):
    return plan_runs.start_run(team=team, actor=actor, choice=plan_runs.Choice(**choice), enqueue=False)


# --- the run and its task --------------------------------------------------------------------


def test_the_task_plans_every_chosen_deal_once_and_a_second_call_does_nothing(team, manager, pipeline):
    run = _start(team, manager)
    assert run.status == "queued" and run.deals == 5 and run.deal_ids == [d.pk for d in reversed(pipeline)]
    assert tasks.plan_run_task(run.pk) == "done"
    run.refresh_from_db()
    assert (run.done, run.written, run.cached, run.failed) == (5, 5, 0, 0) and run.finished_at is not None
    assert Plan.objects.filter(status="ready").count() == 5
    assert tasks.plan_run_task(run.pk) == "done"  # idempotent: nothing written twice
    assert Plan.objects.count() == 5
    again = _start(team, manager)
    tasks.plan_run_task(again.pk)
    again.refresh_from_db()
    assert (again.written, again.cached) == (0, 5)


def test_counts_are_stored_after_every_chunk(team, manager, pipeline, monkeypatch):
    monkeypatch.setattr(plan_runs, "BIG_CHUNK", 2)
    run = _start(team, manager)
    seen = []

    def progress(done, total):
        row = PlanRun.objects.get(pk=run.pk)
        seen.append((done, total, row.done, row.written, row.status))

    plan_runs.carry_out(run.pk, progress=progress)
    assert seen == [(2, 5, 2, 2, "running"), (4, 5, 4, 4, "running"), (5, 5, 5, 5, "running")]
    assert PlanRun.objects.get(pk=run.pk).status == "done"


def test_a_run_out_of_time_stops_between_chunks_and_the_next_leg_resumes(team, manager, pipeline, monkeypatch):
    monkeypatch.setattr(plan_runs, "BIG_CHUNK", 2)
    run = _start(team, manager)
    stopped, more = plan_runs.carry_out(run.pk, budget=0)
    assert more and stopped.status == "running" and stopped.done == 2 and stopped.written == 2
    monkeypatch.setattr(plan_runs, "budget_seconds", lambda: 0)
    assert tasks.plan_run_task(run.pk) == "running"  # queues the next leg (eager here: runs to the end)
    run.refresh_from_db()
    assert run.status == "done" and (run.done, run.written, run.cached) == (5, 5, 0)
    assert Plan.objects.count() == 5


def test_a_deal_deleted_after_the_start_counts_as_failed(team, manager, pipeline):
    run = _start(team, manager)
    Deal.objects.filter(pk=pipeline[0].pk).delete()
    plan_runs.carry_out(run.pk)
    run.refresh_from_db()
    assert run.status == "done" and (run.done, run.written, run.failed) == (5, 4, 1)


def test_a_failure_marks_the_run_failed_with_the_reason_and_raises_nothing(team, manager, pipeline, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(plan_bulk, "_write", broken)  # the storage under the bulk path fails
    run = _start(team, manager)
    assert tasks.plan_run_task(run.pk) == "failed"
    run.refresh_from_db()
    assert run.status == "failed" and "disk full" in run.error and run.finished_at is not None
    _start(team, manager)  # a failed run does not block the next one


def test_a_second_start_while_one_is_active_is_refused_with_the_reason(team, manager, pipeline):
    first = _start(team, manager)
    with pytest.raises(PlanError) as err:
        _start(team, manager)
    assert err.value.code == "conflict" and f"run {first.pk}" in err.value.message and "manager" in err.value.message
    assert PlanRun.objects.count() == 1


def test_a_run_that_stored_nothing_for_long_is_taken_as_lost(team, manager, pipeline):
    first = _start(team, manager)
    PlanRun.objects.filter(pk=first.pk).update(created_at=timezone.now() - plan_runs.LOST_AFTER - timedelta(minutes=1))
    second = _start(team, manager)
    first.refresh_from_db()
    assert first.status == "failed" and "lost" in first.error and second.status == "queued"
    assert tasks.plan_run_task(first.pk) == "failed"  # a late task of the lost run does nothing


def test_a_rep_plans_only_their_own_deals(team, agent, pipeline):
    run = _start(team, agent)
    assert run.deals == 3 and run.filters["owner"] == "agent@example.com"
    PlanRun.objects.filter(pk=run.pk).update(status="done")
    with pytest.raises(PlanError) as err:
        _start(team, agent, owner=pipeline[3].owner)
    assert err.value.field == "owner"


def test_filters_stage_owner_stale_and_limit(team, manager, teammate, stages, pipeline):
    ids = {d.pk: d for d in pipeline}

    def chosen(**kw):
        return [ids[i].name for i in plan_runs.choose_deals(team=team, choice=plan_runs.Choice(**kw), user=manager)]

    assert chosen(stage=stages["proposal"]) == ["Deal 3", "Deal 1", "Deal 0"]
    assert chosen(owner=teammate) == ["Deal 4", "Deal 3"]
    assert chosen(stale_only=True) == ["Deal 2"]
    assert chosen(limit=2) == ["Deal 4", "Deal 3"]
    with pytest.raises(PlanError):
        plan_runs.resolve_stage("nowhere")


def test_nothing_matching_is_refused(team, manager, pipeline, stages):
    with pytest.raises(PlanError) as err:
        _start(team, manager, stage=stages["won"])
    assert "nothing to plan" in err.value.message and not PlanRun.objects.exists()


def test_results_say_which_plans_were_written_and_which_came_from_the_cache(team, manager, pipeline):
    first = _start(team, manager, limit=2)
    plan_runs.carry_out(first.pk)
    run = _start(team, manager)
    plan_runs.carry_out(run.pk)
    run.refresh_from_db()
    rows = plan_runs.results(run, limit=10)
    assert [r.outcome for r in rows] == ["cached", "cached", "written", "written", "written"]
    assert all(r.plan.deal_id == r.deal.pk for r in rows)


def test_with_a_batch_model_the_run_submits_and_counts_it(team, manager, pipeline):
    from llm import use_provider
    from llm.testing import FakeBatchProvider

    with use_provider(FakeBatchProvider([])):
        run = _start(team, manager)
        PlanRun.objects.filter(pk=run.pk).update(mode="batch")
        plan_runs.carry_out(run.pk)
    run.refresh_from_db()
    assert run.status == "done" and run.submitted == 5 and run.written == 0
    assert [r.outcome for r in plan_runs.results(run)] == ["pending"] * 5


# --- API -------------------------------------------------------------------------------------


def test_api_starts_a_run_with_202_and_it_can_be_polled(
    manager_api, team, pipeline, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = manager_api.post(
            "/api/plans/runs/", {"stage": "proposal", "campaign_context": "Q4 launch"}, format="json"
        )
    assert response.status_code == 202 and response.data["status"] == "queued" and response.data["deals"] == 3
    assert response["Location"] == f"/api/plans/runs/{response.data['id']}/" and len(queued) == 1
    again = manager_api.post("/api/plans/runs/", {}, format="json")
    assert again.status_code == 409 and f"run {response.data['id']}" in str(again.data)
    queued[0]()
    run = manager_api.get(response["Location"])
    assert run.status_code == 200 and run.data["status"] == "done" and run.data["written"] == 3
    assert run.data["filters"]["stage"] == "proposal" and run.data["campaign_context"] == "Q4 launch"
    results = manager_api.get(f"{response['Location']}results/?limit=2")
    assert results.status_code == 200 and results.data["count"] == 3 and len(results.data["results"]) == 2
    assert results.data["results"][0]["outcome"] == "written"
    assert results.data["results"][0]["recommendation_id"].startswith("rec_")
    listed = manager_api.get("/api/plans/runs/")
    assert [r["id"] for r in listed.data["results"]] == [response.data["id"]]


def test_api_other_teams_run_is_404(manager_api, outsider_api, team, pipeline):
    run = _start(team)
    assert outsider_api.get(f"/api/plans/runs/{run.pk}/").status_code == 404
    assert outsider_api.get(f"/api/plans/runs/{run.pk}/results/").status_code == 404
    assert outsider_api.get("/api/plans/runs/").data["results"] == []
    assert outsider_api.post("/api/plans/runs/", {"team": team.pk}, format="json").status_code == 404


def test_api_refusals_are_400_naming_the_field(api, manager_api, team, pipeline):
    assert api.post("/api/plans/runs/", {"owner": "teammate@example.com"}, format="json").data.keys() == {"owner"}
    assert manager_api.post("/api/plans/runs/", {"stage": "nowhere"}, format="json").status_code == 400
    assert manager_api.post("/api/plans/runs/", {"owner": "outsider@x"}, format="json").status_code == 400
    assert manager_api.post("/api/plans/runs/", {"mode": "later"}, format="json").status_code == 400
    assert manager_api.post("/api/plans/runs/", {"limit": 0}, format="json").status_code == 400
    assert manager_api.post("/api/plans/runs/", {"stale_only": 0}, format="json").data.keys() == {"stale_only"}
    assert manager_api.post("/api/plans/runs/", {"stale_only": "false"}).status_code == 415  # JSON only
    assert manager_api.get("/api/plans/runs/1/results/?limit=0").status_code in (400, 404)
    assert not PlanRun.objects.exists()


def test_api_schema_lists_the_run_endpoints(manager_api):
    schema = manager_api.get("/api/schema/?format=json").json()
    assert {"/api/plans/runs/", "/api/plans/runs/{id}/", "/api/plans/runs/{id}/results/"} <= set(schema["paths"])
    assert "202" in schema["paths"]["/api/plans/runs/"]["post"]["responses"]
    assert "202" in schema["paths"]["/api/plans/"]["post"]["responses"]


def test_api_plan_create_with_a_model_answers_202_and_a_task_writes_it(
    api, stale_deal, django_capture_on_commit_callbacks
):
    from llm import use_provider
    from llm.testing import FakeProvider

    with use_provider(FakeProvider([TimeoutError("slow")])):
        with django_capture_on_commit_callbacks(execute=False) as queued:
            response = api.post("/api/plans/", {"deal": str(stale_deal.pk), "force_refresh": True}, format="json")
        assert response.status_code == 202 and response.data["status"] == "pending" and not response.data["items"]
        assert response["Location"] == f"/api/plans/{response.data['recommendation_id']}/" and len(queued) == 1
        assert Plan.objects.get().provenance == {"force_refresh": True}
        queued[0]()
    polled = api.get(response["Location"])
    assert polled.data["status"] == "ready" and polled.data["items"]


def test_api_plan_create_with_a_model_keeps_a_one_off_template_for_the_task(
    api, stale_deal, django_capture_on_commit_callbacks
):
    from llm import use_provider
    from llm.testing import FakeProvider

    template = "Custom plans.\n{{company_context}}"
    fake = FakeProvider([TimeoutError("slow")])
    with use_provider(fake), django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/plans/", {"deal": str(stale_deal.pk), "prompt_template": template}, format="json")
    assert response.status_code == 202
    plan = Plan.objects.get()
    assert plan.status == "ready" and plan.template is None and "prompt_template" not in plan.provenance
    assert fake.requests and fake.requests[0].system.startswith("Custom plans.")


# --- console ---------------------------------------------------------------------------------


def test_console_start_redirects_to_the_run_which_lists_its_plans(
    manager_client, team, pipeline, django_capture_on_commit_callbacks
):
    page = manager_client.get(reverse("nudges:plan_runs"))
    assert page.status_code == 200 and "Plan my pipeline" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(
            reverse("nudges:plan_run_start"), {"team": "blue", "stage": "proposal", "campaign_context": "Q4"}
        )
    run = PlanRun.objects.get()
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    detail = manager_client.get(run.get_absolute_url()).content.decode()
    assert 'id="run-done"' in detail and "every 2s" not in detail and detail.count('data-outcome="written"') == 3
    assert Plan.objects.filter(deal=pipeline[0]).get().public_id in detail


def test_console_panel_polls_while_the_run_is_active(manager_client, team, pipeline):
    run = _start(team)
    html = manager_client.get(run.get_absolute_url(), headers={"HX-Request": "true"}).content.decode()
    assert html.strip().startswith('<div id="run-panel"') and 'hx-trigger="every 2s"' in html and "0 of 5 deals" in html
    assert "lanes side by side" not in manager_client.get(run.get_absolute_url()).content.decode()
    PlanRun.objects.filter(pk=run.pk).update(lanes=2)
    assert "2 lanes side by side" in manager_client.get(run.get_absolute_url()).content.decode()


def test_console_second_start_is_refused_with_the_reason(manager_client, team, pipeline):
    running = _start(team)
    response = manager_client.post(reverse("nudges:plan_run_start"), {"team": "blue"})
    assert response.status_code == 409 and f"run {running.pk}" in response.content.decode()
    assert PlanRun.objects.count() == 1


def test_console_rep_gets_no_owner_choice_and_plans_their_own(agent_client, team, pipeline):
    page = agent_client.get(reverse("nudges:plan_runs")).content.decode()
    assert 'name="owner"' not in page and "Your own deals" in page
    agent_client.post(reverse("nudges:plan_run_start"), {"team": "blue", "owner": "teammate"})
    assert PlanRun.objects.get().deals == 3


def test_console_bad_input_is_a_400_with_the_reason(manager_client, team, pipeline):
    response = manager_client.post(reverse("nudges:plan_run_start"), {"team": "red", "limit": "-1"})
    assert response.status_code == 400 and "Could not start" in response.content.decode()
    assert not PlanRun.objects.exists()


def test_console_outsider_gets_404(outsider_client, team, pipeline):
    run = _start(team)
    assert outsider_client.get(run.get_absolute_url()).status_code == 404
    assert outsider_client.post(reverse("nudges:plan_run_start"), {"team": "blue"}).status_code == 400
    assert PlanRun.objects.count() == 1


def test_console_run_page_queries_are_pinned(manager_client, team, pipeline, django_assert_max_num_queries):
    run = _start(team)
    plan_runs.carry_out(run.pk)
    with django_assert_max_num_queries(10):
        assert manager_client.get(run.get_absolute_url()).status_code == 200


def test_console_needs_login(client):
    response = client.get(reverse("nudges:plan_runs"))
    assert response.status_code == 302 and "/login/" in response["Location"]


# --- command line ----------------------------------------------------------------------------


def run_command(*args):
    out = StringIO()
    call_command("sales_action", "recommend-all", *args, stdout=out)
    return out.getvalue()


def test_command_plans_the_pipeline_and_prints_the_summary(team, pipeline):
    out = run_command("--team", "blue", "--stage", "proposal", "-c", "Q4 launch")
    assert "Pipeline Recommendation Summary" in out and "deals/s" in out
    run = PlanRun.objects.get()
    assert run.status == "done" and run.written == 3 and run.started_by is None and run.campaign_context == "Q4 launch"
    out = run_command("--team", "blue", "--stage", "proposal", "-c", "Q4 launch")
    assert PlanRun.objects.first().cached == 3


def test_command_owner_stale_and_limit(team, pipeline):
    run_command("--owner", "agent@example.com", "--stale-only")
    assert PlanRun.objects.get().deal_ids == [pipeline[2].pk]
    run_command("--team", "blue", "--limit", "2", "--mode", "sync")
    assert PlanRun.objects.first().deals == 2 and PlanRun.objects.first().mode == "sync"


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--team", "nowhere"], 1, "No team"),
        (["--stage", "nowhere"], 1, "no stage"),
        (["--owner", "nobody@example.com"], 1, "not a member"),
        (["--limit", "0"], 1, "at least 1"),
        (["--stage", "won"], 2, "nothing to plan"),
    ],
)
def test_command_refusals_and_exit_codes(team, pipeline, args, code, message):
    with pytest.raises(CommandError) as err:
        run_command(*args)
    assert err.value.returncode == code and message in str(err.value)
    assert not PlanRun.objects.exists()


def test_command_refuses_while_a_run_is_active(team, pipeline):
    running = _start(team)
    with pytest.raises(CommandError) as err:
        run_command("--team", "blue")
    assert err.value.returncode == 1 and f"run {running.pk}" in str(err.value)


# --- lanes: a run's deals planned side by side by several tasks ------------------------------


def test_a_run_of_two_lanes_queues_a_task_a_lane_and_the_last_one_finishes_it(team, manager, pipeline):
    run = plan_runs.start_run(team=team, actor=manager, enqueue=False, lanes=2)
    assert plan_runs.lane_bounds(run) == [(0, 3), (3, 5)]
    assert tasks.plan_run_task(run.pk) == "running"  # the dispatcher: each lane's task (eager here) did the work
    run.refresh_from_db()
    assert run.status == "done" and run.lane_done == [3, 2] and (run.done, run.written, run.cached) == (5, 5, 0)
    assert len(set(run.lane_tasks)) == 2 and all(run.lane_tasks)
    assert Plan.objects.filter(status="ready").count() == 5


def test_one_finished_lane_leaves_the_run_running_until_the_other_is_done(team, manager, pipeline):
    run = plan_runs.start_run(team=team, actor=manager, enqueue=False, lanes=2)
    first, more = plan_runs.carry_out(run.pk, lane=1, holder="task-b")
    assert not more and first.status == "running" and first.lane_done == [0, 2] and first.done == 2
    done, _ = plan_runs.carry_out(run.pk, lane=0, holder="task-a")
    assert done.status == "done" and done.lane_done == [3, 2] and done.written == 5


def test_a_redelivered_copy_takes_the_lane_over_and_the_old_one_stops(team, manager, pipeline, monkeypatch):
    monkeypatch.setattr(plan_runs, "BIG_CHUNK", 1)
    run = plan_runs.start_run(team=team, actor=manager, enqueue=False, lanes=2)

    def redelivered(done, total):  # after the old task's first chunk, its copy claims the lane
        if done == 1:
            plan_runs._claim(run.pk, [0], "copy", timezone.now())

    stopped, more = plan_runs.carry_out(run.pk, lane=0, holder="old", progress=redelivered)
    assert not more and stopped.lane_done == [1, 0] and stopped.lane_tasks[0] == "copy"
    plan_runs.carry_out(run.pk, lane=0, holder="copy")
    final, _ = plan_runs.carry_out(run.pk, lane=1, holder="other")
    # The old task's second plan was written but not counted by it: its copy found it in the cache.
    assert final.status == "done" and final.lane_done == [3, 2] and (final.written, final.cached) == (4, 1)
    assert Plan.objects.filter(status="ready").count() == 5


def test_a_failing_lane_fails_the_run_and_the_other_lane_stops(team, manager, pipeline, monkeypatch):
    run = plan_runs.start_run(team=team, actor=manager, enqueue=False, lanes=2)
    real = plan_bulk._write

    def broken(todo, *args, **kwargs):
        if any(c.deal.pk == pipeline[0].pk for c in todo):  # lane 1 holds the smallest deals
            raise RuntimeError("disk full")
        return real(todo, *args, **kwargs)

    monkeypatch.setattr(plan_bulk, "_write", broken)
    failed, _ = plan_runs.carry_out(run.pk, lane=1, holder="b")
    assert failed.status == "failed" and "disk full" in failed.error
    after, more = plan_runs.carry_out(run.pk, lane=0, holder="a")
    assert not more and after.status == "failed" and after.lane_done == [0, 0]


def test_lanes_follow_the_setting_but_not_in_process_nor_below_a_chunk(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.PLANS_RUN_LANES = 4
    assert plan_runs.lanes_for(10_000, "auto", in_process=False) == 4
    assert plan_runs.lanes_for(1_500, "auto", in_process=False) == 2  # a lane is at least a chunk (1,000)
    assert plan_runs.lanes_for(10_000, "auto", in_process=True) == 1
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert plan_runs.lanes_for(10_000, "auto", in_process=False) == 1
