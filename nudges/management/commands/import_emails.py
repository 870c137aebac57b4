from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from nudges import importers
from nudges.management.commands._common import print_report, resolve_team


class Command(BaseCommand):
    help = "Import the seed's emails.json ([{deal_id, thread: [{from,to,ts,body}]}]) into a team. Reruns update."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--team", required=True, help="Slug of the team the deals belong to.")
        parser.add_argument("--user", help="Import as this user (the team must be one of theirs).")

    def handle(self, *args, path, team, user, **options):
        team_obj, actor = resolve_team(team, user)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}") from None
        report = importers.import_emails(raw, team=team_obj, actor=actor)
        print_report(self, report)
        if report.failed:
            raise CommandError(report.failed)
