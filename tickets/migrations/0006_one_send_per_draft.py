"""A draft is sent at most once (issue 10): earlier duplicate sends of one draft keep their message
but only the first stays linked to the draft, then the constraint holds it."""

from django.conf import settings
from django.db import migrations, models


def unlink_later_sends(apps, schema_editor):
    Message = apps.get_model("tickets", "Message")
    seen = set()
    for pk, draft_id in Message.objects.exclude(draft=None).order_by("created_at", "id").values_list("pk", "draft_id"):
        if draft_id in seen:
            Message.objects.filter(pk=pk).update(draft=None)
        seen.add(draft_id)


class Migration(migrations.Migration):
    dependencies = [
        ("outbound", "0001_initial"),
        ("tickets", "0005_deliveries_move_to_outbound"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(unlink_later_sends, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="message",
            constraint=models.UniqueConstraint(
                condition=models.Q(("draft__isnull", False)), fields=("draft",), name="message_one_per_draft"
            ),
        ),
    ]
