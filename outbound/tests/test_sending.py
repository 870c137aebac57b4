import json
import zoneinfo
from datetime import datetime, timedelta

import httpx
import pytest
from django.core import mail
from django.utils import timezone

from outbound import hooks, services, tasks
from outbound.errors import SendRefused
from outbound.models import Delivery
from outbound.tests.conftest import SECRET
from outbound.transports import sign

UTC = zoneinfo.ZoneInfo("UTC")


@pytest.fixture
def events():
    """A listener for the test source that records what it was told."""
    seen = []
    hooks.register_listener(
        "tests.thing",
        on_sent=lambda d: seen.append(("sent", d.pk)),
        on_failed=lambda d: seen.append(("failed", d.pk)),
        on_uncertain=lambda d: seen.append(("uncertain", d.pk)),
    )
    yield seen
    hooks._listeners.pop("tests.thing", None)


def test_same_key_returns_the_first_row_and_sends_once(queue, on_commit, events):
    with on_commit():
        first, created = queue(key="k-1")
    with on_commit():
        again, created_again = queue(key="k-1", body="a different body")
    assert created and not created_again and again.pk == first.pk
    first.refresh_from_db()
    assert first.status == "sent" and first.attempts == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["dana@techgiant.example"]
    assert mail.outbox[0].extra_headers["Message-ID"] == "<k-1@nexttouch>"
    assert events == [("sent", first.pk)]


def test_task_called_twice_sends_once(queue, events):
    delivery, _ = queue()  # not committed: nothing enqueued yet
    assert tasks.deliver_task(delivery.pk) == "sent"
    assert tasks.deliver_task(delivery.pk) == "skipped"
    assert len(mail.outbox) == 1 and events == [("sent", delivery.pk)]


def test_opted_out_contact_is_refused_and_nothing_is_stored(queue, contact):
    contact.opted_out = True
    contact.save()
    with pytest.raises(SendRefused, match="asked not to be contacted"):
        queue()
    assert not Delivery.objects.exists()


def test_a_reply_reaches_an_opted_out_contact(queue, contact, on_commit):
    contact.opted_out = True
    contact.save()
    with on_commit():
        delivery, _ = queue(is_reply=True)
    delivery.refresh_from_db()
    assert delivery.status == "sent"


def test_channel_without_address_is_refused_with_the_channel(queue):
    with pytest.raises(SendRefused, match="no address for SMS") as err:
        queue(channel="sms")
    assert err.value.field == "recipient"
    assert not Delivery.objects.exists()


def test_quiet_hours_hold_until_the_contacts_morning_then_send(queue, contact, settings, events):
    settings.OUTBOUND_QUIET_HOURS_START, settings.OUTBOUND_QUIET_HOURS_END = 21, 8
    contact.time_zone = "Europe/Paris"
    contact.save()
    night = datetime(2026, 1, 14, 22, 0, tzinfo=UTC)  # 23:00 in Paris
    delivery, _ = queue(now=night)
    assert delivery.status == "held" and delivery.not_before == datetime(2026, 1, 15, 7, 0, tzinfo=UTC)
    assert services.deliver(delivery_id=delivery.pk, now=night + timedelta(hours=1)) == "held"
    assert not mail.outbox
    assert services.deliver(delivery_id=delivery.pk, now=delivery.not_before) == "sent"
    assert len(mail.outbox) == 1 and events == [("sent", delivery.pk)]


def test_replies_are_not_held_by_quiet_hours(queue, contact, settings):
    settings.OUTBOUND_QUIET_HOURS_START, settings.OUTBOUND_QUIET_HOURS_END = 21, 8
    delivery, _ = queue(now=datetime(2026, 1, 14, 23, 0, tzinfo=UTC), is_reply=True)
    assert delivery.status == "queued" and delivery.not_before is None


