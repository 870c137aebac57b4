"""Shared argument handling for the import commands.

Exit codes: 0 every row imported, 1 some rows rejected (the rest imported unless --strict),
2 the file was refused or the database refused the rows (nothing imported).
"""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from crm.models import ImportRun, Team

EXIT_REJECTED_ROWS = 1
EXIT_REFUSED = 2


def resolve_team(slug: str, username: str | None):
    """The team by slug; with --user, it must be one of that user's teams."""
    user = None
    if username:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.", returncode=EXIT_REFUSED)
    teams = Team.objects.visible_to(user) if user is not None else Team.objects.all()
    team = teams.filter(slug=slug).first()
    if team is None:
        known = ", ".join(teams.values_list("slug", flat=True)) or "none"
        raise CommandError(
            f"No team {slug!r}{' for ' + username if username else ''} (known: {known}).", returncode=EXIT_REFUSED
        )
    return team, user


def print_report(command, report: ImportRun) -> None:
    out = command.stdout
    style = (
        command.style.ERROR if report.failed else (command.style.WARNING if report.errors else command.style.SUCCESS)
    )
    out.write(style(report.summary()))
    for note in report.notes:
        out.write(f"  note: {note}")
    for issue in report.errors:
        out.write(f"  line {issue.line}: {issue.reason}")
    if report.rejected:
        out.write(f"  import run {report.pk}: the rejected rows download as CSV from {report.get_absolute_url()}")


class ImportCommand(BaseCommand):
    """An import of one seed file into a team; subclasses name the importer function."""

    importer = None  # e.g. staticmethod(importers.import_crm_events)

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--team", required=True, help="Slug of the team the deals belong to.")
        parser.add_argument("--user", help="Import as this user (the team must be one of theirs).")
        parser.add_argument("--dry-run", action="store_true", help="Check and count, write nothing.")
        parser.add_argument("--strict", action="store_true", help="All or nothing: one bad row and nothing is written.")

    def handle(self, *args, path, team, user, dry_run=False, strict=False, **options):
        team_obj, actor = resolve_team(team, user)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}", returncode=EXIT_REFUSED) from None
        report = self.importer(raw, team=team_obj, actor=actor, file_name=path.name, dry_run=dry_run, strict=strict)
        print_report(self, report)
        if report.failed:
            raise CommandError(report.failed, returncode=EXIT_REFUSED)
        if report.rejected:
            raise CommandError(f"{report.rejected} row(s) rejected.", returncode=EXIT_REJECTED_ROWS)
