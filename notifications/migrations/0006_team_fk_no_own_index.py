"""notifications_customerrecord.team_id loses the b-tree Django adds for a foreign key:
customer_record_unique_id (team_id, customer_id) and customer_record_segment_idx (team_id, segment,
risk_score) already start with it (docs/benchmarks.md, Customer notifications: the plans before and after).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0007_team_fk_no_own_index'),
        ('notifications', '0005_customer_imports_in_core'),
    ]

    operations = [
        migrations.AlterField(
            model_name='customerrecord',
            name='team',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='crm.team'),
        ),
    ]
