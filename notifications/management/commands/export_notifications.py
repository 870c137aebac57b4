"""manage.py export_notifications --out FILE.csv [--team SLUG]: the queue and history as CSV."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from notifications import services
from notifications.management.commands._team import resolve_team


class Command(BaseCommand):
    help = "Export the notification queue and history as CSV (formula cells escaped)."

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, type=Path)
        parser.add_argument("--team", help="Team slug (default: the only team holding customers).")

    def handle(self, *args, out, team, **options):
        team_obj = resolve_team(team)
        body, count = services.export_csv(team_obj)
        try:
            out.write_text(body, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot write {out}: {exc.strerror}") from None
        self.stdout.write(self.style.SUCCESS(f"Wrote {count} notifications to {out}."))