def test_an_opt_out_while_held_stops_the_message(queue, contact, settings, events):
    settings.OUTBOUND_QUIET_HOURS_START, settings.OUTBOUND_QUIET_HOURS_END = 21, 8
    delivery, _ = queue(now=datetime(2026, 1, 14, 23, 0, tzinfo=UTC))
    contact.opted_out = True
    contact.save()
    assert services.deliver(delivery_id=delivery.pk, now=delivery.not_before) == "refused"
    delivery.refresh_from_db()
    assert delivery.status == "refused" and "asked not to be contacted" in delivery.last_error
    assert not mail.outbox and events == [("failed", delivery.pk)]


def test_recovery_releases_held_messages_that_are_due(queue, settings, on_commit):
    settings.OUTBOUND_QUIET_HOURS_START, settings.OUTBOUND_QUIET_HOURS_END = 21, 8
    delivery, _ = queue(now=timezone.now().replace(hour=23, minute=0) - timedelta(days=2))
    assert delivery.status == "held"
    with on_commit():
        counts = services.recover_deliveries()
    assert counts["released"] == 1
    delivery.refresh_from_db()
    assert delivery.status == "sent"


def test_webhook_is_signed_and_carries_the_key(queue, webhook, contact, on_commit):
    contact.phone = "+1 555 0100"
    contact.save()
    with on_commit():
        delivery, _ = queue(channel="sms", meta={"ticket": 7})
    ((headers, body),) = webhook.received
    assert headers["X-NextTouch-Signature"] == sign(body, SECRET)
    assert headers["Idempotency-Key"] == delivery.key
    payload = json.loads(body)
    assert payload["to"] == "+1 555 0100" and payload["ticket"] == 7 and payload["channel"] == "sms"
    delivery.refresh_from_db()
    assert delivery.status == "sent" and delivery.provider_reply["status"] == 200


def test_temporary_errors_retry_with_backoff_then_fail(queue, webhook, contact, settings, on_commit, events):
    settings.OUTBOUND_MAX_ATTEMPTS = 3
    webhook.statuses = [503] * 10
    with on_commit():
        delivery, _ = queue(channel="chat")
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 3 and "503" in delivery.last_error
    assert len(webhook.received) == 3 and events == [("failed", delivery.pk)]


def test_backoff_doubles_per_attempt(queue, webhook, monkeypatch):
    webhook.statuses = [503]
    delivery, _ = queue(channel="chat")
    scheduled = []
    monkeypatch.setattr(tasks.deliver_task, "apply_async", lambda args, countdown: scheduled.append(countdown))
    assert tasks.deliver_task(delivery.pk) == "retry"
    Delivery.objects.filter(pk=delivery.pk).update(attempts=3)
    webhook.statuses = [503]
    assert tasks.deliver_task(delivery.pk) == "retry"
    assert scheduled == [30, 240]


def test_permanent_error_fails_at_once_with_the_reason(queue, webhook, on_commit, events):
    webhook.statuses = [422]
    with on_commit():
        delivery, _ = queue(channel="chat")
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 1 and "422" in delivery.last_error
    assert events == [("failed", delivery.pk)]


def test_a_lost_answer_after_the_request_left_is_uncertain_not_retried(queue, webhook, monkeypatch, events):
    def timeout(*args, **kwargs):
        raise httpx.ReadTimeout("timed out reading the answer")

    monkeypatch.setattr(httpx, "post", timeout)
    delivery, _ = queue(channel="chat")
    assert services.deliver(delivery_id=delivery.pk) == "uncertain"
    assert services.deliver(delivery_id=delivery.pk) == "skipped"
    delivery.refresh_from_db()
    assert delivery.status == "uncertain" and "ReadTimeout" in delivery.last_error
    assert events == [("uncertain", delivery.pk)]


def test_legacy_tickets_webhook_settings_still_work(queue, webhook, settings, on_commit):
    url = settings.OUTBOUND_WEBHOOK_URL
    settings.OUTBOUND_WEBHOOK_URL, settings.OUTBOUND_WEBHOOK_SECRET = "", ""
    settings.TICKETS_OUTBOUND_WEBHOOK_URL, settings.TICKETS_OUTBOUND_WEBHOOK_SECRET = url, "legacy-secret"
    with on_commit():
        delivery, _ = queue(channel="chat")
    ((headers, body),) = webhook.received
    assert headers["X-NextTouch-Signature"] == sign(body, "legacy-secret")


