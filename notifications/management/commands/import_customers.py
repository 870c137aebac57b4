"""manage.py import_customers PATH... [--dry-run] [--strict] [--team SLUG]

PATH is a folder holding the five files, or the files themselves. Exit code 0: clean; 1: imported
with rejected rows; 2: refused (nothing written).
"""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from notifications import importing
from notifications.management.commands._team import resolve_team


class Command(BaseCommand):
    help = "Import the five customer files (a folder or the files) into a team, with a row-level report."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--team", help="Team slug (default: the only team).")
        parser.add_argument("--dry-run", action="store_true", help="Report what would change; write nothing.")
        parser.add_argument("--strict", action="store_true", help="Any rejected row refuses the whole import.")
        parser.add_argument(
            "--bulk",
            action="store_true",
            help="PostgreSQL: stream Customer Profiles and Account Activity through COPY and merge in SQL "
            "(large files; not undoable; the other three files are not accepted).",
        )

    def handle(self, *args, paths, team, dry_run, strict, bulk, **options):
        team_obj = resolve_team(team)
        if bulk:
            return self.bulk(team_obj, paths, dry_run=dry_run, strict=strict)
        files = []
        for path in paths:
            targets = sorted(path.glob("*.csv")) if path.is_dir() else [path]
            if path.is_dir() and not targets:
                raise CommandError(f"{path} holds no .csv files")
            for p in targets:
                try:
                    files.append((p.name, p.read_bytes()))
                except OSError as exc:
                    raise CommandError(f"Cannot read {p}: {exc.strerror}") from None
        run = importing.run_import(files, team=team_obj, dry_run=dry_run, strict=strict)
        self.report(run)
        code = 2 if run.status == "refused" else 1 if run.rejected_total else 0
        if code:
            sys.exit(code)

    def report(self, run) -> None:
        head = {"refused": self.style.ERROR, "dry_run": self.style.WARNING}.get(run.status, self.style.SUCCESS)
        self.stdout.write(head(f"{run.get_status_display()}{f' (import {run.pk})' if run.pk else ''}"))
        for kind, c in run.counts.items():
            self.stdout.write(
                f"  {kind}: {c['created']} created, {c['updated']} updated, {c['unchanged']} unchanged, {c['rejected']} rejected"
            )
        for i in run.issues:
            where = f"{i['file']} line {i['line']}" if i["line"] else i["file"] or "upload"
            col = f", {i['column']}" if i["column"] else ""
            self.stdout.write(f"  {where}{col}: {i['reason']}")

    def bulk(self, team, paths, *, dry_run, strict):
        from django.db import connection

        from notifications import parsing

        if connection.vendor != "postgresql":
            raise CommandError("--bulk needs PostgreSQL (DATABASE_URL=postgres://...).")
        if dry_run or strict:
            raise CommandError("--bulk has no --dry-run or --strict: it writes the good rows.")
        found = {}
        for path in paths:
            for p in sorted(path.glob("*.csv")) if path.is_dir() else [path]:
                kind = parsing.detect_kind(p.name, [])
                if kind in ("profiles", "activity"):
                    found[kind] = p
                else:
                    self.stdout.write(f"  {p.name}: skipped (--bulk loads Customer Profiles and Account Activity Logs)")
        if not found:
            raise CommandError("No Customer Profiles or Account Activity Logs file given.")
        run = importing.run_bulk(team=team, profiles=found.get("profiles"), activity=found.get("activity"))
        self.report(run)
        code = 2 if run.status == "refused" else 1 if run.rejected_total else 0
        if code:
            sys.exit(code)
