from django.core.management.base import CommandError

from crm.models import Team
from notifications.models import CustomerRecord


def resolve_team(slug: str | None) -> Team:
    """--team SLUG, else the only team holding customers, else the only team."""
    if slug:
        team = Team.objects.filter(slug=slug).first()
        if team is None:
            known = ", ".join(Team.objects.values_list("slug", flat=True)) or "none"
            raise CommandError(f"No team {slug!r} (known: {known}).")
        return team
    with_customers = Team.objects.filter(pk__in=CustomerRecord.objects.values("team_id"))
    for qs in (with_customers, Team.objects.all()):
        if qs.count() == 1:
            return qs.get()
    raise CommandError("Several teams: name one with --team SLUG.")


def bar(done: int, total: int, width: int = 30) -> str:
    filled = round(width * done / total) if total else width
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
