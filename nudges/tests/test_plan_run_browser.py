"""A manager plans the pipeline in a real browser: starts a run, watches it finish, opens a plan."""

import pytest

from conftest import browser_login
from crm.models import Deal
from nudges import plan_runs
from nudges.models import PlanRun
from nudges.tests.conftest import add_email


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_manager_starts_a_pipeline_run_and_sees_it_finish(
    browser_page, live_server, manager, agent, account, contact, stages
):
    for i in range(3):
        d = Deal.objects.create(team=account.team, account=account, primary_contact=contact, owner=agent,
                                name=f"Pipeline deal {i}", stage=stages["proposal"], amount=1000 * (i + 1))  # fmt: skip
        add_email(d, direction="out", days_ago=9 + i, body="Did the pricing reach procurement?")
    page = browser_page
    browser_login(page, live_server, manager)
    page.goto(f"{live_server.url}/deals/")
    page.click("text=Plan my pipeline →")
    page.select_option("select[name=stage]", "proposal")
    page.fill("input[name=campaign_context]", "Q4 product launch")
    page.click("#start-plan-run")
    page.wait_for_selector("#run-done")
    assert page.locator("#run-results tr[data-outcome=written]").count() == 3
    run = PlanRun.objects.get()
    assert run.status == "done" and run.written == 3 and run.campaign_context == "Q4 product launch"
    page.locator("#run-results a[href^='/deals/plans/rec_']").first.click()
    page.wait_for_selector("#situation")
    assert page.locator("#p0 .plan-item").count() >= 1

    # A run still queued (a worker would take it): the page polls and shows the end by itself.
    queued = plan_runs.start_run(team=account.team, actor=manager, campaign_context="Q4 product launch", enqueue=False)
    page.goto(f"{live_server.url}{queued.get_absolute_url()}")
    page.wait_for_selector("#run-panel[data-status=queued] progress")
    plan_runs.carry_out(queued.pk)
    page.wait_for_selector("#run-done")
    assert page.locator("#run-results tr[data-outcome=cached]").count() == 3
