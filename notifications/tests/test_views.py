import pytest
from django.urls import reverse

from crm.models import ImportRun
from notifications import runs, services
from notifications.models import AnalysisRun, Notification, NotificationSettings
from notifications.tests.conftest import sample_files

pytestmark = pytest.mark.django_db


@pytest.fixture
def analysed(imported, team):
    run = AnalysisRun.objects.create(team=team, segment="Value Seekers")
    runs.run_analysis(run.pk)
    return run


def test_page_shows_statistics_chart_risk_check_and_two_columns(agent_client, analysed, team):
    response = agent_client.get(reverse("notifications:index"))
    assert response.status_code == 200
    body = response.content.decode()
    total = Notification.objects.filter(team=team).count()
    assert f'data-stat="total">{total}<' in body
    assert 'id="segment-chart"' in body and "<svg" in body and "riskiest 30 %" in body
    assert 'class="two-col"' in body and "Analyse &amp; generate notifications" in body


def test_list_is_ordered_by_priority_then_risk_and_filters_by_priority(agent_client, analysed):
    page = agent_client.get(reverse("notifications:index")).context["page"]
    keys = [(n.priority_rank, -n.risk_score) for n in page.object_list]
    assert keys == sorted(keys)
    high = agent_client.get(reverse("notifications:index"), {"priority": "High"}).context["page"]
    assert high.object_list and all(n.priority == "High" for n in high.object_list)


def test_list_page_query_count_is_bounded(agent_client, analysed, django_assert_max_num_queries):
    with django_assert_max_num_queries(16):
        agent_client.get(reverse("notifications:index"))


def test_analyse_button_starts_one_run_and_the_panel_polls_until_done(
    agent_client, imported, team, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = agent_client.post(reverse("notifications:analyse"), {"team": team.slug}, HTTP_HX_REQUEST="true")
        again = agent_client.post(reverse("notifications:analyse"), {"team": team.slug}, HTTP_HX_REQUEST="true")
    assert response.status_code == again.status_code == 200
    assert 'hx-trigger="every 2s"' in response.content.decode()
    assert AnalysisRun.objects.count() == 1  # a second click joins the running one
    for callback in callbacks:
        callback()  # the task, as a worker would run it after commit
    run = AnalysisRun.objects.get()
    assert run.status == "done" and run.done == run.total > 0
    panel = agent_client.get(reverse("notifications:run", args=[run.pk])).content.decode()
    assert 'id="run-done"' in panel and "every 2s" not in panel


def test_expanded_customer_links_each_trigger_factor_to_its_record(agent_client, analysed, team):
    n = Notification.objects.filter(team=team).order_by("priority_rank", "-risk_score").first()
    body = agent_client.get(n.get_absolute_url()).content.decode()
    assert n.analysis["contact_reason"] in body.replace("&#x27;", "'")
    for f in n.analysis["trigger_factors"]:
        url = reverse("notifications:record", args=[f["kind"], f["id"]])
        assert url in body
        assert agent_client.get(url).status_code == 200


def test_edit_and_send_refuses_an_empty_message(agent_client, analysed, team):
    n = Notification.objects.filter(team=team).first()
    response = agent_client.post(
        reverse("notifications:send", args=[n.pk]), {"subject": "x", "message": " "}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400 and "empty" in response.content.decode()


def test_bulk_approve_all_matching_lists_the_refused_with_their_check(agent_client, analysed, team):
    response = agent_client.post(reverse("notifications:approve"), {"team": team.slug, "all_matching": "1"})
    assert response.status_code == 200
    approved = Notification.objects.filter(team=team, status="approved").count()
    assert approved > 0 and f"<strong>{approved}</strong>" in response.content.decode()
    for n in Notification.objects.filter(team=team, status="needs_edit"):
        assert n.failed_checks


def test_manager_imports_with_a_dry_run_then_for_real_and_downloads_rejected_rows(client, manager, team):
    client.force_login(manager)
    files = sample_files()
    from django.core.files.uploadedfile import SimpleUploadedFile

    uploads = [SimpleUploadedFile(name, data, content_type="text/csv") for name, data in files]
    response = client.post(reverse("notifications:import"), {"files": uploads, "dry_run": "on"})
    assert response.status_code == 200 and "Dry run" in response.content.decode()
    assert not Notification.objects.exists() and not NotificationSettings.objects.filter(as_of__isnull=False).exists()
    bad = SimpleUploadedFile(
        "Customer Profiles.csv",
        b"customer_id,first_name,last_name,email,monthly_spend_gbp\nC1,A,B,a@example.com,lots\n",
    )
    response = client.post(reverse("notifications:import"), {"files": [bad]})
    run = ImportRun.objects.filter(kind="notifications.customers", dry_run=False).get()
    assert run.status == "partial" and "is not an amount" in response.content.decode()
    download = client.get(reverse("notifications:import_rejected", args=[run.pk]), follow=True)
    assert download.redirect_chain[0][0] == reverse("crm:import_run_rejected", args=[run.pk])
    assert "lots" in download.content.decode()


def test_agents_cannot_import(agent_client):
    assert agent_client.get(reverse("notifications:import")).status_code == 404


def test_settings_rules_are_validated_and_recompute_segments(client, manager, imported, team):
    client.force_login(manager)
    url = reverse("notifications-settings")
    bad = client.post(
        url + f"?team={team.slug}", {"focus_segment": "Value Seekers", "segment_rules": "Value Seekers: colour = red"}
    )
    assert bad.status_code == 400 and "unknown field" in bad.content.decode()
    ok = client.post(
        url + f"?team={team.slug}",
        {"focus_segment": "Big Spenders", "segment_rules": "Big Spenders: monthly_spend >= 100"},
    )
    assert ok.status_code == 302
    from notifications.models import CustomerRecord

    assert CustomerRecord.objects.filter(team=team, segment="Big Spenders").exists()
    assert not CustomerRecord.objects.filter(team=team, segment="Value Seekers").exists()


def test_outsider_gets_404_everywhere(outsider_client, analysed, team):
    n = Notification.objects.filter(team=team).first()
    run = ImportRun.objects.get(kind="notifications.customers")
    f = n.analysis["trigger_factors"][0]
    for url in [
        reverse("notifications:index") + f"?team={team.slug}",
        reverse("notifications:detail", args=[n.pk]),
        reverse("notifications:run", args=[analysed.pk]),
        reverse("notifications:record", args=[f["kind"], f["id"]]) + f"?team={team.slug}",
        reverse("notifications:export") + f"?team={team.slug}",
        reverse("notifications:import_detail", args=[run.pk]),
        reverse("notifications:import_rejected", args=[run.pk]),
        reverse("notifications-settings") + f"?team={team.slug}",
    ]:
        assert outsider_client.get(url).status_code == 404, url
    for url in [
        reverse("notifications:save", args=[n.pk]),
        reverse("notifications:send", args=[n.pk]),
        reverse("notifications:import_undo", args=[run.pk]),
        reverse("crm:import_run_undo", args=[run.pk]),
    ]:
        assert outsider_client.post(url, {"subject": "x", "message": "y"}).status_code == 404, url
    assert outsider_client.get(reverse("notifications:record", args=[f["kind"], f["id"]])).status_code == 404


def test_export_escapes_formula_cells(agent_client, analysed, team, agent):
    n = Notification.objects.filter(team=team).first()
    services.save_draft(notification=n, subject="=HYPERLINK(1)", message="Dear customer, hello.", actor=agent)
    body = agent_client.get(reverse("notifications:export")).content.decode()
    assert "'=HYPERLINK(1)" in body
