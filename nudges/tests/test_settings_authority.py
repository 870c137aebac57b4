"""Authority inside the team (issue 10, item 5): a manager changes only their own teams' warning
settings; another team's settings answer 404, as if that team did not exist."""

from django.urls import reverse

from conftest import _user
from crm.models import MANAGER_GROUP
from nudges.forms import NudgeSettingsForm
from nudges.models import NudgeSettings


def _form_data(settings_obj, **changes):
    form = NudgeSettingsForm(instance=settings_obj)
    data = {name: form[name].value() for name in form.fields}
    data = {k: v for k, v in data.items() if v is not None and v is not False}
    return {**data, **changes}


def test_manager_of_one_team_cannot_change_another_teams_warning_settings(client, team, other_team):
    manager = _user("mgr-blue", team, MANAGER_GROUP)
    theirs = NudgeSettings.for_team(other_team.pk)
    before = theirs.min_idle_days
    client.force_login(manager)
    url = reverse("nudges:settings")
    assert client.get(url, {"team": other_team.pk}).status_code == 404
    response = client.post(url, {**_form_data(theirs, min_idle_days=before + 9), "team": other_team.pk})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.min_idle_days == before


def test_manager_changes_their_own_teams_warning_settings(client, team):
    manager = _user("mgr-blue", team, MANAGER_GROUP)
    mine = NudgeSettings.for_team(team.pk)
    client.force_login(manager)
    response = client.post(
        reverse("nudges:settings"), {**_form_data(mine, min_idle_days=mine.min_idle_days + 3), "team": team.pk}
    )
    assert response.status_code == 302
    assert NudgeSettings.objects.get(pk=mine.pk).min_idle_days == mine.min_idle_days + 3


def test_an_agent_cannot_change_their_own_teams_warning_settings(agent_client, team):
    mine = NudgeSettings.for_team(team.pk)
    response = agent_client.post(
        reverse("nudges:settings"), {**_form_data(mine, min_idle_days=mine.min_idle_days + 3), "team": team.pk}
    )
    assert response.status_code == 403
    assert NudgeSettings.objects.get(pk=mine.pk).min_idle_days == mine.min_idle_days
