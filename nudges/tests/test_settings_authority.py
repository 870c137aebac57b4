"""Authority inside the team (issue 10, item 5): a manager changes only their own teams' warning
settings; another team's settings answer 404, as if that team did not exist."""

import pytest
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
    assert NudgeSettings.objects.get(team=team).min_idle_days == mine.min_idle_days + 3


def test_an_agent_cannot_change_their_own_teams_warning_settings(agent_client, team):
    mine = NudgeSettings.for_team(team.pk)
    response = agent_client.post(
        reverse("nudges:settings"), {**_form_data(mine, min_idle_days=mine.min_idle_days + 3), "team": team.pk}
    )
    assert response.status_code == 403
    assert NudgeSettings.objects.get(pk=mine.pk).min_idle_days == mine.min_idle_days


# --- the global default (admins only) that teams without their own settings inherit -------------


def test_a_team_without_its_own_settings_inherits_the_global_default(team, other_team):
    default = NudgeSettings.global_default()
    default.min_idle_days = 21
    default.save()
    NudgeSettings.objects.create(team=other_team, min_idle_days=3)
    assert NudgeSettings.for_team(team.pk) == default
    assert NudgeSettings.for_team(team.pk).rule_config().min_idle_days == 21
    assert NudgeSettings.for_team(other_team.pk).min_idle_days == 3
    configs = NudgeSettings.for_teams([team.pk, other_team.pk])
    assert configs[team.pk] == default and configs[other_team.pk].team_id == other_team.pk


def test_the_scan_uses_the_global_default_for_a_team_without_its_own(stale_deal):
    from nudges import services

    default = NudgeSettings.global_default()
    default.no_activity_enabled = False
    default.save()
    assert not NudgeSettings.objects.filter(team=stale_deal.team).exists()
    assert services.refresh_nudges(deal_ids=[stale_deal.pk]).created == 0


def test_only_admins_change_the_global_default_in_the_console(client, team, admin_user):
    manager = _user("mgr-blue", team, MANAGER_GROUP)
    default = NudgeSettings.global_default()
    url = reverse("nudges:settings")
    client.force_login(manager)
    assert client.get(url, {"team": "default"}).status_code == 404
    assert client.post(url, {**_form_data(default, min_idle_days=40), "team": "default"}).status_code == 404
    client.force_login(admin_user)
    assert client.get(url, {"team": "default"}).status_code == 200
    assert client.post(url, {**_form_data(default, min_idle_days=40), "team": "default"}).status_code == 302
    assert NudgeSettings.global_default().min_idle_days == 40


def test_a_manager_saving_an_inheriting_team_creates_its_own_row_and_leaves_the_default(client, team):
    manager = _user("mgr-blue", team, MANAGER_GROUP)
    default = NudgeSettings.global_default()
    client.force_login(manager)
    page = client.get(reverse("nudges:settings"), {"team": team.pk}).content.decode()
    assert "uses the global default" in page
    response = client.post(reverse("nudges:settings"), {**_form_data(default, min_idle_days=2), "team": team.pk})
    assert response.status_code == 302
    assert NudgeSettings.global_default().min_idle_days == default.min_idle_days
    assert NudgeSettings.objects.get(team=team).min_idle_days == 2
    response = client.post(reverse("nudges:settings"), {"team": team.pk, "action": "reset"})
    assert response.status_code == 302 and not NudgeSettings.objects.filter(team=team).exists()


def test_admin_site_global_default_is_an_admins_alone(client, team, django_user_model):
    from django.contrib.auth.models import Permission

    default = NudgeSettings.global_default()
    manager = _user("mgr-staff", team, MANAGER_GROUP)
    manager.is_staff = True
    manager.save()
    codenames = ["change_nudgesettings", "view_nudgesettings", "add_nudgesettings"]
    manager.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(manager)
    url = f"/admin/nudges/nudgesettings/{default.pk}/change/"
    data = {**_form_data(default, min_idle_days=33), "team": ""}
    client.post(url, data)
    assert NudgeSettings.global_default().min_idle_days == default.min_idle_days
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    assert client.post(url, data).status_code == 302
    assert NudgeSettings.global_default().min_idle_days == 33


def test_plan_setup_stamp_follows_the_settings_in_force(stale_deal):
    """A plan's cached team setup is keyed by the md5 of the settings row in force: the global
    default for a team without its own (no stamp there meant no cache at all), the team's row once
    it has one, and a changed default is a new key."""
    from django.db import connection

    from nudges import plan_rows, plans

    if connection.vendor != "postgresql":
        pytest.skip("the stamps are read by PostgreSQL's one-query path")
    plans.plan_for_deal(deal=stale_deal)

    def stamp():
        deal = plans.resolve_deal(stale_deal.pk)
        return plan_rows.rows_for([deal])[deal.pk].stamps["settings"]

    inherited = stamp()
    assert inherited is not None
    default = NudgeSettings.global_default()
    default.min_idle_days += 1
    default.save()
    changed = stamp()
    assert changed not in (None, inherited)
    NudgeSettings.objects.create(team=stale_deal.team, min_idle_days=2)
    assert stamp() not in (None, inherited, changed)
