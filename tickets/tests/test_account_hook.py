"""An account edit in crm (API or admin) rescores the customer's open tickets through the hook tickets
registers in its apps.py (crm.hooks.on_account_updated): crm itself never imports tickets."""

import pytest

from tickets import tasks  # noqa: F401 - registers the triage task create_ticket enqueues by name


def test_changing_churn_risk_rescores_the_customers_open_tickets(api, account, contact, agent):
    from tickets.services import create_ticket

    account.churn_risk = 0.1
    account.save()
    ticket = create_ticket(
        actor=agent, account=account, contact=contact, channel="email", subject="Late", body="Where is my order?"
    )
    ticket.refresh_from_db()
    before = ticket.score_churn
    response = api.patch(f"/api/accounts/{account.pk}/", {"churn_risk": 0.9}, format="json")
    assert response.status_code == 200
    ticket.refresh_from_db()
    assert ticket.customer_churn == 0.9
    assert ticket.score_churn > before


def test_changing_churn_risk_in_the_admin_rescores_too(client, django_user_model, account, contact, agent):
    from tickets.services import create_ticket

    account.churn_risk = 0.1
    account.save()
    ticket = create_ticket(
        actor=agent, account=account, contact=contact, channel="email", subject="Late", body="Where is my order?"
    )
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    url = f"/admin/crm/account/{account.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(
        {
            "team": account.team_id,
            "churn_risk": "0.9",
            "created_at_0": account.created_at.strftime("%Y-%m-%d"),
            "created_at_1": account.created_at.strftime("%H:%M:%S"),
            "contacts-TOTAL_FORMS": "0",
            "contacts-INITIAL_FORMS": "0",
        }
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    ticket.refresh_from_db()
    assert ticket.customer_churn == 0.9 and ticket.score_churn == pytest.approx(0.9 * 3.0)
