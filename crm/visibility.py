"""Which teams a user sees: the one helper behind every `visible_to(user)`."""

from __future__ import annotations

_MEMO = "_crm_visible_team_ids"


def visible_team_ids(user) -> set[int] | None:
    """The ids of the user's teams; None means every team (admins). Anonymous users see none.

    The answer is memoised on the user object: `request.user` lives for one request, and a page asks
    this for every list, fragment and count it renders, so one membership query serves them all.
    Code that changes a user's memberships and asks again on the same object calls `forget(user)`.
    """
    from crm.models import Membership, is_admin

    if user is None or not user.is_authenticated:
        return set()
    memo = getattr(user, _MEMO, False)
    if memo is False:
        memo = (
            None
            if is_admin(user)
            else frozenset(Membership.objects.filter(user=user).values_list("team_id", flat=True))
        )
        setattr(user, _MEMO, memo)
    return None if memo is None else set(memo)


def forget(user) -> None:
    """Drop the memoised answer (after a membership or group change on this same user object)."""
    if hasattr(user, _MEMO):
        delattr(user, _MEMO)


def ledger_scope(user) -> int | None:
    """The AI usage scope (llm.scopes) of calls a user makes for no one record: their team, or the
    lowest-numbered of their teams when they are in several (a manager of that team sees the row);
    None (admins only) for admins and users in no team."""
    team_ids = visible_team_ids(user)
    return min(team_ids) if team_ids else None
