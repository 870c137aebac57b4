from django.core.management.base import BaseCommand

from crm.demo import DEMO_PASSWORD, load_demo


class Command(BaseCommand):
    help = "Load the deterministic demo world (idempotent: a rerun updates, never duplicates)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, seed, **options):
        summary = load_demo(seed=seed)
        self.stdout.write(
            f"Demo world: {summary.teams} teams, {summary.users} users, {summary.accounts} accounts, "
            f"{summary.deals} deals, {summary.activities} activities, {summary.orders} orders."
        )
        for hook in _feature_loaders():
            self.stdout.write(hook())
        self.stdout.write(self.style.SUCCESS(f"Log in at http://127.0.0.1:8000 as demo / {DEMO_PASSWORD}"))
        self.stdout.write(f"(manager: maria / {DEMO_PASSWORD}, admin: admin / {DEMO_PASSWORD})")


def _feature_loaders():
    """Feature apps add demo data of their own (tickets, nudges...) through a `demo.load()` function."""
    import importlib

    hooks = []
    for app in ("tickets", "nudges", "notifications", "assistant"):
        try:
            module = importlib.import_module(f"{app}.demo")
        except ModuleNotFoundError as exc:
            if exc.name != f"{app}.demo":
                raise
            continue
        hooks.append(module.load)
    return hooks
