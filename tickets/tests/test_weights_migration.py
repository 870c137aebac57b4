"""The 0008/0009 migrations: existing weight sets become versions of the global default, and each
ticket's stored version number becomes a link to that set."""

import pytest

from tickets.tests.test_delivery_migration import _migrate, executor_leaf

BEFORE = [("tickets", "0007_draft_provenance")]
AFTER = [("tickets", "0009_drop_weights_version")]


@pytest.mark.django_db(transaction=True)
def test_existing_weight_sets_become_the_global_default_and_tickets_keep_their_set():
    old = _migrate(BEFORE)
    Team = old.get_model("crm", "Team")
    Account = old.get_model("crm", "Account")
    Ticket = old.get_model("tickets", "Ticket")
    WeightSet = old.get_model("tickets", "WeightSet")
    team = Team.objects.create(name="Blue", slug="blue-w")
    account = Account.objects.create(team=team, name="Acme")
    values = dict.fromkeys(
        ["churn", "value", "urgency", "age", "age_cap", "easy_bonus", "complex_penalty", "sentiment_boost"], 1.0
    )
    values.update(sentiment_threshold=0.3, topic_alert_boost=5.0)
    v1 = WeightSet.objects.create(version=1, **values)
    v2 = WeightSet.objects.create(version=2, **{**values, "churn": 4.0})
    on_v1 = Ticket.objects.create(team=team, account=account, subject="old", weights_version=1)
    on_v2 = Ticket.objects.create(team=team, account=account, subject="new", weights_version=2)
    try:
        new = _migrate(AFTER)
        NewWeightSet = new.get_model("tickets", "WeightSet")
        NewTicket = new.get_model("tickets", "Ticket")
        assert set(NewWeightSet.objects.values_list("pk", "team_id")) == {(v1.pk, None), (v2.pk, None)}
        assert NewTicket.objects.get(pk=on_v1.pk).weight_set_id == v1.pk
        assert NewTicket.objects.get(pk=on_v2.pk).weight_set_id == v2.pk
    finally:
        _migrate(executor_leaf())
