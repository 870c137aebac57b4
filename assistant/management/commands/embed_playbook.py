"""`manage.py embed_playbook`: embed the passages that have no embedding yet (playbooks imported
before the optional semantic search was installed)."""

from django.core.management.base import BaseCommand, CommandError

from assistant import semantic
from assistant.models import Passage


class Command(BaseCommand):
    help = "Embed playbook passages for the optional semantic search (requirements-semantic.txt)."

    def handle(self, *args, **options):
        if not semantic.available():
            raise CommandError(
                "Semantic search is not installed: pip install -r requirements-semantic.txt (or ASSISTANT_SEMANTIC=off).",
                returncode=2,
            )
        missing = Passage.objects.filter(embedding__isnull=True).order_by("pk")
        n = 0
        while batch := list(missing[:500]):  # each round embeds these, so the next query skips them
            n += semantic.index(batch)
        self.stdout.write(f"Embedded {n} passage(s).")
