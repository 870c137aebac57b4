"""manage.py import_customers PATH... [--dry-run] [--strict] [--team SLUG] [--bulk]

PATH is a folder holding the five files, or the files themselves. Every run goes through the import
core (crm/imports.py) and is stored as a crm.ImportRun (its page under /settings/imports/). Exit code
0: clean; 1: imported with rejected rows; 2: refused, or strict with rejected rows (nothing written).
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from crm.models import ImportRun
from notifications import importing, parsing
from notifications.management.commands._team import resolve_team

EXIT_REJECTED_ROWS = 1
EXIT_REFUSED = 2


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
            help="PostgreSQL: stream Customer Profiles and Account Activity Logs through COPY and merge in SQL "
            "(files of any size, constant memory; the other three files are skipped: import them without --bulk).",
        )

    def handle(self, *args, paths, team, dry_run, strict, bulk, **options):
        team_obj = resolve_team(team)
        found = []
        for path in paths:
            targets = sorted(path.glob("*.csv")) if path.is_dir() else [path]
            if path.is_dir() and not targets:
                raise CommandError(f"{path} holds no .csv files", returncode=EXIT_REFUSED)
            if not path.is_dir() and not path.exists():
                raise CommandError(f"Cannot read {path}: no such file", returncode=EXIT_REFUSED)
            found.extend(targets)
        if bulk:
            files = []
            for p in found:
                if parsing.detect_kind(p.name, []) in ("profiles", "activity"):
                    files.append((p.name, p))
                else:
                    self.stdout.write(f"  {p.name}: skipped (--bulk loads Customer Profiles and Account Activity Logs)")
            if not files:
                raise CommandError("No Customer Profiles or Account Activity Logs file given.", returncode=EXIT_REFUSED)
            run = importing.import_customers_copy(files, team=team_obj, dry_run=dry_run, strict=strict)
        else:
            files = []
            for p in found:
                try:
                    files.append((p.name, p.read_bytes()))
                except OSError as exc:
                    raise CommandError(f"Cannot read {p}: {exc.strerror}", returncode=EXIT_REFUSED) from None
            run = importing.import_customers(files, team=team_obj, dry_run=dry_run, strict=strict)
        self.report(run)
        if run.status in (ImportRun.Status.REFUSED, ImportRun.Status.REJECTED, ImportRun.Status.FAILED):
            raise CommandError(run.failed or f"{run.rejected} row(s) rejected (strict).", returncode=EXIT_REFUSED)
        if run.rejected:
            raise CommandError(f"{run.rejected} row(s) rejected.", returncode=EXIT_REJECTED_ROWS)

    def report(self, run: ImportRun) -> None:
        bad = run.status in (ImportRun.Status.REFUSED, ImportRun.Status.REJECTED, ImportRun.Status.FAILED)
        style = self.style.ERROR if bad else self.style.WARNING if run.rejected or run.dry_run else self.style.SUCCESS
        self.stdout.write(style(f"Import {run.pk}: {run.get_status_display()}. {run.summary()}"))
        for f in run.files:
            self.stdout.write(
                f"  {f['name']}: {f['rows']} rows, {f['created']} created, {f['updated']} updated, "
                f"{f['unchanged']} unchanged, {f['rejected']} rejected"
            )
        for note in run.notes:
            self.stdout.write(f"  note: {note}")
        for kind, issues in (("rejected", run.errors), ("note", run.warnings)):
            for i in issues:
                where = f"{i.file} line {i.line}" if i.line else i.file or "upload"
                self.stdout.write(f"  {kind}: {where}{f', {i.column}' if i.column else ''}: {i.reason}")
        total = run.report.get("issues_total", 0)
        if total > len(run.errors):
            self.stdout.write(f"  … {total - len(run.errors)} more rejected rows")
        if run.rejected:
            self.stdout.write(f"  the rejected rows download as CSV from {run.get_absolute_url()}rejected.csv")
