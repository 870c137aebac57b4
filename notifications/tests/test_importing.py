import pytest
from django.urls import reverse

from crm.import_undo import undo_blocker, undo_run
from crm.models import Account, Activity, Contact, ImportRun
from notifications import importing
from notifications.models import (
    CustomerRecord,
    Notification,
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


def _import(files, team, **options):
    return importing.import_customers(files, team=team, **options)


def _by_file(run):
    return {f["name"]: f for f in run.files}


P1 = "C1,Ada,Lovelace,ada@example.co.uk,+44 7700 900001,London,Standard Variable,Direct debit,120.00,30,no,email,yes\n"
A1 = "C1,Active,20,0.8,2026-10-01,late,2026-12-01,,\n"


def test_sample_files_import_cleanly_into_accounts_contacts_and_timeline(imported, team):
    assert imported.kind == "notifications.customers" and imported.status == "imported"
    assert imported.rejected == 0 and imported.report["issues"] == [] and imported.warnings == []
    files = _by_file(imported)
    assert files["Customer Profiles.csv"]["created"] == files["Customer Profiles.csv"]["rows"] == 300
    assert imported.created == sum(f["created"] for f in imported.files) == imported.rows
    assert Account.objects.filter(team=team, kind="person").count() == 300
    assert Contact.objects.filter(account__team=team).count() == 300
    assert (
        Activity.objects.filter(account__team=team, kind="service").count()
        == files["Interaction History.csv"]["created"]
        > 0
    )
    assert PastNotification.objects.filter(team=team, import_run=imported).exists()
    assert RecommendedAction.objects.filter(team=team, import_run=imported).exists()
    assert CustomerRecord.objects.filter(team=team, has_activity=True, import_run=imported).count() == 300


def test_the_run_is_the_cores_import_run_with_its_pages(imported, team, manager, client):
    client.force_login(manager)
    listing = client.get(reverse("crm:import_run_list"), {"team": team.pk}).content.decode()
    assert reverse("crm:import_run_detail", args=[imported.pk]) in listing
    page = client.get(reverse("crm:import_run_detail", args=[imported.pk])).content.decode()
    assert "Customer Profiles.csv" in page and "Undo this import" in page
    api = client.get(f"/api/import-runs/{imported.pk}/").json()
    assert api["kind"] == "notifications.customers" and api["status"] == "imported"


def test_reimporting_the_same_files_changes_nothing(imported, team, manager):
    again = _import(sample_files(), team, actor=manager)
    assert again.status == "imported"
    assert again.created == again.updated == 0 and again.unchanged == again.rows
    for f in again.files:
        assert f["created"] == 0 and f["updated"] == 0, f
    assert Account.objects.filter(team=team).count() == 300


def test_risk_check_finds_at_least_half_of_churned_customers_in_the_riskiest_30_percent(imported, team):
    check = NotificationSettings.objects.get(team=team).risk_check
    assert check["churned"] > 20
    assert check["recall"] >= 0.5
    assert sum(n for _, n, _ in check["histogram"]) == 300


def test_dry_run_reports_counts_and_writes_nothing(team, manager):
    run = _import(sample_files(), team, actor=manager, dry_run=True)
    assert run.dry_run and run.status == "imported" and run.undo == {}
    assert _by_file(run)["Customer Profiles.csv"]["created"] == 300
    assert not Account.objects.filter(team=team).exists()
    assert not CustomerRecord.objects.exists()
    assert "dry run" in undo_blocker(run)


BROKEN_PROFILES = (
    P1
    + "C2,Bob,Stone,bob@example.co.uk,,,,,lots,10,no,email,yes\n"
    + "C1,Dup,Row,,,,,,1,1,no,email,yes\n"
    + "C3,Cy,Ng,cy@example.co.uk,,,,,10,1,maybe,email,yes\n"
    + "C4,Di,Ox,di@example.co.uk,,,,,10,1,no,pigeon,yes\n"
)
BROKEN_ACTIVITY = (
    A1
    + "C9,Active,50,0.2,2026-10-01,on_time,2027-01-01,,\n"
    + "C1,Active,50,0.2,01.10.2026,on_time,,,\n"
    + "C2,Active,150,0.2,,,,,\n"
)


def test_a_deliberately_broken_file_gives_an_exact_report_and_the_good_rows_import(team, manager):
    run = _import(_files(BROKEN_PROFILES, BROKEN_ACTIVITY), team, actor=manager)
    assert run.status == "partial"
    got = [(i.file, i.line, i.column, i.reason) for i in run.errors]
    assert got == [
        ("Customer Profiles.csv", 3, "monthly_spend_gbp", "'lots' is not an amount"),
        ("Customer Profiles.csv", 4, "customer_id", "duplicate customer_id 'C1' (first on line 2)"),
        ("Customer Profiles.csv", 5, "green_tariff", "'maybe' is not yes/no"),
        ("Customer Profiles.csv", 6, "preferred_channel", "'pigeon' is not one of chat, email, phone, sms, whatsapp"),
        ("Account Activity Logs.csv", 4, "last_login", "'01.10.2026' is not a date (use YYYY-MM-DD or DD/MM/YYYY)"),
        ("Account Activity Logs.csv", 5, "engagement_score", "150 is outside 0-100"),
        ("Account Activity Logs.csv", 3, "customer_id", "customer C9 is defined by no profile"),
    ]
    assert run.rejected == 7 and run.rows == 9
    assert list(CustomerRecord.objects.values_list("customer_id", flat=True)) == ["C1"]
    missing = {(w.file, w.reason) for w in run.warnings}
    assert ("Interaction History.csv", "not in this upload: nothing of it is changed") in missing
    files = _by_file(run)
    assert files["Customer Profiles.csv"] == {
        "name": "Customer Profiles.csv", "rows": 5, "rejected": 4, "created": 1, "updated": 0, "unchanged": 0
    }  # fmt: skip


def test_rejected_rows_download_as_a_formula_safe_csv(team, manager, client):
    profiles = P1 + 'C2,=HYPERLINK("http://evil"),Stone,bob@example.co.uk,,,,,lots,10,no,email,yes\n'
    run = _import(_files(profiles, A1), team, actor=manager)
    client.force_login(manager)
    body = client.get(reverse("crm:import_run_rejected", args=[run.pk])).content.decode()
    header, row = body.splitlines()[:2]
    assert header.startswith("file,line,column,reason,customer_id,first_name")
    assert row.startswith("Customer Profiles.csv,3,monthly_spend_gbp,'lots' is not an amount,C2,\"'=HYPERLINK(")


def test_strict_mode_writes_nothing_when_any_file_has_a_rejected_row(team, manager):
    run = _import(_files(P1 + "C2,Bob,Stone,,,,,,lots,1,no,email,yes\n", A1), team, strict=True)
    assert run.status == "rejected" and run.rejected == 1
    assert not CustomerRecord.objects.exists() and not Account.objects.exists()


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "the file is empty (0 bytes)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "a PNG image, not UTF-8 text"),
        (b"PK\x03\x04\x14\x00\x06\x00", "a ZIP archive (an Excel .xlsx"),
        (bytes(range(256)) * 40, "not UTF-8"),
        ("customer_id,first_name\nC1,Zo\xe9\n".encode("latin-1"), "byte 0xE9 on line 2"),
        ("customer_id,first_name,last_name,email\n".encode("utf-16"), "UTF-16 or UTF-32"),
        (b"foo,bar\n1,2\n", "missing column(s) customer_id, first_name, last_name, email"),
    ],
)
def test_unreadable_files_are_refused_and_nothing_stored_is_damaged(imported, team, data, needle):
    before = CustomerRecord.objects.filter(team=team).count()
    run = _import([("Customer Profiles.csv", data), *sample_files()[1:]], team)
    assert run.status == "refused" and needle in run.failed, run.failed
    assert run.failed.startswith("Customer Profiles.csv: ")
    assert CustomerRecord.objects.filter(team=team).count() == before and run.created == 0


