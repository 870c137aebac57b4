"""manage.py analyse_customers [--segment NAME] [--limit N] [--force-refresh] [--team SLUG]"""

import time

from django.core.management.base import BaseCommand

from notifications import runs
from notifications.management.commands._team import bar, resolve_team
from notifications.models import AnalysisRun, CustomerRecord, NotificationSettings


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
        customers = CustomerRecord.objects.filter(team=team_obj, segment=segment).count()
        if limit is not None:
            customers = min(customers, limit)
        run = AnalysisRun.objects.create(
            team=team_obj, segment=segment, force_refresh=force_refresh, batch=runs.use_batch(customers), limit=limit
        )
        tty = not no_progress and hasattr(self.stdout, "isatty") and self.stdout.isatty()

        def progress(done, total):
            if tty:
                self.stdout.write("\r" + bar(done, total), ending="")
                self.stdout.flush()

        started = time.perf_counter()
        run = runs.run_analysis(run.pk, limit=limit, progress=progress)
        if tty:
            self.stdout.write("")
        took = time.perf_counter() - started
        stats = run.stats
        cost = (
            f"{stats.get('unchanged', 0)} unchanged (nothing asked), {stats.get('asked', 0)} asked, "
            f"{stats.get('cached', 0)} answers from the cache, {stats.get('batched', 0)} through a Message Batch; "
            f"model calls saved: {stats.get('calls_saved', 0)}"
        )
        if run.status == AnalysisRun.Status.WAITING:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Submitted {run.waiting} requests for {run.total} {segment} customers to a Message Batch "
                    f"(run {run.pk}); the notifications are stored when the batch is collected. {cost}."
                )
            )
            return
        self.stdout.write(
            self.style.SUCCESS(f"Analysed {run.done} {segment} customers in {took:.1f}s (run {run.pk}). {cost}.")
        )
