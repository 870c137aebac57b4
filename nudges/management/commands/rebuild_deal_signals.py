import time

from django.core.management.base import BaseCommand

from nudges import signals


class Command(BaseCommand):
    help = (
        "Rebuild the stored conversation signals of every deal from its activities (after bulk "
        "edits or deletes that bypassed the ORM, e.g. queryset .update() or raw SQL). Scans refresh "
        "incrementally on their own; --incremental runs just that refresh."
    )

    def add_arguments(self, parser):
        parser.add_argument("--incremental", action="store_true", help="Only the deals with new or edited touches.")

    def handle(self, *args, incremental, **options):
        started = time.perf_counter()
        stats = signals.refresh(full=not incremental)
        kind = "Rebuilt" if stats.full else "Refreshed"
        self.stdout.write(
            self.style.SUCCESS(
                f"{kind} signals of {stats.deals:,} deals and {stats.contacts:,} contacts up to activity "
                f"{stats.watermark} in {time.perf_counter() - started:.1f}s."
            )
        )
