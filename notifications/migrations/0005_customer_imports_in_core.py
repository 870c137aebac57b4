"""Customer imports move to the import core: every CustomerImport becomes a crm.ImportRun (kind
notifications.customers) with its report, rejected rows and undo data, the import_run links follow,
and CustomerImport goes. Reversible as far as the data allows: runs go back as CustomerImports."""

import csv
import io

import django.db.models.deletion
from django.db import migrations, models

KIND = "notifications.customers"
MODELS = ("customerrecord", "pastnotification", "recommendedaction")


def _rejected_rows(text: str) -> list[dict]:
    rows = []
    for row in csv.DictReader(io.StringIO(text or "")):
        column, _, reason = (row.get("reason") or "").partition(": ")
        line = row.get("line") or "0"
        rows.append(
            {
                "file": row.get("file", ""),
                "line": int(line) if line.isdigit() else 0,
                "column": column if reason else "",
                "reason": reason or column,
                "cells": {"cells": row.get("cells", "")},
            }
        )
    return rows


def forwards(apps, schema_editor):
    CustomerImport = apps.get_model("notifications", "CustomerImport")
    ImportRun = apps.get_model("crm", "ImportRun")
    status = {"done": "imported", "dry_run": "imported", "refused": "refused", "undone": "undone"}
    for old in CustomerImport.objects.order_by("pk").iterator():
        totals = {
            k: sum(c.get(k, 0) for c in old.counts.values()) for k in ("created", "updated", "unchanged", "rejected")
        }
        issues = [i for i in old.issues if i.get("line") and "unknown column" not in i.get("reason", "")]
        warnings = [i for i in old.issues if i not in issues]
        new_status = status.get(old.status, "refused")
        if new_status == "imported" and totals["rejected"]:
            new_status = "partial"
        run = ImportRun.objects.create(
            team_id=old.team_id,
            actor_id=old.actor_id,
            kind=KIND,
            label="Customer files",
            file_names=[f.get("name", "") for f in old.files],
            dry_run=old.status == "dry_run",
            strict=old.strict,
            status=new_status,
            rows=sum(f.get("rows", 0) for f in old.files),
            rejected=totals["rejected"],
            created=totals["created"],
            updated=totals["updated"],
            unchanged=totals["unchanged"],
            report={
                "issues": issues,
                "issues_total": len(issues),
                "warnings": warnings,
                "notes": [f"Migrated from customer import {old.pk}."],
                "refused": "; ".join(i["reason"] for i in old.issues if not i.get("file"))
                if old.status == "refused"
                else "",
                "files": [
                    {
                        "name": f.get("name", ""),
                        "rows": f.get("rows", 0),
                        "rejected": f.get("rejected", 0),
                        **{k: old.counts.get(f.get("kind"), {}).get(k, 0) for k in ("created", "updated", "unchanged")},
                    }
                    for f in old.files
                ],
            },
            rejected_rows=_rejected_rows(old.rejected_csv),
            undo=old.undo if not old.undo.get("bulk") else {},
            started_at=old.created_at,
            finished_at=old.created_at,
            undone_at=old.undone_at,
        )
        for name in MODELS:
            apps.get_model("notifications", name).objects.filter(import_run_id=old.pk).update(run_id=run.pk)
    _check_constraints_now(schema_editor)


def _check_constraints_now(schema_editor):
    """PostgreSQL refuses the ALTER TABLEs that follow while deferred foreign-key checks of the rows
    written here are pending in the same transaction: run them now."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def backwards(apps, schema_editor):
    CustomerImport = apps.get_model("notifications", "CustomerImport")
    ImportRun = apps.get_model("crm", "ImportRun")
    status = {"imported": "done", "partial": "done", "undone": "undone"}
    for run in ImportRun.objects.filter(kind=KIND).order_by("pk").iterator():
        old = CustomerImport.objects.create(
            team_id=run.team_id,
            actor_id=run.actor_id,
            created_at=run.started_at,
            status="dry_run" if run.dry_run else status.get(run.status, "refused"),
            strict=run.strict,
            files=[
                {"name": f["name"], "kind": "", "rows": f["rows"], "rejected": f["rejected"]}
                for f in run.report.get("files", [])
            ],
            issues=run.report.get("issues", []) + run.report.get("warnings", []),
            undo=run.undo,
            undone_at=run.undone_at,
        )
        for name in MODELS:
            apps.get_model("notifications", name).objects.filter(run_id=run.pk).update(import_run_id=old.pk)
        run.delete()
    _check_constraints_now(schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0006_import_undo"),
        ("notifications", "0004_analysis_batches"),
    ]

    operations = [
        *(
            migrations.AddField(
                model_name=name,
                name="run",
                field=models.ForeignKey(
                    blank=True,
                    null=True,
                    on_delete=django.db.models.deletion.SET_NULL,
                    related_name="+",
                    to="crm.importrun",
                ),
            )
            for name in MODELS
        ),
        migrations.RunPython(forwards, backwards),
        *(migrations.RemoveField(model_name=name, name="import_run") for name in MODELS),
        *(migrations.RenameField(model_name=name, old_name="run", new_name="import_run") for name in MODELS),
        migrations.DeleteModel(name="CustomerImport"),
    ]
