"""Scoring weights per team (issue 10, item 5): a team's managers version their own team's weights,
only admins change the global default every other team inherits, another team's weights answer 404
like a team that does not exist, and every score (stored, aged, broken down, boosted in the inbox)
uses the ticket's team's weights."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from rest_framework.test import APIClient

from conftest import _user
from crm.models import MANAGER_GROUP, AuditEvent, Contact, Membership
from tickets import cache, inbox, services, tasks
from tickets.models import Ticket, WeightSet

CHURN_HEAVY = {**WeightSet.env_defaults(), "churn": 30.0, "topic_alert_boost": 40.0}


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def two_tickets(make_ticket, foreign_account):
    """One open ticket on the manager's team (blue), one on another team (red)."""
    blue = make_ticket("Where is my order?")
    red_contact = Contact.objects.create(account=foreign_account, name="Rita", email="rita@example.com")
    red = make_ticket("Where is my parcel?", acct=foreign_account, contact=red_contact)
    return Ticket.objects.get(pk=blue.pk), Ticket.objects.get(pk=red.pk)


def test_a_team_without_its_own_weights_uses_the_global_default(team, admin_user):
    default = WeightSet.current()
    assert WeightSet.in_force(team.pk) == default
    services.create_weight_set(actor=admin_user, values={**WeightSet.env_defaults(), "churn": 4.0})
    assert WeightSet.in_force(team.pk).churn == 4.0 and WeightSet.in_force(team.pk).team_id is None


def test_a_teams_own_newest_version_wins_over_the_global_default(team, other_team, admin_user):
    services.create_weight_set(actor=admin_user, team=team, values={**WeightSet.env_defaults(), "churn": 7.0})
    own = services.create_weight_set(actor=admin_user, team=team, values={**WeightSet.env_defaults(), "churn": 8.0})
    services.create_weight_set(actor=admin_user, values={**WeightSet.env_defaults(), "churn": 9.0})
    assert own.version == 2 and WeightSet.in_force(team.pk) == own
    assert WeightSet.in_force(other_team.pk).churn == 9.0
    default, per_team = WeightSet.in_force_map()
    assert default.churn == 9.0 and per_team == {team.pk: own}


def test_managers_version_their_own_teams_weights_and_only_its_tickets_are_rescored(
    client, manager, team, two_tickets, on_commit
):
    blue, red = two_tickets
    global_default = WeightSet.current()
    client.force_login(manager)
    with on_commit():
        response = client.post(reverse("tickets:weights"), {**CHURN_HEAVY, "team": team.pk, "note": "churn first"})
    assert response.status_code == 302
    own = WeightSet.in_force(team.pk)
    assert own.team == team and own.version == 1 and own.churn == 30.0
    assert WeightSet.current() == global_default  # the other teams' weights did not move
    blue_after, red_after = Ticket.objects.get(pk=blue.pk), Ticket.objects.get(pk=red.pk)
    assert blue_after.weight_set_id == own.pk
    assert blue_after.score_churn == pytest.approx(blue.score_churn / global_default.churn * 30.0)
    assert (red_after.weight_set_id, red_after.score) == (global_default.pk, red.score)
    assert AuditEvent.objects.filter(object_id=str(own.pk), action=AuditEvent.Action.CREATE).exists()


def test_another_teams_weights_answer_404_like_a_team_that_does_not_exist(client, manager, other_team, two_tickets):
    client.force_login(manager)
    url = reverse("tickets:weights")
    data = {**CHURN_HEAVY, "team": other_team.pk}
    for team_id in (other_team.pk, 999999, "abc"):
        assert client.get(url, {"team": team_id}).status_code == 404
        assert client.post(url, {**data, "team": team_id}).status_code == 404
        assert client.post(url, {"team": team_id, "action": "reset"}).status_code == 404
    api = _api(manager)
    foreign = api.post("/api/scoring-weights", {**CHURN_HEAVY, "team": other_team.pk}, format="json")
    missing = api.post("/api/scoring-weights", {**CHURN_HEAVY, "team": 999999}, format="json")
    assert foreign.status_code == missing.status_code == 404 and foreign.json() == missing.json()
    assert api.get("/api/scoring-weights", {"team": other_team.pk}).json() == missing.json()
    assert api.post(f"/api/scoring-weights/teams/{other_team.pk}/reset").status_code == 404
    assert not WeightSet.objects.filter(team__isnull=False).exists()


