"""`manage.py export_preferences --out FILE.jsonl`: preference pairs (prompt, chosen, rejected) from
checker retries and ratings, for an external fine-tuning tool (see docs/assistant.md)."""

from django.core.management.base import BaseCommand

from assistant.preferences import export


class Command(BaseCommand):
    help = "Export the co-pilot's preference data as JSONL (prompt, chosen, rejected)."

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True)

    def handle(self, *args, out, **options):
        n = export(out)
        self.stdout.write(f"Wrote {n} preference pair(s) to {out}.")
