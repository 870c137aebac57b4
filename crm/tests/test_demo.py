from crm.demo import load_demo
from crm.models import Account, Activity, Deal, Order, Team


def _counts():
    return (
        Team.objects.count(),
        Account.objects.count(),
        Deal.objects.count(),
        Activity.objects.count(),
        Order.objects.count(),
    )


def test_demo_world_is_big_enough_and_idempotent(db):
    load_demo()
    first = _counts()
    load_demo()
    assert _counts() == first
    teams, accounts, deals, activities, orders = first
    assert teams >= 3 and accounts >= 60 and deals >= 80 and orders > 0
    assert Activity.objects.filter(kind="email").exclude(thread_id="").count() > 100


def test_demo_world_has_stale_open_deals_for_nudges(db):
    load_demo()
    assert Deal.objects.open().filter(last_activity_at__isnull=False).count() > 40
