"""crm owns the roles, so it grants lower apps' permissions to them (llm.view_usage)."""

import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission

from crm.roles import ensure_roles

pytestmark = pytest.mark.django_db


def _holders():
    perm = Permission.objects.get(content_type__app_label="llm", codename="view_usage")
    return set(perm.group_set.values_list("name", flat=True))


def test_the_data_migration_grants_view_usage_to_managers_and_admins_only():
    migration = importlib.import_module("crm.migrations.0004_grant_llm_view_usage")
    Permission.objects.filter(codename="view_usage").delete()
    Group.objects.all().delete()
    migration.grant(apps, None)
    assert _holders() == {"manager", "admin"}
    migration.grant(apps, None)  # running twice changes nothing
    assert _holders() == {"manager", "admin"}
    migration.revoke(apps, None)
    assert _holders() == set()


def test_ensure_roles_recreates_groups_and_permission_rows_after_a_flush():
    Permission.objects.filter(codename="view_usage").delete()
    Group.objects.all().delete()
    groups = ensure_roles()
    assert set(groups) == {"agent", "manager", "admin"}
    assert _holders() == {"manager", "admin"}
