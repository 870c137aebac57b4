"""Small per-user and global values the inbox reads on every page, cached so a page stays within
its query budget. Each is invalidated where it changes (alert saved or cleared, weights saved) or
expires quickly (filter choices: team memberships change rarely and a minute's lag is harmless)."""

from __future__ import annotations

from django.core.cache import cache
from django.utils import timezone

from tickets import matches

ALERT_TTL = 300
BOOST_TTL = 60
CHOICES_TTL = 60


def _alert_key(user_id: int) -> str:
    return f"tickets:alert:{user_id}"


def active_alert(user) -> dict | None:
    """{"text", "terms", "expires_at"} of the user's active topic alert, or None."""
    from tickets.models import TopicAlert

    value = cache.get(_alert_key(user.pk))
    if value is None:
        alert = TopicAlert.objects.active().filter(user=user).first()
        value = {"text": alert.text, "terms": alert.terms, "expires_at": alert.expires_at} if alert else {}
        cache.set(_alert_key(user.pk), value, ALERT_TTL)
    if value and value["expires_at"] and value["expires_at"] <= timezone.now():
        return None
    return value or None


def forget_alert(user) -> None:
    cache.delete(_alert_key(user.pk))


def topic_alert_boosts() -> dict[int | None, float]:
    """{team id: boost} for teams with their own scoring weights, and None: the global default's.
    One query when the cache is cold (the newest set of each scope)."""
    from tickets.models import WeightSet

    boosts = cache.get("tickets:boosts")
    if boosts is None:
        default, own = WeightSet.in_force_map()
        boosts = {None: default.topic_alert_boost, **{t: ws.topic_alert_boost for t, ws in own.items()}}
        cache.set("tickets:boosts", boosts, BOOST_TTL)
    return boosts


def topic_alert_boost(team_id: int | None = None) -> float:
    boosts = topic_alert_boosts()
    return boosts.get(team_id, boosts[None])


def forget_boost() -> None:
    cache.delete("tickets:boosts")


# The watched-terms set is cached by tickets.matches, which owns it (one place for its constants).
watched_terms = matches.cached_watched_terms
forget_watched_terms = matches.forget_watched_terms


def visible_teams(user) -> list[tuple[int, str]]:
    """(id, name) of the teams whose tickets the user may see."""
    from crm.models import Team

    key = f"tickets:teams:{user.pk}"
    value = cache.get(key)
    if value is None:
        value = list(Team.objects.visible_to(user).order_by("name").values_list("pk", "name"))
        cache.set(key, value, CHOICES_TTL)
    return value


def filter_choices(user) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(teams, people) the user can filter the inbox by: their teams and those teams' members."""
    from crm.models import Membership

    key = f"tickets:choices:{user.pk}"
    value = cache.get(key)
    if value is None:
        teams = visible_teams(user)
        rows = Membership.objects.filter(team__in=[pk for pk, _ in teams]).select_related("user")
        people = sorted(
            {(m.user_id, m.user.get_full_name() or m.user.get_username()) for m in rows}, key=lambda kv: kv[1]
        )
        value = (teams, people)
        cache.set(key, value, CHOICES_TTL)
    return value
