"""Notification analysis and drafting calls land on the team's usage page (issue 10, item 5): they
carried no scope, so only admins saw them."""

import pytest

from conftest import _user
from crm.models import MANAGER_GROUP
from llm.models import LLMCall
from notifications import runs
from notifications.models import AnalysisRun

pytestmark = pytest.mark.django_db


def test_analysis_and_draft_calls_carry_the_teams_scope(imported, team, other_team, manager):
    run = AnalysisRun.objects.create(team=team, segment="Value Seekers")
    runs.run_analysis(run.pk)
    rows = LLMCall.objects.filter(feature__startswith="notifications.")
    assert rows.exists() and set(rows.values_list("scope", flat=True)) == {team.pk}
    theirs = _user("redboss", other_team, MANAGER_GROUP)
    assert not LLMCall.objects.visible_to(theirs).filter(feature__startswith="notifications.").exists()
    assert LLMCall.objects.visible_to(manager).filter(feature__startswith="notifications.").exists()
