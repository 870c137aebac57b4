"""Managers and admins may read the AI usage ledger (llm.view_usage), which llm declares and crm,
which owns the roles, grants. Frozen copy of crm.roles.ROLE_PERMISSIONS at this point."""

from django.db import migrations

GRANTS = {"manager": [("llm", "llmcall", "view_usage", "Can view AI usage and spend")],
          "admin": [("llm", "llmcall", "view_usage", "Can view AI usage and spend")]}


def grant(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    for role, perms in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for app_label, model, codename, name in perms:
            # Permission rows are normally made after migrate (post_migrate); make this one now.
            ct, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
            perm, _ = Permission.objects.get_or_create(content_type=ct, codename=codename, defaults={"name": name})
            group.permissions.add(perm)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in GRANTS.items():
        for app_label, _model, codename, _name in perms:
            for perm in Permission.objects.filter(content_type__app_label=app_label, codename=codename):
                perm.group_set.remove(*Group.objects.filter(name=role))


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0003_contact_time_zone"),
        ("llm", "0002_view_usage_permission"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
