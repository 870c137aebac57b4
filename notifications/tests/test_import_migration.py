"""0005 moves the old CustomerImport runs into the import core's crm.ImportRun, links included."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("notifications", "0004_analysis_batches"), ("crm", "0006_import_undo")]
AFTER = [("notifications", "0005_customer_imports_in_core")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _leaves():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_customer_imports_become_import_runs_with_report_rejected_rows_and_undo():
    old = _migrate(BEFORE)
    team = old.get_model("crm", "Team").objects.create(name="Blue M", slug="blue-m")
    account = old.get_model("crm", "Account").objects.create(team=team, name="Ada", kind="person", external_id="C1")
    run = old.get_model("notifications", "CustomerImport").objects.create(
        team=team,
        status="done",
        files=[{"name": "Customer Profiles.csv", "kind": "profiles", "rows": 2, "rejected": 1}],
        counts={"profiles": {"created": 1, "updated": 0, "unchanged": 0, "rejected": 1}},
        issues=[
            {
                "file": "Customer Profiles.csv",
                "line": 3,
                "column": "monthly_spend_gbp",
                "reason": "'lots' is not an amount",
            },
            {"file": "Interaction History.csv", "line": 0, "column": "", "reason": "not in this upload"},
        ],
        rejected_csv="file,line,reason,cells\r\nCustomer Profiles.csv,3,monthly_spend_gbp: 'lots' is not an amount,\"C2,Bo\"\r\n",
        undo={"created": {"accounts": [account.pk]}, "updated": {}},
    )
    old.get_model("notifications", "CustomerRecord").objects.create(
        team=team, account=account, customer_id="C1", import_run=run
    )
    try:
        new = _migrate(AFTER)
        migrated = new.get_model("crm", "ImportRun").objects.get(kind="notifications.customers")
        assert (migrated.status, migrated.rows, migrated.created, migrated.rejected) == ("partial", 2, 1, 1)
        assert migrated.report["issues"] == [run.issues[0]] and migrated.report["warnings"] == [run.issues[1]]
        assert migrated.rejected_rows[0]["line"] == 3 and migrated.rejected_rows[0]["column"] == "monthly_spend_gbp"
        assert migrated.undo == run.undo and migrated.started_at == run.created_at
        record = new.get_model("notifications", "CustomerRecord").objects.get()
        assert record.import_run_id == migrated.pk
    finally:
        _migrate(_leaves())
