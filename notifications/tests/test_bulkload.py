import pytest
from django.db import connection

from crm.models import Account, Contact
from notifications import bulkload, importing
from notifications.models import CustomerRecord
from notifications.tests.conftest import SAMPLE

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path needs PostgreSQL"),
]
FIELDS = ["customer_id", "region", "tariff", "payment_method", "monthly_spend", "tenure_months", "green_tariff",
          "marketing_consent", "has_activity", "account_status", "engagement_score", "churn_risk", "last_login",
          "payment_status", "contract_end", "outcome", "outcome_on"]  # fmt: skip


def _rows(team):
    return sorted(CustomerRecord.objects.filter(team=team).values_list(*FIELDS))


def test_bulk_path_stores_what_the_row_path_stores(team, other_team):
    profiles, activity = SAMPLE / "Customer Profiles.csv", SAMPLE / "Account Activity Logs.csv"
    importing.run_import([(p.name, p.read_bytes()) for p in (profiles, activity)], team=team)
    result = bulkload.load(team=other_team, profiles=profiles, activity=activity)
    assert result.rows == {"profiles": 300, "activity": 300} and result.rejected == {"profiles": 0, "activity": 0}
    assert _rows(team) == _rows(other_team)
    mine = sorted(
        Contact.objects.filter(account__team=team).values_list(
            "name", "email", "phone", "preferred_channel", "opted_out"
        )
    )
    theirs = sorted(
        Contact.objects.filter(account__team=other_team).values_list(
            "name", "email", "phone", "preferred_channel", "opted_out"
        )
    )
    assert mine == theirs
    again = bulkload.load(team=other_team, profiles=profiles, activity=activity)  # idempotent
    assert Account.objects.filter(team=other_team).count() == 300 and again.rejected["profiles"] == 0


def test_bulk_path_rejects_bad_rows_with_line_and_column(team, tmp_path):
    p = tmp_path / "Customer Profiles.csv"
    p.write_text(
        "customer_id,first_name,last_name,email,monthly_spend_gbp,tenure_months\n"
        "C1,Ada,L,a@example.com,12.50,3\nC2,Bo,M,b@example.com,lots,3\nC1,Dup,X,,1,1\n"
    )
    a = tmp_path / "Account Activity Logs.csv"
    a.write_text(
        "customer_id,engagement_score,churn_risk,last_login\nC1,50,0.4,2026-02-30\nC9,50,0.4,\nC1,50,0.4,2026-01-31\n"
    )
    result = bulkload.load(team=team, profiles=p, activity=a)
    got = {(i.file, i.line, i.column) for i in result.issues}
    assert ("Customer Profiles.csv", 3, "monthly_spend_gbp") in got
    assert ("Customer Profiles.csv", 4, "customer_id") in got
    assert ("Account Activity Logs.csv", 2, "last_login") in got
    assert ("Account Activity Logs.csv", 3, "customer_id") in got
    rec = CustomerRecord.objects.get(team=team)
    assert rec.customer_id == "C1" and str(rec.last_login) == "2026-01-31"


def test_import_command_bulk_records_the_run_and_scores_customers(team):
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("import_customers", str(SAMPLE), "--team", team.slug, "--bulk", stdout=out)
    assert "Imported" in out.getvalue() and "skipped" in out.getvalue()
    assert CustomerRecord.objects.filter(team=team, has_activity=True).count() == 300
    assert CustomerRecord.objects.filter(team=team, risk_score__gte=7).exists()
    run = importing.CustomerImport.objects.get()
    assert "no per-row snapshot" in importing.undo_blocker(run)
