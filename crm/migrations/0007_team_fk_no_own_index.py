"""crm_account.team_id loses the b-tree Django adds for a foreign key: account_team_name_idx
(team_id, name) and account_unique_external_id (team_id, external_id) already start with it, so every
lookup by team keeps an index, and an insert writes one b-tree fewer (docs/benchmarks.md, Customer
notifications: the plans before and after). Django re-adds the foreign key, which checks the table once.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0006_import_undo'),
    ]

    operations = [
        migrations.AlterField(
            model_name='account',
            name='team',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='accounts', to='crm.team'),
        ),
    ]
