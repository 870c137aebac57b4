"""The permissions each role carries.

Lower apps declare Django permissions on their own models (`llm.view_usage` on the usage ledger)
and check `user.has_perm(...)`, so they never import crm to ask "is this a manager?". crm defines
the roles, so crm grants them: here for the demo and the test personas, and in
crm/migrations/0004_grant_llm_view_usage.py for existing databases.
"""

from __future__ import annotations

from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission

from crm.models import ADMIN_GROUP, AGENT_GROUP, MANAGER_GROUP

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    AGENT_GROUP: (),
    MANAGER_GROUP: ("llm.view_usage",),
    ADMIN_GROUP: ("llm.view_usage",),
}


def _permission(label: str) -> Permission:
    app_label, codename = label.split(".", 1)
    found = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
    if found is None:
        # A flushed test database has no permission rows until post_migrate runs again.
        create_permissions(apps.get_app_config(app_label), verbosity=0)
        found = Permission.objects.get(content_type__app_label=app_label, codename=codename)
    return found


def ensure_role(name: str) -> Group:
    """The role's group, created if missing, carrying at least the role's permissions."""
    group, _ = Group.objects.get_or_create(name=name)
    wanted = [_permission(label) for label in ROLE_PERMISSIONS.get(name, ())]
    if wanted:
        group.permissions.add(*wanted)
    return group


def ensure_roles() -> dict[str, Group]:
    return {name: ensure_role(name) for name in ROLE_PERMISSIONS}
