import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from crm.models import Team
from nudges import services


def _bar(done: int, total: int, width: int = 30) -> str:
    filled = int(width * done / total) if total else width
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


class Command(BaseCommand):
    help = "Generate nudges for all stale deals and write them to out/nudges.json (the seed's main.py)."

    def add_arguments(self, parser):
        parser.add_argument("--out", default=None, help=f"Output file (default {settings.NUDGES_EXPORT_PATH}).")
        parser.add_argument("--team", action="append", help="Team slug (repeatable); default all teams.")
        parser.add_argument("--chunk-size", type=int, default=None)
        parser.add_argument("--force", action="store_true", help="Rewrite nudges even when inputs are unchanged.")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, out, team, chunk_size, force, no_progress, **options):
        team_ids = None
        if team:
            teams = list(Team.objects.filter(slug__in=team))
            missing = set(team) - {t.slug for t in teams}
            if missing:
                raise CommandError(f"Unknown team(s): {', '.join(sorted(missing))}")
            team_ids = [t.pk for t in teams]
        size = chunk_size or settings.NUDGES_SCAN_CHUNK_SIZE
        if size < 1:
            raise CommandError("--chunk-size must be at least 1")
        ids = services.candidate_deal_ids(team_ids=team_ids)
        tty = not no_progress and hasattr(self.stdout, "isatty") and self.stdout.isatty()
        total = services.RefreshSummary()
        started = time.perf_counter()
        for chunk in services.chunked(ids, size):
            total.add(services.refresh_nudges(deal_ids=chunk, force=force))
            if tty:
                self.stdout.write("\r" + _bar(total.deals, len(ids)), ending="")
                self.stdout.flush()
        if tty:
            self.stdout.write("")
        path = out or settings.NUDGES_EXPORT_PATH
        written = services.export_nudges(path=path, team_ids=team_ids)
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"{total.deals} deals checked in {elapsed:.1f}s: {total.created} new nudges, {total.updated} rewritten, "
                f"{total.unchanged} unchanged, {total.expired} closed (no longer stale), {total.suppressed} dismissed "
                f"earlier. Wrote {written} open nudges to {path}."
            )
        )
