"""What the console's nav bar and the settings index link to, and who sees each link.

Pages live in every app, but the nav and the settings index are drawn here, so each entry names its
page by URL name (a string, never an import of an upper app). An entry whose URL name does not
resolve (a feature not built yet) is left out, and so is an entry the user may not open: a link is
shown only to those it will not answer 404 or 403.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse

from crm.models import Team, is_manager
from crm.visibility import visible_team_ids


def anyone(user) -> bool:
    return True


def managers(user) -> bool:
    return is_manager(user)


def in_a_team(user) -> bool:
    """Pages about "your team" (action plans, notifications) answer 404 to someone in none. Asks the
    memoised membership lookup every `visible_to` on the page shares (no query of its own for a
    member); an admin is in a team when any team exists."""
    team_ids = visible_team_ids(user)
    return bool(team_ids) if team_ids is not None else Team.objects.exists()


def permission(label: str) -> Callable:
    """Shown to users holding a Django permission (`"llm.view_usage"`), the check the page itself makes."""

    def may_open(user) -> bool:
        return user.has_perm(label)

    may_open.__name__ = f"has_perm({label})"
    return may_open


@dataclass(frozen=True)
class Link:
    label: str
    url_name: str
    may_open: Callable = anyone
    description: str = ""  # settings index only
    action: str = ""  # settings index only: the link's text


# The nav bar, in order. A new section adds one line here.
NAV = [
    Link("Inbox", "tickets:inbox"),
    Link("Deals", "crm:deal_list"),
    Link("Accounts", "crm:account_list"),
    Link("Notifications", "notifications:index", in_a_team),  # a team's queue: 404 to someone in none
    Link("Assistant", "assistant:index"),
    Link("Deliveries", "outbound:list"),
    Link("Settings", "settings"),
]

# The settings index (/settings/), in order. A feature's settings page adds one entry here.
SETTINGS_PAGES = [
    Link(
        "AI usage",
        "llm:usage",
        permission("llm.view_usage"),
        "Calls, cache hits, tokens, cost, failures and latency per feature and per day.",
        "Open AI usage",
    ),
    Link(
        "AI quality",
        "llm:quality",
        permission("llm.view_usage"),
        "Each AI feature scored on its evaluation dataset, against its thresholds, over time.",
        "Open AI quality",
    ),
    Link(
        "Inbox scoring",
        "tickets:weights",
        anyone,
        "The weights that order the support inbox, versioned.",
        "Edit scoring weights",
    ),
    Link(
        "Deal warnings",
        "nudges:settings",
        anyone,
        "Which stale-deal warnings fire, and their thresholds.",
        "Edit deal warnings",
    ),
    Link(
        "Action plans",
        "plans:index",
        in_a_team,
        "Company context and its versions, learnings from feedback, prompt templates, plan cache.",
        "Open action plans",
    ),
    Link(
        "Co-pilot playbook",
        "assistant:playbook_list",
        in_a_team,
        "The sales playbook the co-pilot answers from and cites; managers upload and replace it.",
        "Open the playbook",
    ),
    Link(
        "Imports",
        "crm:import_run_list",
        anyone,
        "Every file import and dry run into your teams: counts, rejected rows and why, as CSV.",
        "Open imports",
    ),
    Link(
        "Customer notifications",
        "notifications-settings",
        in_a_team,
        "Segment rules and the focus segment analysed for notifications.",
        "Edit segments",
    ),
]


def section(path: str) -> str:
    """The console section a path belongs to: its first segment (/deals/nudges/3/ is in "deals")."""
    return path.lstrip("/").split("/", 1)[0]


def links_for(user, entries) -> list[dict]:
    """The entries this user may open and that exist, as dicts with their `url` and `section`."""
    shown = []
    for entry in entries:
        if not entry.may_open(user):
            continue
        try:
            url = reverse(entry.url_name)
        except NoReverseMatch:
            continue
        shown.append(
            {
                "label": entry.label,
                "url": url,
                "section": section(url),
                "description": entry.description,
                "action": entry.action or entry.label,
            }
        )
    return shown
