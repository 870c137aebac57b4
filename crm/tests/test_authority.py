"""Authority inside the team (issue 10, item 5): deal owners and account managers are members of
the record's team, and a refusal does not tell whether a user id exists."""

import pytest
from django.contrib.auth import get_user_model

from crm.drf import NOT_A_MEMBER
from crm.models import Account, Deal


def _missing_id() -> int:
    return (get_user_model().objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000


def test_deal_owner_from_another_team_and_a_missing_id_get_the_same_400(api, deal, outsider):
    foreign = api.patch(f"/api/deals/{deal.pk}/", {"owner": outsider.pk}, format="json")
    missing = api.patch(f"/api/deals/{deal.pk}/", {"owner": _missing_id()}, format="json")
    assert foreign.status_code == missing.status_code == 400
    assert foreign.json() == missing.json() == {"owner": [NOT_A_MEMBER]}
    deal.refresh_from_db()
    assert deal.owner.username == "agent"


def test_deal_owner_can_be_a_teammate_or_nobody(api, deal, teammate):
    assert api.patch(f"/api/deals/{deal.pk}/", {"owner": teammate.pk}, format="json").status_code == 200
    assert Deal.objects.get(pk=deal.pk).owner == teammate
    assert api.patch(f"/api/deals/{deal.pk}/", {"owner": None}, format="json").status_code == 200
    assert Deal.objects.get(pk=deal.pk).owner is None


def test_new_deal_with_a_foreign_owner_is_refused(api, account, stages, outsider):
    body = {"team": account.team_id, "account": account.pk, "name": "X", "stage": stages["lead"].pk}
    assert api.post("/api/deals/", {**body, "owner": outsider.pk}, format="json").json() == {"owner": [NOT_A_MEMBER]}
    assert not Deal.objects.filter(name="X").exists()


def test_account_manager_from_another_team_and_a_missing_id_get_the_same_400(api, account, outsider, teammate):
    foreign = api.patch(f"/api/accounts/{account.pk}/", {"account_manager": outsider.pk}, format="json")
    missing = api.patch(f"/api/accounts/{account.pk}/", {"account_manager": _missing_id()}, format="json")
    assert foreign.status_code == missing.status_code == 400
    assert foreign.json() == missing.json() == {"account_manager": [NOT_A_MEMBER]}
    assert api.patch(f"/api/accounts/{account.pk}/", {"account_manager": teammate.pk}, format="json").status_code == 200
    assert Account.objects.get(pk=account.pk).account_manager == teammate


@pytest.mark.parametrize("value", ["abc", -1, 1.5, True, 2**70, [1]])
def test_an_owner_that_is_not_an_id_gets_the_same_message(api, deal, value):
    response = api.patch(f"/api/deals/{deal.pk}/", {"owner": value}, format="json")
    assert response.status_code == 400
    assert response.json() == {"owner": [NOT_A_MEMBER]}


def test_moving_a_deal_to_a_team_its_owner_is_not_on_is_refused(api, deal, agent, other_team):
    from crm.models import Membership

    Membership.objects.create(user=agent, team=other_team)  # agent may move it there...
    other_account = Account.objects.create(team=other_team, name="Elsewhere")
    deal.owner = get_user_model().objects.create_user("loner")
    Membership.objects.create(user=deal.owner, team=deal.team)
    deal.save()
    response = api.patch(f"/api/deals/{deal.pk}/", {"team": other_team.pk, "account": other_account.pk}, format="json")
    assert response.status_code == 400 and response.json() == {"owner": [NOT_A_MEMBER]}  # ...but not its owner
