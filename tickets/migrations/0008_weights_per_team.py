
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def link_tickets_to_their_sets(apps, schema_editor):
    """Every existing weight set becomes a version of the global default (its team stays empty);
    each ticket's stored version number becomes a link to that set."""
    WeightSet = apps.get_model("tickets", "WeightSet")
    Ticket = apps.get_model("tickets", "Ticket")
    for pk, version in WeightSet.objects.values_list("pk", "version"):
        Ticket.objects.filter(weights_version=version).update(weight_set_id=pk)


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0005_import_run'),
        ('tickets', '0007_draft_provenance'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='weightset',
            options={'ordering': ['-version', '-id']},
        ),
        migrations.AddField(
            model_name='ticket',
            name='weight_set',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='tickets.weightset'),
        ),
        migrations.AddField(
            model_name='weightset',
            name='team',
            field=models.ForeignKey(blank=True, db_index=False, help_text='Empty: the global default every team without its own weights uses.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='weight_sets', to='crm.team'),
        ),
        migrations.AlterField(
            model_name='weightset',
            name='version',
            field=models.PositiveIntegerField(),
        ),
        migrations.AddConstraint(
            model_name='weightset',
            constraint=models.UniqueConstraint(condition=models.Q(('team__isnull', False)), fields=('team', 'version'), name='weightset_unique_team_version'),
        ),
        migrations.AddConstraint(
            model_name='weightset',
            constraint=models.UniqueConstraint(condition=models.Q(('team__isnull', True)), fields=('version',), name='weightset_unique_global_version'),
        ),
        # Last: on PostgreSQL the tickets' new foreign key is checked at commit, and a later ALTER
        # of the table in the same transaction would fail on those pending checks (the column is
        # dropped in 0009, its own transaction).
        migrations.RunPython(link_tickets_to_their_sets, migrations.RunPython.noop),
    ]
