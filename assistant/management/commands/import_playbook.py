"""`manage.py import_playbook FILE [--title ...] [--team SLUG]`: import (or replace) a sales playbook."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from assistant.playbook import import_playbook
from crm.errors import ServiceError
from crm.models import Team


class Command(BaseCommand):
    help = "Import a sales playbook (PDF with a text layer, Markdown or text) for one team or every team."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--title", default="", help="Defaults to the file name; an existing title is replaced.")
        parser.add_argument("--team", action="append", help="Team slug (repeatable); default: every team.")

    def handle(self, *args, file, title, team, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No file at {path}.", returncode=2)
        teams = Team.objects.filter(slug__in=team) if team else Team.objects.all()
        if team and teams.count() != len(set(team)):
            missing = sorted(set(team) - set(teams.values_list("slug", flat=True)))
            raise CommandError(f"Unknown team(s): {', '.join(missing)}.", returncode=2)
        data = path.read_bytes()
        for t in teams:
            try:
                doc = import_playbook(team=t, data=data, file_name=path.name, title=title)
            except ServiceError as exc:
                raise CommandError(f"{path.name}: {exc.message}", returncode=2) from None
            pages = f", {doc.pages} pages" if doc.pages else ""
            self.stdout.write(
                f"{t.slug}: “{doc.title}” ({doc.get_kind_display()}{pages}), {doc.passages.count()} passages indexed."
            )
