from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("tickets", "0008_weights_per_team")]

    operations = [
        migrations.RemoveField(model_name="ticket", name="weights_version"),
    ]