def test_an_agent_changes_no_weights(agent, team):
    api = _api(agent)
    assert api.post("/api/scoring-weights", {**CHURN_HEAVY, "team": team.pk}, format="json").status_code == 404
    assert api.post("/api/scoring-weights", CHURN_HEAVY, format="json").status_code == 403
    assert not WeightSet.objects.exclude(note="environment").exists()


def test_a_manager_of_two_teams_chooses_among_them_on_the_page(client, team, other_team):
    both = _user("mgr-both", team, MANAGER_GROUP)
    Membership.objects.create(user=both, team=other_team)
    client.force_login(both)
    html = client.get(reverse("tickets:weights"), {"team": other_team.pk}).content.decode()
    assert "Red Team" in html and "Blue Team" in html and "uses the global default" in html


def test_api_creates_and_lists_a_teams_versions(manager, team, on_commit):
    api = _api(manager)
    with on_commit():
        r = api.post("/api/scoring-weights", {**CHURN_HEAVY, "team": team.pk}, format="json")
    assert r.status_code == 201 and r.json()["team"] == team.pk and r.json()["version"] == 1
    listed = api.get("/api/scoring-weights", {"team": team.pk}).json()
    assert [row["version"] for row in listed] == [1] and listed[0]["churn"] == 30.0
    assert all(row["team"] is None for row in api.get("/api/scoring-weights").json())


def test_reset_to_the_global_default_keeps_the_teams_versions_and_rescores(
    client, manager, team, two_tickets, on_commit
):
    blue, _ = two_tickets
    own = services.create_weight_set(actor=manager, team=team, values=CHURN_HEAVY)
    with on_commit():
        services.rescore_open_tickets()
    assert Ticket.objects.get(pk=blue.pk).weight_set_id == own.pk
    client.force_login(manager)
    with on_commit():
        response = client.post(reverse("tickets:weights"), {"team": team.pk, "action": "reset"})
    assert response.status_code == 302
    versions = list(WeightSet.objects.filter(team=team).order_by("version"))
    assert [(v.version, v.follows_default) for v in versions] == [(1, False), (2, True)]
    assert versions[1].churn == WeightSet.current().churn  # the default's values, for the history
    assert WeightSet.in_force(team.pk) == WeightSet.current()
    after = Ticket.objects.get(pk=blue.pk)
    assert after.weight_set_id == WeightSet.current().pk and after.score_churn == pytest.approx(blue.score_churn)
    assert AuditEvent.objects.filter(object_id=str(versions[1].pk), action=AuditEvent.Action.CREATE).exists()
    page = client.get(reverse("tickets:weights"), {"team": team.pk}).content.decode()
    assert "v1</td>" in page and "v2 (follows the global default)" in page and "uses the global default" in page
    with on_commit():
        assert _api(manager).post(f"/api/scoring-weights/teams/{team.pk}/reset").status_code == 204
    assert WeightSet.objects.filter(team=team).count() == 2  # already following: nothing added
    listed = _api(manager).get("/api/scoring-weights", {"team": team.pk}).json()
    assert sorted((row["version"], row["follows_default"]) for row in listed) == [(1, False), (2, True)]


