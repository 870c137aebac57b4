"""The importer core (crm/imports.py), through a small account importer, and its console and API pages."""

import csv
import io

import pytest
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.imports import Column, Counts, Importer, RowError, rejected_rows_csv, run_import, spreadsheet_safe, upsert
from crm.models import Account, ImportRun
from crm.validators import clean_text, decimal_for


class AccountImporter(Importer):
    """name,external_id,total_spend: upsert by external id."""

    kind = "crm.test_accounts"
    label = "accounts.csv"
    columns = (Column("external_id", aliases=("id",)), Column("name"), Column("total_spend", required=False))

    def parse_row(self, row, line):
        if not row["external_id"].strip():
            raise RowError("external_id", "missing external_id")
        name = clean_text(row["name"].strip(), max_length=200, field="name")
        spend = decimal_for(Account._meta.get_field("total_spend"), row.get("total_spend") or "0", minimum=0)
        return {"external_id": row["external_id"].strip(), "name": name, "total_spend": spend}

    def write(self, rows, run):
        counts = Counts()
        for row in rows:
            _, outcome = upsert(
                Account,
                lookup={"team": self.team, "external_id": row["external_id"]},
                values={"name": row["name"], "total_spend": row["total_spend"]},
            )
            counts.add(outcome)
        return counts


def _run(text, team, **options):
    raw = text.encode() if isinstance(text, str) else text
    return run_import(AccountImporter(), [("accounts.csv", raw)], team=team, actor=None, **options)


GOOD = "id,name,total_spend\nA1,Acme,10\nA2,Globex,20.5\n"


def test_good_file_is_imported_and_stored_as_a_run(team, agent):
    run = run_import(AccountImporter(), [("accounts.csv", GOOD.encode())], team=team, actor=agent)
    assert (run.status, run.rows, run.created, run.rejected) == ("imported", 2, 2, 0)
    assert (run.actor, run.kind, run.file_names, run.finished_at is not None) == (
        agent,
        "crm.test_accounts",
        ["accounts.csv"],
        True,
    )
    assert sorted(Account.objects.values_list("name", flat=True)) == ["Acme", "Globex"]


def test_rerun_upserts_by_external_id(team):
    _run(GOOD, team)
    again = _run("id,name,total_spend\nA1,Acme,10\nA2,Globex Corp,20.5\n", team)
    assert (again.created, again.updated, again.unchanged) == (0, 1, 1)
    assert Account.objects.count() == 2


def test_bad_rows_are_reported_with_line_column_and_reason_and_good_rows_written(team):
    run = _run("id,name,total_spend\nA1,Acme,10\n,NoId,1\nA3,Big,1e20\nA4,Nul\x00Name,1\nA5,Short\n", team)
    assert run.status == "partial"
    assert [(e.line, e.column) for e in run.errors] == [
        (3, "external_id"),
        (4, "total_spend"),
        (5, "name"),
        (6, ""),
    ]
    assert "too large" in run.errors[1].reason
    assert "NUL" in run.errors[2].reason
    assert run.errors[3].reason == "expected 3 fields, got 2"
    assert list(Account.objects.values_list("external_id", flat=True)) == ["A1"]


def test_strict_mode_writes_nothing_when_a_row_is_bad(team):
    run = _run("id,name\nA1,Acme\n,NoId\n", team, strict=True)
    assert (run.status, run.rejected, run.created) == ("rejected", 1, 0)
    assert not Account.objects.exists()
    assert "not imported (strict)" in run.summary()


def test_dry_run_counts_exactly_and_writes_nothing(team):
    _run(GOOD, team)
    run = _run("id,name\nA1,Acme\nA9,New\n", team, dry_run=True)
    assert (run.status, run.created, run.unchanged, run.dry_run) == ("imported", 1, 0, True)
    assert run.updated == 1  # A1 has no total_spend cell: read as 0, an update
    assert Account.objects.count() == 2
    assert "dry run" in run.summary()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "the file is empty (0 bytes)"),
        (b"   \n", "the file is empty"),
        (b"\xff\xfei\x00d\x00", "the file is not UTF-8 text (it is UTF-16"),
        (b"id,name\nA1,Caf\xe9\n", "the file is not UTF-8 text (byte 0xE9 on line 2)"),
        (b"PK\x03\x04rest-of-a-zip", "the file is a ZIP archive"),
        (b"\x00\x01\x02\x03" * 100, "the file looks binary"),
        (b"name\nAcme\n", "line 1: missing column(s) external_id"),
    ],
)
def test_unusable_files_are_refused_with_a_reason_and_nothing_written(team, raw, reason):
    run = _run(raw, team)
    assert run.status == "refused"
    assert run.failed.startswith(reason)
    assert not Account.objects.exists()


