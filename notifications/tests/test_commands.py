import io

import pytest
from django.core.management import CommandError, call_command

from crm.models import ImportRun
from notifications.models import CustomerRecord, Notification
from notifications.tests.conftest import SAMPLE

pytestmark = pytest.mark.django_db


def _run(*args):
    out = io.StringIO()
    try:
        call_command(*args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


def test_import_folder_clean_exit_0_and_dry_run_writes_nothing(team):
    code, out = _run("import_customers", str(SAMPLE), "--team", team.slug, "--dry-run")
    assert code == 0 and "Customer Profiles.csv: 300 rows, 300 created" in out and "dry run" in out
    assert not CustomerRecord.objects.exists()
    code, out = _run("import_customers", str(SAMPLE), "--team", team.slug)
    assert code == 0 and CustomerRecord.objects.count() == 300


def test_import_with_rejected_rows_exits_1_and_refused_exits_2(team, tmp_path):
    bad = tmp_path / "Customer Profiles.csv"
    bad.write_text(
        "customer_id,first_name,last_name,email,tenure_months\nC1,A,B,a@example.com,ten\nC2,C,D,c@example.com,3\n"
    )
    code, out = _run("import_customers", str(bad), "--team", team.slug)
    assert code == 1 and "rejected: Customer Profiles.csv line 2, tenure_months: 'ten' is not a whole number" in out
    empty = tmp_path / "Account Activity Logs.csv"
    empty.write_bytes(b"")
    code, out = _run("import_customers", str(empty), "--team", team.slug)
    assert code == 2 and "empty" in out
    assert ImportRun.objects.filter(kind="notifications.customers", status="refused").count() == 1
    code, out = _run("import_customers", str(bad), "--team", team.slug, "--strict")
    assert code == 2 and "Not imported: rows rejected (strict)" in out


def test_analyse_then_export_escapes_formulas(imported, team, tmp_path):
    code, out = _run("analyse_customers", "--team", team.slug, "--limit", "5")
    assert code == 0 and "Analysed 5 Value Seekers customers" in out
    assert Notification.objects.count() == 5
    Notification.objects.filter(pk=Notification.objects.first().pk).update(subject="=cmd|' /C calc'!A0")
    path = tmp_path / "out.csv"
    code, out = _run("export_notifications", "--out", str(path), "--team", team.slug)
    text = path.read_text()
    assert code == 0 and "'=cmd" in text and text.count("\n") >= 6
