import django.db.models.deletion
import django.db.models.functions.comparison
from django.conf import settings
from django.conf import settings
from django.db import migrations, models


def inherit_where_untouched(apps, schema_editor):
    """Until now a team's row was created the first time anyone read it, with the environment's
    defaults. A row no person ever saved (no `updated_by`) that still holds those defaults is
    removed, so its team inherits the global default (created from the same defaults) instead of
    being pinned to a copy of them; rows a manager saved stay the team's own."""
    NudgeSettings = apps.get_model("nudges", "NudgeSettings")
    NudgeSettings.objects.filter(
        team__isnull=False,
        updated_by__isnull=True,
        min_idle_days=settings.NUDGES_MIN_IDLE_DAYS,
        min_urgency=settings.NUDGES_MIN_URGENCY,
        ghost_factor=settings.NUDGES_GHOST_FACTOR,
        ghost_min_hours=settings.NUDGES_GHOST_MIN_HOURS,
        next_step_grace_days=settings.NUDGES_NEXT_STEP_GRACE_DAYS,
        stalled_in_stage_days=settings.NUDGES_STALLED_IN_STAGE_DAYS,
        single_threaded_min_amount=settings.NUDGES_SINGLE_THREADED_MIN_AMOUNT,
        no_activity_enabled=True,
        ghosted_enabled=True,
        next_step_overdue_enabled=True,
        stalled_in_stage_enabled=True,
        single_threaded_enabled=True,
    ).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0005_import_run'),
        ('nudges', '0003_plans'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='nudgesettings',
            name='team',
            field=models.OneToOneField(blank=True, help_text='Empty: the global default every team without its own settings uses.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='nudge_settings', to='crm.team'),
        ),
        migrations.AddConstraint(
            model_name='nudgesettings',
            constraint=models.UniqueConstraint(django.db.models.functions.comparison.Coalesce('team', models.Value(0)), name='nudgesettings_one_global_default'),
        ),
        migrations.RunPython(inherit_where_untouched, migrations.RunPython.noop),
    ]
