"""manage.py analyse_customers [--segment NAME] [--limit N] [--force-refresh] [--team SLUG]"""

import time

from django.core.management.base import BaseCommand

from notifications import services
from notifications.management.commands._team import bar, resolve_team
from notifications.models import AnalysisRun, NotificationSettings


class Command(BaseCommand):
    help = "Analyse a segment's customers and draft notifications (unchanged customers cost nothing)."

    def add_arguments(self, parser):
        parser.add_argument("--segment", help="Default: the team's focus segment.")
        parser.add_argument("--limit", type=int, help="Only the N riskiest customers of the segment.")
        parser.add_argument("--force-refresh", action="store_true", help="Ask again even when inputs are unchanged.")
        parser.add_argument("--team", help="Team slug (default: the only team holding customers).")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, segment, limit, force_refresh, team, no_progress, **options):
        team_obj = resolve_team(team)
        segment = segment or NotificationSettings.for_team(team_obj).focus_segment
        run = AnalysisRun.objects.create(team=team_obj, segment=segment, force_refresh=force_refresh)
        tty = not no_progress and hasattr(self.stdout, "isatty") and self.stdout.isatty()

        def progress(done, total):
            if tty:
                self.stdout.write("\r" + bar(done, total), ending="")
                self.stdout.flush()

        started = time.perf_counter()
        run = services.run_analysis(run.pk, limit=limit, progress=progress)
        if tty:
            self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(
                f"Analysed {run.done} {segment} customers in {time.perf_counter() - started:.1f}s (run {run.pk})."
            )
        )
