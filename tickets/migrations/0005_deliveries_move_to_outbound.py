"""Ticket replies' send ledger moves to outbound.Delivery (issue 9).

Each tickets.Delivery row becomes an outbound.Delivery with the same key (so a provider that
deduplicates on it still sees the same message), status, attempts and times; the message points
to it; then tickets.Delivery is dropped.
"""

import django.db.models.deletion
from django.db import migrations, models


def move_deliveries(apps, schema_editor):
    Old = apps.get_model("tickets", "Delivery")
    New = apps.get_model("outbound", "Delivery")
    Message = apps.get_model("tickets", "Message")
    rows = Old.objects.select_related("message__ticket", "message__ticket__contact").order_by("pk")
    for old in rows.iterator(chunk_size=500):
        message = old.message
        ticket = message.ticket
        new = New.objects.create(
            key=old.key,
            team_id=ticket.team_id,
            channel=old.channel,
            recipient=old.recipient,
            subject=f"Re: {ticket.subject} [#{ticket.pk}]"[:300],
            body=message.body,
            meta={"ticket": ticket.pk},
            status=old.status,
            attempts=old.attempts,
            last_error=old.last_error,
            claimed_at=old.claimed_at,
            # A row left "sending" by the old code may have reached the provider.
            handed_at=old.claimed_at if old.status == "sending" else None,
            sent_at=old.sent_at,
            created_at=old.created_at,
            created_by_id=message.author_id,
            contact_id=ticket.contact_id,
            source="tickets.message",
            source_id=message.pk,
            is_reply=True,
        )
        Message.objects.filter(pk=message.pk).update(delivery=new)


def move_back(apps, schema_editor):
    Old = apps.get_model("tickets", "Delivery")
    Message = apps.get_model("tickets", "Message")
    # Statuses the old ledger did not have map to the nearest it had.
    status = {"held": "queued", "uncertain": "sending", "refused": "failed"}
    for message in Message.objects.exclude(delivery=None).select_related("delivery").iterator(chunk_size=500):
        d = message.delivery
        Old.objects.create(
            message=message,
            key=d.key,
            channel=d.channel if d.channel in ("email", "sms", "chat", "phone") else "chat",
            recipient=d.recipient,
            status=status.get(d.status, d.status),
            attempts=d.attempts,
            last_error=d.last_error,
            claimed_at=d.claimed_at,
            sent_at=d.sent_at,
            created_at=d.created_at,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("outbound", "0001_initial"),
        ("tickets", "0004_alert_matches"),
    ]

    operations = [
        # Frees the reverse name "delivery" on Message for the new field (no SQL).
        migrations.AlterField(
            model_name="delivery",
            name="message",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tickets.message"
            ),
        ),
        migrations.AddField(
            model_name="message",
            name="delivery",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="outbound.delivery",
            ),
        ),
        migrations.RunPython(move_deliveries, move_back),
        migrations.DeleteModel(name="Delivery"),
    ]
