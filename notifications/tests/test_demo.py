import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from crm.models import ImportRun, Team
from notifications.models import AnalysisRun, CustomerRecord, Notification

pytestmark = pytest.mark.django_db


def test_load_demo_imports_the_sample_into_energy_retention_once_and_fills_the_queue(client):
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    team = Team.objects.get(slug="energy-retention")
    assert "Notifications: 300 customers, sample imported" in out.getvalue()
    assert CustomerRecord.objects.filter(team=team).count() == 300
    queue = Notification.objects.filter(team=team).count()
    assert queue > 0
    runs = ImportRun.objects.filter(team=team, kind="notifications.customers")
    assert runs.get().status == "imported"

    out = io.StringIO()
    call_command("load_demo", stdout=out)
    assert "sample already imported" in out.getvalue() and "already analysed" in out.getvalue()
    assert runs.count() == 1 and Notification.objects.filter(team=team).count() == queue
    assert AnalysisRun.objects.filter(team=team).count() == 1

    client.login(username="demo", password="nexttouch-demo")
    page = client.get(reverse("notifications:index") + "?team=energy-retention")
    assert page.status_code == 200 and page.context["stats"]["total"] == queue