def _stall(delivery, *, handed: bool, minutes_ago: int = 30):
    at = timezone.now() - timedelta(minutes=minutes_ago)
    Delivery.objects.filter(pk=delivery.pk).update(
        status="sending", claimed_at=at, handed_at=at if handed else None, attempts=1
    )


def test_a_send_lost_before_the_transport_is_requeued_and_sent_once(queue, on_commit):
    delivery, _ = queue()
    _stall(delivery, handed=False)
    with on_commit():
        counts = services.recover_deliveries()
    assert counts["requeued"] == 1
    delivery.refresh_from_db()
    assert delivery.status == "sent" and len(mail.outbox) == 1


def test_a_send_lost_after_the_transport_becomes_uncertain_and_is_never_resent(queue, on_commit, events):
    delivery, _ = queue()
    _stall(delivery, handed=True)
    with on_commit():
        counts = services.recover_deliveries()
        services.recover_deliveries()  # the pass runs every minute: twice changes nothing
    assert counts["uncertain"] == 1
    delivery.refresh_from_db()
    assert delivery.status == "uncertain" and "may have accepted" in delivery.last_error
    assert services.deliver(delivery_id=delivery.pk) == "skipped"
    assert not mail.outbox and events == [("uncertain", delivery.pk)]


def test_a_send_still_inside_its_lease_is_left_alone(queue):
    delivery, _ = queue()
    _stall(delivery, handed=True, minutes_ago=1)
    assert services.recover_deliveries() == {"requeued": 0, "uncertain": 0, "released": 0, "reenqueued": 0}


def test_person_confirms_an_uncertain_delivery_as_sent(queue, agent, on_commit, events):
    delivery, _ = queue()
    _stall(delivery, handed=True)
    services.recover_deliveries()
    with on_commit():
        assert services.confirm_sent(actor=agent, delivery=delivery)
    delivery.refresh_from_db()
    assert delivery.status == "sent" and delivery.resolved_by == agent
    assert delivery.provider_reply["confirmed_by"] == "agent"
    assert not mail.outbox and events[-1] == ("sent", delivery.pk)
    assert services.confirm_sent(actor=agent, delivery=delivery) is False


def test_person_sends_an_uncertain_delivery_again(queue, agent, on_commit):
    delivery, _ = queue()
    _stall(delivery, handed=True)
    services.recover_deliveries()
    with on_commit():
        assert services.retry_delivery(actor=agent, delivery=delivery)
    delivery.refresh_from_db()
    assert delivery.status == "sent" and len(mail.outbox) == 1 and delivery.resolved_by == agent
    assert services.retry_delivery(actor=agent, delivery=delivery) is False


def test_a_failing_listener_does_not_undo_the_send(queue):
    hooks.register_listener("tests.thing", on_sent=lambda d: 1 / 0)
    try:
        delivery, _ = queue()
        assert services.deliver(delivery_id=delivery.pk) == "sent"
    finally:
        hooks._listeners.pop("tests.thing", None)
    delivery.refresh_from_db()
    assert delivery.status == "sent"


@pytest.mark.parametrize("key, field", [("", "key"), ("x" * 201, "key")])
def test_bad_key_is_refused_naming_the_field(queue, key, field):
    with pytest.raises(SendRefused) as err:
        queue(key=key)
    assert err.value.field == field


def test_empty_body_is_refused(queue):
    with pytest.raises(SendRefused, match="empty"):
        queue(body="   ")


def test_a_queued_row_whose_task_was_lost_is_enqueued_again_and_sent_once(queue, on_commit):
    delivery, _ = queue()  # its task never ran (as if a killed worker had fetched it)
    Delivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - timedelta(hours=1))
    with on_commit():
        counts = services.recover_deliveries()
    assert counts["reenqueued"] == 1
    delivery.refresh_from_db()
    assert delivery.status == "sent" and len(mail.outbox) == 1
    with on_commit():
        assert services.recover_deliveries()["reenqueued"] == 0
