import pytest

from crm.demo import load_demo
from tickets import demo
from tickets.models import Draft, Ticket


@pytest.mark.django_db
def test_demo_gives_a_meaningful_inbox_and_is_idempotent(django_capture_on_commit_callbacks):
    load_demo()
    with django_capture_on_commit_callbacks(execute=True):
        summary = demo.load()
    assert "demo tickets created" in summary
    care = Ticket.objects.filter(team__slug="customer-care")
    assert care.open().count() >= 20
    assert care.filter(status="resolved").exclude(resolution="").count() >= 4
    assert Ticket.objects.filter(team__slug="energy-retention").exists()
    assert care.filter(needs_review=True).exists() and care.filter(escalated_at__isnull=False).exists()
    assert set(care.values_list("channel", flat=True)) == {"email", "sms", "chat", "phone"}
    assert Draft.objects.filter(status="ready").count() >= care.open().count()
    count = Ticket.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        demo.load()
    assert Ticket.objects.count() == count
