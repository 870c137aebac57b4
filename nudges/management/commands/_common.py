"""Shared argument handling for the import commands."""

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from crm.models import Team


def resolve_team(slug: str, username: str | None):
    """The team by slug; with --user, it must be one of that user's teams."""
    user = None
    if username:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
    teams = Team.objects.visible_to(user) if user is not None else Team.objects.all()
    team = teams.filter(slug=slug).first()
    if team is None:
        known = ", ".join(teams.values_list("slug", flat=True)) or "none"
        raise CommandError(f"No team {slug!r}{' for ' + username if username else ''} (known: {known}).")
    return team, user


def print_report(command, report) -> None:
    out = command.stdout
    style = (
        command.style.ERROR if report.failed else (command.style.WARNING if report.errors else command.style.SUCCESS)
    )
    out.write(style(report.summary()))
    for note in report.notes:
        out.write(f"  note: {note}")
    for issue in report.errors:
        out.write(f"  line {issue.line}: {issue.reason}")
