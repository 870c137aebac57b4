from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.models import Activity, Deal
from nudges import services
from nudges.models import Nudge, NudgeSettings

FIXTURES = Path(__file__).parent / "fixtures"


def test_nudges_page_lists_open_nudges_by_urgency_with_offline_mark(agent_client, nudge, foreign_nudge):
    response = agent_client.get(reverse("nudges:index"))
    assert response.status_code == 200
    body = response.content.decode()
    assert nudge.text.replace("“", "&ldquo;")[:10] in body or "TechGiant renewal" in body
    assert "Idle 12 days in Proposal where this stage expects 7" in body
    assert "offline draft" in body
    assert "Secret deal" not in body
    assert "Stream nudges" in body


def test_nudges_page_query_count_is_pinned(
    agent_client, nudge, account, contact, agent, stages, django_assert_max_num_queries
):
    for i in range(5):
        d = Deal.objects.create(
            team=account.team,
            account=account,
            primary_contact=contact,
            owner=agent,
            name=f"D{i}",
            stage=stages["proposal"],
            amount=1000 + i,
            last_activity_at=timezone.now() - timedelta(days=20),
        )
        services.refresh_nudges(deal_ids=[d.pk])
    with django_assert_max_num_queries(8):
        assert agent_client.get(reverse("nudges:index")).status_code == 200


@pytest.mark.parametrize(
    "query, shown",
    [
        ("warning=no_activity", True),
        ("warning=ghosted", False),
        ("stage=proposal", True),
        ("stage=lead", False),
        ("mine=on", True),
    ],
)
def test_nudges_page_filters(agent_client, nudge, query, shown):
    body = agent_client.get(reverse("nudges:index") + "?" + query).content.decode()
    assert (f'id="nudge-{nudge.pk}"' in body) is shown


def test_done_through_htmx_swaps_the_card_and_logs_the_touch(agent_client, nudge):
    response = agent_client.post(
        reverse("nudges:act", args=[nudge.pk]), {"action": "done"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert f'id="nudge-{nudge.pk}"' in response.content.decode()
    assert "Done" in response.content.decode()
    nudge.refresh_from_db()
    assert nudge.status == Nudge.Status.DONE
    assert Activity.objects.filter(deal=nudge.deal, kind="note").exists()


def test_snooze_without_javascript_redirects_back(agent_client, nudge):
    until = (timezone.now().date() + timedelta(days=40)).isoformat()
    response = agent_client.post(
        reverse("nudges:act", args=[nudge.pk]), {"action": "snooze", "until": until, "reason": "budget freeze"}
    )
    assert response.status_code == 302
    nudge.deal.refresh_from_db()
    assert nudge.deal.snooze_reason == "budget freeze"


@pytest.mark.parametrize(
    "data",
    [
        {"action": "snooze", "reason": "x"},
        {"action": "dismiss"},
        {"action": "nope"},
        {"action": "snooze", "until": "soon"},
    ],
)
def test_bad_actions_answer_400_with_the_reason_and_change_nothing(agent_client, nudge, data):
    response = agent_client.post(reverse("nudges:act", args=[nudge.pk]), data, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert "message-error" in response.content.decode()
    nudge.refresh_from_db()
    assert nudge.status == Nudge.Status.OPEN


def test_outsider_gets_404_on_acting_on_a_nudge(outsider_client, nudge):
    response = outsider_client.post(reverse("nudges:act", args=[nudge.pk]), {"action": "done"})
    assert response.status_code == 404
    nudge.refresh_from_db()
    assert nudge.status == Nudge.Status.OPEN


def test_outsider_sees_no_foreign_nudges_on_the_page(outsider_client, nudge):
    assert f'id="nudge-{nudge.pk}"' not in outsider_client.get(reverse("nudges:index")).content.decode()


def test_scan_button_generates_nudges_for_my_teams_only(
    agent_client, stale_deal, foreign_stale_deal, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(reverse("nudges:scan"), headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert list(Nudge.objects.values_list("deal_id", flat=True)) == [stale_deal.pk]


def test_anonymous_users_are_sent_to_login(client):
    for name in ("nudges:index", "nudges:import", "nudges:settings", "nudges:stream"):
        assert client.get(reverse(name)).status_code == 302


def test_console_import_of_the_seed_files(agent_client, team, stages):
    with open(FIXTURES / "crm_events.csv", "rb") as csv_file, open(FIXTURES / "emails.json", "rb") as json_file:
        response = agent_client.post(
            reverse("nudges:import"), {"team": team.pk, "crm_events": csv_file, "emails": json_file}
        )
    assert response.status_code == 200
    body = response.content.decode()
    assert "crm_events.csv: 2 of 2 imported" in body
    assert "emails.json: 1 of 1 imported" in body
    assert Deal.objects.filter(team=team).count() == 2


def test_console_import_reports_bad_rows_by_line(agent_client, team, stages):
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = SimpleUploadedFile("crm.csv", b"deal_id,amount_eur,last_activity,stage\n1,abc,2024-01-01,lead\n")
    response = agent_client.post(reverse("nudges:import"), {"team": team.pk, "crm_events": bad})
    body = response.content.decode()
    assert "<td>2</td><td>amount_eur</td><td>amount_eur &#x27;abc&#x27; is not a number</td>" in body


def test_console_import_into_another_teams_is_refused(agent_client, other_team, stages):
    with open(FIXTURES / "crm_events.csv", "rb") as csv_file:
        response = agent_client.post(reverse("nudges:import"), {"team": other_team.pk, "crm_events": csv_file})
    assert response.status_code == 400
    assert Deal.objects.count() == 0


def test_import_requires_a_team_and_a_file(agent_client, team):
    assert agent_client.post(reverse("nudges:import"), {"team": team.pk}).status_code == 400
    assert agent_client.post(reverse("nudges:import"), {}).status_code == 400


def test_manager_edits_warning_settings(client, manager, team):
    client.force_login(manager)
    url = reverse("nudges:settings")
    assert client.get(url).status_code == 200
    data = {
        "team": team.pk,
        "min_idle_days": 10,
        "min_urgency": 500,
        "ghost_factor": 2.5,
        "ghost_min_hours": 24,
        "next_step_grace_days": 1,
        "stalled_in_stage_days": 20,
        "single_threaded_min_amount": 0,
        "no_activity_enabled": "on",
        "ghosted_enabled": "on",
    }
    assert client.post(url, data).status_code == 302
    saved = NudgeSettings.objects.get(team=team)
    assert (saved.min_idle_days, saved.ghost_factor, saved.stalled_in_stage_enabled) == (10, 2.5, False)
    assert saved.updated_by == manager
    bad = client.post(url, {**data, "ghost_factor": 0, "min_urgency": -1})
    assert bad.status_code == 400
    assert NudgeSettings.objects.get(team=team).ghost_factor == 2.5


def test_agents_see_settings_read_only_and_cannot_change_them(agent_client, team):
    response = agent_client.get(reverse("nudges:settings"))
    assert "Only managers change these settings." in response.content.decode()
    assert agent_client.post(reverse("nudges:settings"), {"team": team.pk, "min_idle_days": 1}).status_code == 403


def test_outsider_gets_404_for_another_teams_settings(outsider_client, team):
    assert outsider_client.get(reverse("nudges:settings") + f"?team={team.pk}").status_code == 404
    assert outsider_client.get(reverse("nudges:settings") + "?team=abc").status_code == 404


def test_settings_index_links_to_deal_warnings(agent_client):
    assert reverse("nudges:settings") in agent_client.get(reverse("settings")).content.decode()
