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

    def handle(self, *args, paths, team, dry_run, strict, **options):
        team_obj = resolve_team(team)
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