def test_a_file_over_the_size_limit_is_refused(team, settings):
    settings.NOTIFICATIONS_IMPORT_MAX_BYTES = 100
    run = _import(_files(P1 * 5, A1), team)
    assert run.status == "refused"
    assert "at most 100 are accepted (NOTIFICATIONS_IMPORT_MAX_BYTES)" in run.failed


def test_a_file_that_is_none_of_the_five_or_twice_the_same_is_refused(team):
    run = _import([("notes.csv", b"colour,size\nred,1\n")], team)
    assert run.status == "refused" and "cannot tell which of the five files" in run.failed
    run = _import(_files(P1, A1) + [("profiles-2.csv", (PROFILE_HEADER + P1).encode())], team)
    assert run.status == "refused" and "a second Customer Profiles file" in run.failed


def test_unknown_columns_are_reported_and_ignored(team):
    header = PROFILE_HEADER.replace("\n", ",favourite_colour\n")
    run = _import([("Customer Profiles.csv", (header + P1.replace("\n", ",teal\n")).encode())], team)
    assert run.status == "imported"
    assert ("Customer Profiles.csv", 1, "favourite_colour", "unknown column, ignored") in [
        (w.file, w.line, w.column, w.reason) for w in run.warnings
    ]


def test_header_variants_and_a_bom_are_accepted(team):
    header = "\ufeffCustomer ID,Forename,Surname,E-mail Address,Mobile,Area,Plan,Payment Type,Monthly Bill,Tenure,Green,Channel,Consent\n"
    run = _import([("profiles.csv", (header + P1).encode("utf-8"))], team)
    assert run.status == "imported", run.report
    assert "byte order mark" in " ".join(run.notes)
    rec = CustomerRecord.objects.get()
    assert rec.tariff == "Standard Variable" and rec.account.name == "Ada Lovelace"


