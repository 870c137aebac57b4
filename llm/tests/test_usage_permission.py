"""Who may read AI usage is a Django permission (`llm.view_usage`) that llm declares and the app
owning the roles grants; llm asks `has_perm`, never "is this a manager"."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def _api(user):
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_a_user_granted_view_usage_directly_sees_the_page_and_api(client):
    user = get_user_model().objects.create_user("auditor", password="x-not-used")
    client.force_login(user)
    assert client.get(reverse("llm:usage")).status_code == 404
    assert _api(user).get("/api/llm/calls/").status_code == 404

    user.user_permissions.add(Permission.objects.get(content_type__app_label="llm", codename="view_usage"))
    user = get_user_model().objects.get(pk=user.pk)  # has_perm caches per instance
    client.force_login(user)
    assert client.get(reverse("llm:usage")).status_code == 200
    assert _api(user).get("/api/llm/calls/").status_code == 200
    assert _api(user).get("/api/llm/usage/").status_code == 200


def test_managers_and_admins_hold_view_usage_and_agents_do_not(manager, admin_user, agent, outsider):
    assert manager.has_perm("llm.view_usage") and admin_user.has_perm("llm.view_usage")
    assert not agent.has_perm("llm.view_usage") and not outsider.has_perm("llm.view_usage")


def test_admin_group_member_sees_the_page(client, admin_user):
    client.force_login(admin_user)
    assert client.get(reverse("llm:usage")).status_code == 200