def test_a_reset_team_follows_later_changes_to_the_default_until_it_saves_its_own_again(
    admin_user, manager, team, two_tickets, on_commit
):
    blue, _ = two_tickets
    with on_commit():
        services.create_weight_set(actor=manager, team=team, values=CHURN_HEAVY)
        services.reset_team_weights(actor=manager, team=team)
        newer = services.create_weight_set(actor=admin_user, values={**WeightSet.env_defaults(), "churn": 7.0})
    assert WeightSet.in_force(team.pk) == newer
    default, own = WeightSet.in_force_map()
    assert default == newer and team.pk not in own
    assert Ticket.objects.get(pk=blue.pk).weight_set_id == newer.pk
    with on_commit():
        again = services.create_weight_set(actor=manager, team=team, values=CHURN_HEAVY)
    assert again.version == 3 and WeightSet.in_force(team.pk) == again
    assert Ticket.objects.get(pk=blue.pk).weight_set_id == again.pk


def test_score_breakdown_and_ticket_page_show_the_tickets_teams_weights(
    agent_client, api, manager, team, two_tickets, on_commit
):
    blue, _ = two_tickets
    with on_commit():
        own = services.create_weight_set(actor=manager, team=team, values=CHURN_HEAVY)
    r = api.get(f"/api/tickets/{blue.pk}/score-breakdown", {"topic_alerts": "order"}).json()
    assert r["weights"]["version"] == own.version and r["weights"]["churn_weight"] == 30.0
    assert r["components"]["topic_alert"] == 40.0
    assert api.get(f"/api/tickets/{blue.pk}").json()["weights_version"] == own.version
    html = agent_client.get(reverse("tickets:detail", args=[blue.pk])).content.decode()
    assert "Blue Team&#x27;s own" in html or "Blue Team's own" in html


def test_the_inbox_boosts_each_tickets_topic_alert_match_by_its_teams_weights(admin_user, team, two_tickets):
    blue, red = two_tickets
    services.create_weight_set(actor=admin_user, team=team, values=CHURN_HEAVY)
    services.rescore_open_tickets()
    cache.forget_boost()
    boosts = cache.topic_alert_boosts()
    assert boosts[team.pk] == 40.0 and boosts[None] == WeightSet.current().topic_alert_boost
    page = inbox.page(admin_user, terms=["order", "parcel"], boost=boosts)
    eff = {t.pk: t.eff for t in page.tickets}
    scores = dict(Ticket.objects.values_list("pk", "score"))
    assert eff[blue.pk] == pytest.approx(scores[blue.pk] + 40.0)
    assert eff[red.pk] == pytest.approx(scores[red.pk] + boosts[None])


def test_aging_uses_each_teams_weights(admin_user, team, two_tickets):
    blue, red = two_tickets
    own = services.create_weight_set(actor=admin_user, team=team, values=CHURN_HEAVY)
    services.age_open_tickets()
    assert Ticket.objects.get(pk=blue.pk).weight_set_id == own.pk
    assert Ticket.objects.get(pk=red.pk).weight_set_id == WeightSet.current().pk


def test_rescore_task_skips_a_teams_superseded_version(admin_user, team):
    first = services.create_weight_set(actor=admin_user, team=team, values=CHURN_HEAVY)
    services.create_weight_set(actor=admin_user, team=team, values=CHURN_HEAVY)
    assert tasks.rescore_open_tickets_task(first.pk) == 0
    assert tasks.rescore_open_tickets_task(10**9) == 0


def test_admin_site_global_default_is_for_admins_and_goes_through_the_service(
    client, django_user_model, manager, team, on_commit
):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(root)
    with on_commit():
        response = client.post("/admin/tickets/weightset/add/", {**CHURN_HEAVY, "team": "", "note": "admin"})
    assert response.status_code == 302
    assert WeightSet.current().churn == 30.0 and WeightSet.current().version == 2
    manager.is_staff = True
    manager.save()
    manager.user_permissions.add(*Permission.objects.filter(codename__in=["add_weightset", "view_weightset"]))
    client.force_login(manager)
    assert client.post("/admin/tickets/weightset/add/", {**CHURN_HEAVY, "team": ""}).status_code == 403
    assert WeightSet.current().version == 2