def test_profile_without_activity_row_is_reported_and_imported(team):
    run = _import(_files(P1, ""), team)
    assert run.status == "imported" and CustomerRecord.objects.count() == 1
    assert [(w.line, w.reason) for w in run.warnings if w.file == "Customer Profiles.csv"] == [
        (2, "customer C1 has no row in Account Activity Logs (imported without one)")
    ]


def test_an_interaction_id_stored_for_another_customer_is_rejected(team):
    _import(
        _files(
            P1 + P1.replace("C1", "C2"), A1 + A1.replace("C1", "C2"), "I1,C1,2026-10-01,phone,Billing,Bill query,-0.5\n"
        ),
        team,
    )
    run = _import(_files("", "", "I1,C2,2026-10-02,phone,Billing,Other,-0.5\n"), team)
    assert [(i.file, i.line, i.column, i.reason) for i in run.errors] == [
        (
            "Interaction History.csv",
            2,
            "interaction_id",
            "interaction_id I1 already belongs to customer C1 (an earlier import)",
        )
    ]
    assert Activity.objects.get(external_id="I1").account.external_id == "C1"


def test_undo_restores_the_state_before_the_import_newest_first(team, manager):
    first = _import(_files(P1, A1), team)
    second = _import(
        _files(
            P1.replace("Ada", "Ada-May") + P1.replace("C1", "C2"), A1.replace("late", "missed") + A1.replace("C1", "C2")
        ),
        team,
    )
    assert f"import {second.pk} is newer" in undo_blocker(first)
    undo_run(second, actor=manager)
    rec = CustomerRecord.objects.get()
    assert rec.customer_id == "C1" and rec.payment_status == "late" and rec.account.name == "Ada Lovelace"
    second.refresh_from_db()
    assert second.status == "undone" and second.undone_by == manager and "already undone" in undo_blocker(second)
    undo_run(first)
    assert not Account.objects.filter(team=team).exists() and not CustomerRecord.objects.exists()


def test_undo_is_refused_once_a_notification_was_approved_since(imported, team, manager):
    from django.utils import timezone

    from crm.errors import ServiceError

    rec = CustomerRecord.objects.filter(team=team).first()
    Notification.objects.create(
        team=team, account=rec.account, record=rec, status="approved", approved_at=timezone.now()
    )
    assert undo_blocker(imported) == "notifications were approved or sent since this import"
    with pytest.raises(ServiceError, match="cannot be undone"):
        undo_run(imported, actor=manager)
    assert ImportRun.objects.get(pk=imported.pk).status == "imported"


def test_refused_and_strict_runs_cannot_be_undone(team):
    run = _import([("Customer Profiles.csv", b"")], team)
    assert "nothing was imported" in undo_blocker(run)


def test_the_streaming_path_refuses_clearly_without_postgresql(team, tmp_path):
    from django.db import connection

    if connection.vendor == "postgresql":
        pytest.skip("SQLite only: PostgreSQL takes the COPY path (test_bulkload.py)")
    p = tmp_path / "Customer Profiles.csv"
    p.write_text(PROFILE_HEADER + P1)
    run = importing.import_customers_copy([(p.name, p)], team=team)
    assert run.status == "refused" and "needs PostgreSQL" in run.failed
    assert not CustomerRecord.objects.exists()
