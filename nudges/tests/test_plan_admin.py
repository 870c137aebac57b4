import pytest

from nudges import plans

pytestmark = pytest.mark.django_db


def test_admin_plan_list_shows_cache_stats(client, stale_deal, django_user_model):
    plans.plan_for_deal(deal=stale_deal)
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    page = client.get("/admin/nudges/plan/", follow=True)
    assert page.status_code == 200 and "Plan cache: 1 cached (1 fresh, 0 expired)" in page.content.decode()
    plan = stale_deal.plans.get()
    assert client.get(f"/admin/nudges/plan/{plan.pk}/change/").status_code == 200
    for model in ("contextversion", "prompttemplate", "planfeedback", "learning"):
        assert client.get(f"/admin/nudges/{model}/").status_code == 200