def test_size_limit_is_a_setting(team, settings):
    settings.CRM_IMPORT_MAX_BYTES = 10
    run = _run(GOOD, team)
    assert run.status == "refused"
    assert "CRM_IMPORT_MAX_BYTES" in run.failed


def test_byte_order_mark_is_tolerated_and_noted(team):
    run = _run(b"\xef\xbb\xbf" + GOOD.encode(), team)
    assert (run.status, run.created) == ("imported", 2)
    assert any("byte order mark" in n for n in run.notes)


def test_a_database_refusal_is_a_failed_run_not_a_traceback(team, monkeypatch):
    from django.db import DataError

    def refuse(self, rows, run):
        Account.objects.create(team=self.team, name="half", external_id="H")
        raise DataError("value too long")

    monkeypatch.setattr(AccountImporter, "write", refuse)
    run = _run(GOOD, team)
    assert run.status == "failed"
    assert "database refused" in run.failed
    assert not Account.objects.exists()


def test_spreadsheet_formulas_are_escaped():
    assert [spreadsheet_safe(v) for v in ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx", "plain", 3]] == [
        "'=1+1",
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "plain",
        "3",
    ]


@pytest.fixture
def partial_run(team):
    return _run('id,name,total_spend\nA1,Acme,1\n,"=HYPERLINK(""http://evil"")",2\nA3,@cmd,-1\n', team)


def test_rejected_rows_download_as_csv_with_formulas_escaped(agent_client, partial_run):
    response = agent_client.get(reverse("crm:import_run_rejected", args=[partial_run.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["file", "line", "column", "reason", "id", "name", "total_spend"]
    assert rows[1][:3] == ["accounts.csv", "3", "external_id"]
    assert rows[1][5] == '\'=HYPERLINK("http://evil")'
    assert rows[2][5:] == ["'@cmd", "'-1"]


def test_import_run_pages_show_the_report(agent_client, partial_run, team):
    response = agent_client.get(reverse("crm:import_run_list"), {"team": team.pk})
    assert response.status_code == 200
    assert b"accounts.csv" in response.content and b"2 (CSV)" in response.content
    response = agent_client.get(reverse("crm:import_run_detail", args=[partial_run.pk]))
    assert response.status_code == 200
    assert b"missing external_id" in response.content


def test_import_run_list_query_count_is_flat(agent_client, team, django_assert_max_num_queries):
    for _ in range(30):
        _run(GOOD, team)
    with django_assert_max_num_queries(8):
        response = agent_client.get(reverse("crm:import_run_list"))
    assert response.status_code == 200
    assert response.content.count(b"accounts.csv") >= 25


def test_outsider_gets_404_on_every_import_run_page_and_endpoint(outsider_client, outsider_api, partial_run, team):
    for name in ("crm:import_run_detail", "crm:import_run_rejected"):
        assert outsider_client.get(reverse(name, args=[partial_run.pk])).status_code == 404
    assert outsider_client.get(reverse("crm:import_run_list"), {"team": team.pk}).status_code == 404
    assert partial_run.label.encode() not in outsider_client.get(reverse("crm:import_run_list")).content
    assert outsider_api.get(f"/api/import-runs/{partial_run.pk}/").status_code == 404
    assert outsider_api.get("/api/import-runs/").json()["results"] == []


def test_api_lists_my_import_runs_with_their_report(api, partial_run):
    response = api.get("/api/import-runs/")
    assert response.status_code == 200
    [item] = response.json()["results"]
    assert (item["id"], item["status"], item["rejected"]) == (partial_run.pk, "partial", 2)
    assert item["report"]["issues"][0] == {
        "line": 3,
        "column": "external_id",
        "reason": "missing external_id",
        "file": "accounts.csv",
    }
    assert ImportRun.objects.count() == 1


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    raw=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300).map(lambda t: ("id,name,total_spend\n" + t).encode("utf-8", "surrogatepass")),
        st.lists(st.tuples(st.text(max_size=20), st.text(max_size=20), st.text(max_size=20)), max_size=5).map(
            lambda rows: ("id,name,total_spend\n" + "\n".join(",".join(r) for r in rows)).encode(
                "utf-8", "surrogatepass"
            )
        ),
    ),
    strict=st.booleans(),
    dry_run=st.booleans(),
)
def test_any_bytes_give_a_run_with_a_reason_never_an_exception(team, raw, strict, dry_run):
    with transaction.atomic():
        run = _run(raw, team, strict=strict, dry_run=dry_run)
        assert run.status in {"imported", "partial", "rejected", "refused"}
        assert bool(run.failed) == (run.status == "refused")
        if run.status in {"imported", "partial"}:
            assert run.rows == run.created + run.updated + run.unchanged + run.rejected
        if run.status == "rejected":  # strict: nothing written, nothing counted as written
            assert run.rejected and run.created + run.updated + run.unchanged == 0
        assert all(issue.line >= 2 and issue.reason for issue in run.errors)
        if run.status in {"rejected", "refused"} or dry_run:
            assert not Account.objects.exists()
        rejected_rows_csv(run)  # the download renders whatever was rejected
        transaction.set_rollback(True)


