"""Team scoping: the outsider sees nothing, anonymous users are sent to log in."""

import pytest
from django.urls import reverse

from crm.models import Account, Activity, Deal, Order


@pytest.fixture
def world(account, contact, deal, foreign_account, other_team, stages):
    foreign_deal = Deal.objects.create(
        team=other_team, account=foreign_account, name="Secret deal", stage=stages["lead"]
    )
    own_activity = Activity.objects.create(account=account, deal=deal, kind="email", body="hello")
    foreign_activity = Activity.objects.create(account=foreign_account, kind="note", body="secret")
    own_order = Order.objects.create(account=account, number="1", amount=10)
    foreign_order = Order.objects.create(account=foreign_account, number="2", amount=10)
    foreign_contact = foreign_account.contacts.create(name="Hidden Person")
    return {
        "account": account,
        "deal": deal,
        "contact": contact,
        "activity": own_activity,
        "order": own_order,
        "foreign_account": foreign_account,
        "foreign_deal": foreign_deal,
        "foreign_activity": foreign_activity,
        "foreign_order": foreign_order,
        "foreign_contact": foreign_contact,
    }


CONSOLE_PAGES = [
    "/",
    "/accounts/",
    "/deals/",
    "/settings/",
    "/inbox/",
    "/deals/nudges/",
    "/notifications/",
    "/assistant/",
]


@pytest.mark.parametrize("url", CONSOLE_PAGES)
def test_anonymous_console_visit_redirects_to_login(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_anonymous_detail_pages_redirect_to_login(client, world):
    for url in [world["account"].get_absolute_url(), world["deal"].get_absolute_url()]:
        assert client.get(url).status_code == 302


@pytest.mark.parametrize(
    "url", ["/api/accounts/", "/api/deals/", "/api/contacts/", "/api/activities/", "/api/orders/", "/api/schema/"]
)
def test_anonymous_api_is_refused(client, db, url):
    assert client.get(url).status_code in (401, 403)


def test_outsider_gets_404_on_every_detail_page_and_fragment(outsider_client, world):
    account, deal = world["account"], world["deal"]
    urls = [
        reverse("crm:account_detail", args=[account.pk]),
        reverse("crm:account_timeline", args=[account.pk]),
        reverse("crm:deal_detail", args=[deal.pk]),
    ]
    for url in urls:
        assert outsider_client.get(url).status_code == 404, url


def test_outsider_cannot_write_to_foreign_records(outsider_client, world):
    account, deal, stages_deal = world["account"], world["deal"], world["deal"]
    r1 = outsider_client.post(reverse("crm:account_log_activity", args=[account.pk]), {"kind": "note", "body": "x"})
    r2 = outsider_client.post(reverse("crm:deal_change_stage", args=[deal.pk]), {"stage": stages_deal.stage_id})
    assert (r1.status_code, r2.status_code) == (404, 404)
    assert not Activity.objects.filter(body="x").exists()


def test_lists_show_only_own_team(agent_client, world):
    accounts = agent_client.get("/accounts/").content.decode()
    deals = agent_client.get("/deals/").content.decode()
    assert "TechGiant" in accounts and "Secret Corp" not in accounts
    assert "TechGiant renewal" in deals and "Secret deal" not in deals


def test_teammate_and_manager_see_team_records(client, teammate, manager, world):
    for user in (teammate, manager):
        client.force_login(user)
        assert client.get(world["account"].get_absolute_url()).status_code == 200


def test_admin_sees_every_team(client, admin_user, world):
    client.force_login(admin_user)
    assert client.get(world["foreign_account"].get_absolute_url()).status_code == 200


@pytest.mark.parametrize(
    "endpoint,key",
    [
        ("accounts", "foreign_account"),
        ("deals", "foreign_deal"),
        ("contacts", "foreign_contact"),
        ("activities", "foreign_activity"),
        ("orders", "foreign_order"),
    ],
)
def test_outsider_api_gets_404_on_foreign_rows_and_lists_exclude_them(api, endpoint, key, world):
    foreign = world[key]
    assert api.get(f"/api/{endpoint}/{foreign.pk}/").status_code == 404
    assert api.patch(f"/api/{endpoint}/{foreign.pk}/", {}, format="json").status_code == 404
    assert api.delete(f"/api/{endpoint}/{foreign.pk}/").status_code == 404
    ids = [row["id"] for row in api.get(f"/api/{endpoint}/").json()["results"]]
    assert foreign.pk not in ids


@pytest.mark.parametrize(
    "endpoint,key",
    [
        ("accounts", "account"),
        ("deals", "deal"),
        ("contacts", "contact"),
        ("activities", "activity"),
        ("orders", "order"),
    ],
)
def test_api_detail_works_for_own_team(api, endpoint, key, world):
    assert api.get(f"/api/{endpoint}/{world[key].pk}/").status_code == 200


def test_unknown_ids_are_404_not_500(agent_client, api, db):
    assert agent_client.get("/accounts/999999/").status_code == 404
    assert api.get("/api/deals/999999/").status_code == 404
    assert Account.objects.count() == 0
