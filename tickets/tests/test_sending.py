import json
import socket

import pytest
from aiosmtpd.controller import Controller
from django.core import mail
from django.test import override_settings

from crm.errors import ServiceError
from outbound import services as outbound
from outbound import tasks
from outbound.models import Delivery
from outbound.tests.conftest import SECRET
from outbound.transports import sign
from tickets import services
from tickets.models import Message, Ticket


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    handler = Inbox()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def test_email_reply_goes_through_a_real_smtp_server_exactly_once(make_ticket, agent, smtp_server, on_commit):
    handler, port = smtp_server
    t = make_ticket("Where is my order?", channel="email")
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1", EMAIL_PORT=port
    ):
        with on_commit():
            message, created = services.send_reply(
                actor=agent, ticket=t, body="Hi, it ships today.", idempotency_key="k1"
            )
        delivery = Delivery.objects.get(source_id=message.pk)
        assert created and delivery.status == "sent"
        # A retried request, a double click and a redelivered task:
        with on_commit():
            again, created_again = services.send_reply(
                actor=agent, ticket=t, body="Hi, it ships today.", idempotency_key="k1"
            )
        assert again.pk == message.pk and not created_again
        assert tasks.deliver_task(delivery.pk) == "skipped"
        assert outbound.deliver(delivery_id=delivery.pk) == "skipped"
    assert len(handler.messages) == 1
    envelope = handler.messages[0]
    assert envelope.rcpt_tos == [t.contact.email]
    assert b"it ships today" in envelope.content and f"nt-msg-{message.pk}".encode() in envelope.content
    t.refresh_from_db()
    assert t.status == "pending" and t.first_responded_at and t.waiting_since is None


def test_sms_goes_to_the_signed_webhook(make_ticket, agent, webhook, on_commit):
    t = make_ticket("where is it", channel="sms")
    with on_commit():
        message, _ = services.send_reply(actor=agent, ticket=t, body="On its way, arrives Fri", idempotency_key="s1")
    assert Delivery.objects.get(source_id=message.pk).status == "sent"
    ((headers, body),) = webhook.received
    assert headers["X-NextTouch-Signature"] == sign(body, SECRET)
    assert headers["Idempotency-Key"] == f"nt-msg-{message.pk}"
    assert json.loads(body)["to"] == t.contact.phone and json.loads(body)["channel"] == "sms"


def test_temporary_webhook_failure_is_retried_then_sent_once(make_ticket, agent, webhook):
    t = make_ticket("hi", channel="chat")
    webhook.statuses = [503, 502]
    message, _ = services.send_reply(actor=agent, ticket=t, body="Hello! Sorted.", idempotency_key="c1")
    d = Delivery.objects.get(source_id=message.pk)
    assert outbound.deliver(delivery_id=d.pk) == "retry"
    assert outbound.deliver(delivery_id=d.pk) == "retry"
    assert outbound.deliver(delivery_id=d.pk) == "sent"
    assert outbound.deliver(delivery_id=d.pk) == "skipped"
    d.refresh_from_db()
    assert d.status == "sent" and d.attempts == 3
    assert len(webhook.received) == 3  # two refused, one accepted; none after success


def test_task_retries_with_backoff_until_it_gives_up(make_ticket, agent, webhook, on_commit):
    t = make_ticket("hi", channel="chat")
    webhook.statuses = [500] * 10
    with override_settings(TICKETS_SEND_MAX_ATTEMPTS=3), on_commit():
        message, _ = services.send_reply(actor=agent, ticket=t, body="Hello!", idempotency_key="c2")
    d = Delivery.objects.get(source_id=message.pk)
    assert d.status == "failed" and d.attempts == 3 and "500" in d.last_error
    assert len(webhook.received) == 3
    assert t.events.filter(kind="delivery_failed").exists()


def test_failed_delivery_can_be_retried_by_an_agent(make_ticket, agent, webhook, on_commit):
    t = make_ticket("hi", channel="chat")
    webhook.statuses = [400]
    with on_commit():
        message, _ = services.send_reply(actor=agent, ticket=t, body="Hello!", idempotency_key="c3")
    d = Delivery.objects.get(source_id=message.pk)
    assert d.status == "failed" and "refused" in d.last_error
    with on_commit():
        assert outbound.retry_delivery(actor=agent, delivery=d)
    d.refresh_from_db()
    assert d.status == "sent"
    assert outbound.retry_delivery(actor=agent, delivery=d) is False


def test_missing_webhook_configuration_fails_with_a_reason(make_ticket, agent, on_commit):
    t = make_ticket("hi", channel="sms")
    with override_settings(TICKETS_OUTBOUND_WEBHOOK_URL=""), on_commit():
        message, _ = services.send_reply(actor=agent, ticket=t, body="Hi", idempotency_key="x")
    d = Delivery.objects.get(source_id=message.pk)
    assert d.status == "failed" and "TICKETS_OUTBOUND_WEBHOOK_URL" in d.last_error


@pytest.mark.parametrize(
    "channel, body, limit",
    [("sms", "x" * 161, "160 characters"), ("chat", "w " * 101, "100 words"), ("email", "  ", "200 words")],
)
def test_empty_or_over_length_reply_is_refused_with_the_limit(make_ticket, agent, channel, body, limit):
    t = make_ticket("hi", channel=channel)
    with pytest.raises(ServiceError) as exc:
        services.send_reply(actor=agent, ticket=t, body=body)
    assert limit in str(exc.value)
    assert not Message.objects.filter(direction="out").exists()


def test_sending_from_a_draft_measures_the_agents_edits(make_ticket, agent):
    t = make_ticket("Where is my order?", channel="email")
    draft = t.drafts.get(status="ready")
    edited = draft.content.replace("Thank you for getting in touch.", "Thanks for your patience.")
    services.send_reply(actor=agent, ticket=t, body=edited, idempotency_key="d1", draft=draft)
    draft.refresh_from_db()
    assert draft.sent_message is not None
    assert draft.edit_distance == 5 and 0 < draft.edit_ratio < 1
    mail.outbox.clear()


def test_reply_is_refused_without_an_address(make_ticket, agent, account):
    t = make_ticket("hi", channel="email")
    Ticket.objects.filter(pk=t.pk).update(contact=None)
    t.refresh_from_db()
    with pytest.raises(ServiceError):
        services.send_reply(actor=agent, ticket=t, body="Hello")
