"""The 0005 data migration moves the old tickets.Delivery ledger into outbound.Delivery, unchanged."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("tickets", "0004_alert_matches"), ("outbound", "0001_initial")]
AFTER = [("tickets", "0005_deliveries_move_to_outbound")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_existing_reply_deliveries_move_to_outbound_with_their_state():
    old = _migrate(BEFORE)
    Team = old.get_model("crm", "Team")
    Account = old.get_model("crm", "Account")
    Contact = old.get_model("crm", "Contact")
    Ticket = old.get_model("tickets", "Ticket")
    Message = old.get_model("tickets", "Message")
    OldDelivery = old.get_model("tickets", "Delivery")
    team = Team.objects.create(name="Blue", slug="blue-m")
    account = Account.objects.create(team=team, name="Acme")
    contact = Contact.objects.create(account=account, name="Dana", email="dana@example.com")
    ticket = Ticket.objects.create(team=team, account=account, contact=contact, subject="Late", channel="email")
    sent = Message.objects.create(ticket=ticket, direction="out", channel="email", body="On its way")
    stuck = Message.objects.create(ticket=ticket, direction="out", channel="email", body="Second")
    OldDelivery.objects.create(
        message=sent, key=f"nt-msg-{sent.pk}", channel="email", recipient=contact.email, status="sent", attempts=2
    )
    OldDelivery.objects.create(
        message=stuck,
        key=f"nt-msg-{stuck.pk}",
        channel="email",
        recipient=contact.email,
        status="sending",
        attempts=1,
        claimed_at=ticket.created_at,
    )
    try:
        new = _migrate(AFTER)
        Delivery = new.get_model("outbound", "Delivery")
        NewMessage = new.get_model("tickets", "Message")
        moved = {d.source_id: d for d in Delivery.objects.all()}
        assert set(moved) == {sent.pk, stuck.pk}
        first = moved[sent.pk]
        assert first.key == f"nt-msg-{sent.pk}" and first.status == "sent" and first.attempts == 2
        assert first.team_id == team.pk and first.body == "On its way" and first.is_reply
        assert first.subject == f"Re: Late [#{ticket.pk}]" and first.meta == {"ticket": ticket.pk}
        assert NewMessage.objects.get(pk=sent.pk).delivery_id == first.pk
        # A row the old code left "sending" may have reached the provider: the recovery pass
        # will make it uncertain, never resend it.
        assert moved[stuck.pk].handed_at is not None
    finally:
        _migrate(executor_leaf())


def executor_leaf():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()
