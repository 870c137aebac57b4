import pytest

from crm.models import Account, Activity, Contact
from notifications import importing
from notifications.models import (
    CustomerImport,
    CustomerRecord,
    NotificationSettings,
    PastNotification,
    RecommendedAction,
)
from notifications.tests.conftest import sample_files

pytestmark = pytest.mark.django_db

PROFILE_HEADER = "customer_id,first_name,last_name,email,phone,region,tariff,payment_method,monthly_spend_gbp,tenure_months,green_tariff,preferred_channel,marketing_consent\n"
ACTIVITY_HEADER = "customer_id,account_status,engagement_score,churn_risk,last_login,payment_status,contract_end,outcome,outcome_date\n"


def _files(profiles="", activity="", interactions=None):
    files = [
        ("Customer Profiles.csv", (PROFILE_HEADER + profiles).encode()),
        ("Account Activity Logs.csv", (ACTIVITY_HEADER + activity).encode()),
    ]
    if interactions is not None:
        files.append(
            (
                "Interaction History.csv",
                ("interaction_id,customer_id,date,channel,category,summary,sentiment\n" + interactions).encode(),
            )
        )
    return files


P1 = "C1,Ada,Lovelace,ada@example.co.uk,+44 7700 900001,London,Standard Variable,Direct debit,120.00,30,no,email,yes\n"
A1 = "C1,Active,20,0.8,2026-10-01,late,2026-12-01,,\n"


def test_sample_files_import_cleanly_into_accounts_contacts_and_timeline(imported, team):
    assert imported.rejected_total == 0
    assert imported.counts["profiles"]["created"] == 300
    assert Account.objects.filter(team=team, kind="person").count() == 300
    assert Contact.objects.filter(account__team=team).count() == 300
    assert (
        Activity.objects.filter(account__team=team, kind="service").count()
        == imported.counts["interactions"]["created"]
        > 0
    )
    assert PastNotification.objects.filter(team=team).exists()
    assert RecommendedAction.objects.filter(team=team).exists()
    assert CustomerRecord.objects.filter(team=team, has_activity=True).count() == 300


def test_reimporting_the_same_files_changes_nothing(imported, team, manager):
    again = importing.run_import(sample_files(), team=team, actor=manager)
    assert again.status == "done"
    for kind, c in again.counts.items():
        assert c["created"] == 0 and c["updated"] == 0, (kind, c)
    assert Account.objects.filter(team=team).count() == 300


def test_risk_check_finds_at_least_half_of_churned_customers_in_the_riskiest_30_percent(imported, team):
    check = NotificationSettings.objects.get(team=team).risk_check
    assert check["churned"] > 20
    assert check["recall"] >= 0.5
    assert sum(n for _, n, _ in check["histogram"]) == 300


def test_dry_run_reports_counts_and_writes_nothing(team, manager):
    run = importing.run_import(sample_files(), team=team, actor=manager, dry_run=True)
    assert run.status == "dry_run"
    assert run.counts["profiles"]["created"] == 300
    assert not Account.objects.filter(team=team).exists()
    assert not CustomerRecord.objects.exists()


def test_bad_rows_are_reported_with_line_column_and_reason_and_good_rows_import(team, manager):
    profiles = P1 + "C2,Bob,Stone,bob@example.co.uk,,,,,lots,10,no,email,yes\n" + "C1,Dup,Row,,,,,,1,1,no,email,yes\n"
    activity = A1 + "C9,Active,50,0.2,2026-10-01,on_time,2027-01-01,,\n" + "C1,Active,50,0.2,01.10.2026,on_time,,,\n"
    run = importing.run_import(_files(profiles, activity), team=team, actor=manager)
    got = {(i["line"], i["column"]) for i in run.issues if i["line"]}
    assert (3, "monthly_spend_gbp") in got
    assert (4, "customer_id") in got  # duplicate id
    assert (3, "customer_id") in got  # C9 has no profile
    assert (4, "last_login") in got
    reasons = " ".join(i["reason"] for i in run.issues)
    assert "'lots' is not an amount" in reasons and "C9 is defined by no profile" in reasons
    assert list(CustomerRecord.objects.values_list("customer_id", flat=True)) == ["C1"]
    assert "lots" in run.rejected_csv and run.status == "done"


def test_strict_mode_refuses_the_whole_set_on_one_bad_row(team, manager):
    run = importing.run_import(_files(P1 + "C2,Bob,Stone,,,,,,lots,1,no,email,yes\n", A1), team=team, strict=True)
    assert run.status == "refused"
    assert not CustomerRecord.objects.exists()


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "binary"),
        ("customer_id,first_name\nC1,Zo\xe9\n".encode("latin-1"), "not UTF-8"),
        (b"foo,bar\n1,2\n", "missing column"),
    ],
)
def test_unreadable_files_are_refused_and_nothing_is_written(team, data, needle):
    run = importing.run_import([("Customer Profiles.csv", data)], team=team)
    assert run.status == "refused"
    assert needle in " ".join(i["reason"] for i in run.issues)
    assert not Account.objects.exists()


def test_a_file_over_the_size_limit_is_refused(team, settings):
    settings.NOTIFICATIONS_IMPORT_MAX_BYTES = 100
    run = importing.run_import(_files(P1 * 5, A1), team=team)
    assert run.status == "refused" and "over the limit" in str(run.issues)


def test_header_variants_and_a_bom_are_accepted(team):
    header = "\ufeffCustomer ID,Forename,Surname,E-mail Address,Mobile,Area,Plan,Payment Type,Monthly Bill,Tenure,Green,Channel,Consent\n"
    run = importing.run_import([("profiles.csv", (header + P1).encode("utf-8"))], team=team)
    assert run.status == "done", run.issues
    rec = CustomerRecord.objects.get()
    assert rec.tariff == "Standard Variable" and rec.account.name == "Ada Lovelace"


def test_profile_without_activity_row_is_reported(team):
    run = importing.run_import(_files(P1, ""), team=team)
    assert "has no row in Account Activity Logs" in str(run.issues)


def test_an_interaction_id_stored_for_another_customer_is_rejected(team):
    importing.run_import(
        _files(
            P1 + P1.replace("C1", "C2"), A1 + A1.replace("C1", "C2"), "I1,C1,2026-10-01,phone,Billing,Bill query,-0.5\n"
        ),
        team=team,
    )
    run = importing.run_import(_files("", "", "I1,C2,2026-10-02,phone,Billing,Other,-0.5\n"), team=team)
    assert "already belongs to customer C1" in str(run.issues)
    assert Activity.objects.get(external_id="I1").account.external_id == "C1"


def test_undo_restores_the_state_before_the_import(team):
    first = importing.run_import(_files(P1, A1), team=team)
    second = importing.run_import(
        _files(
            P1.replace("Ada", "Ada-May") + P1.replace("C1", "C2"), A1.replace("late", "missed") + A1.replace("C1", "C2")
        ),
        team=team,
    )
    assert importing.undo_blocker(first)  # the newer run depends on it
    importing.undo_import(second)
    rec = CustomerRecord.objects.get()
    assert rec.customer_id == "C1" and rec.payment_status == "late" and rec.account.name == "Ada Lovelace"
    assert CustomerImport.objects.get(pk=second.pk).status == "undone"
    importing.undo_import(first)
    assert not Account.objects.filter(team=team).exists()