class UndoableAccountImporter(AccountImporter):
    """The same rows, remembering what it created so a run can be undone; a second file's ids must
    not repeat the first file's (a check across files)."""

    kind = "crm.test_accounts_undoable"

    def parse_row(self, row, line):
        return super().parse_row(row, line)

    def check(self, rows):
        seen, out = set(), []
        for i, row in enumerate(rows):
            if row["external_id"] in seen:
                out.append((i, RowError("external_id", f"{row['external_id']} is in an earlier file")))
            seen.add(row["external_id"])
        if rows:
            self.warn("accounts.csv", 2, "name", "a warning that does not reject")
        return out

    def write(self, rows, run):
        before = set(Account.objects.filter(team=self.team).values_list("pk", flat=True))
        counts = super().write(rows, run)
        run.undo = {
            "created": sorted(set(Account.objects.filter(team=self.team).values_list("pk", flat=True)) - before)
        }
        return counts

    def undo(self, run):
        Account.objects.filter(pk__in=run.undo["created"]).delete()


def test_several_files_checks_across_them_warnings_and_counts_per_file(team):
    from crm.import_undo import undo_blocker, undo_run

    run = run_import(
        UndoableAccountImporter(),
        [("accounts.csv", GOOD.encode()), ("more.csv", b"id,name\nA2,Again\nA9,Nine\n")],
        team=team,
    )
    assert run.status == "partial" and run.rows == 4 and run.rejected == 1
    assert [(i.file, i.line, i.column, i.reason) for i in run.errors] == [
        ("more.csv", 2, "external_id", "A2 is in an earlier file")
    ]
    assert [(w.file, w.line, w.reason) for w in run.warnings] == [("accounts.csv", 2, "a warning that does not reject")]
    assert [(f["name"], f["rows"], f["rejected"]) for f in run.files] == [("accounts.csv", 2, 0), ("more.csv", 2, 1)]
    assert rejected_rows_csv(run).splitlines()[1].startswith("more.csv,2,external_id,A2 is in an earlier file,A2,Again")
    newer = _run("id,name\nB1,Other\n", team)  # another format: does not block this one
    assert undo_blocker(run) == "" and "cannot be undone" in undo_blocker(newer)
    undo_run(run)
    assert sorted(Account.objects.values_list("external_id", flat=True)) == ["B1"]
    run.refresh_from_db()
    assert run.status == "undone" and run.undone_at is not None


def test_undo_page_is_for_managers_and_refuses_formats_without_undo(client, manager, agent_client, team):
    run = _run(GOOD, team)
    assert agent_client.post(reverse("crm:import_run_undo", args=[run.pk])).status_code == 404
    client.force_login(manager)
    response = client.post(reverse("crm:import_run_undo", args=[run.pk]), follow=True)
    assert "imports of this format cannot be undone" in response.content.decode()
    assert ImportRun.objects.get(pk=run.pk).status == "imported"
