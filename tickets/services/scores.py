"""Scores: computing and storing ticket scores, set-based rescoring, weight versions."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.http import Http404
from django.utils import timezone

from crm import audit
from crm.models import Account, AuditEvent, Team, is_admin, is_manager
from tickets import cache, matches
from tickets.models import (
    Ticket,
    WeightSet,
)
from tickets.services._base import _user, enqueue

log = logging.getLogger(__name__)


def current_weights(team_id: int | None = None):
    """The weights in force for a team's tickets (its own newest set, else the global default)."""
    return WeightSet.in_force(team_id).as_weights()


def weights_for(ticket: Ticket):
    return current_weights(ticket.team_id)


def score_ticket(*, ticket: Ticket, now=None, weights=None) -> None:
    """Recompute and store one ticket's score (after any change to its inputs)."""
    ticket.rescore(weights=weights or weights_for(ticket), now=now or timezone.now())
    if ticket.pk:
        matches.copy_columns(ticket)


def _by_scope(queryset) -> list[tuple[object, object]]:
    """[(tickets, weights in force for them)]: one entry per team with its own weights, then the
    rest of `queryset` with the global default. One query for the weights."""
    default, own = WeightSet.in_force_map()
    parts = [(queryset.filter(team_id=team_id), ws.as_weights()) for team_id, ws in sorted(own.items())]
    rest = queryset.exclude(team_id__in=list(own)) if own else queryset
    return [*parts, (rest, default.as_weights())]


def rescore_open_tickets(*, weights=None, now=None, queryset=None) -> int:
    """Set-based: one UPDATE per weights scope (the global default, and each team with its own
    weights) over the selected active tickets. `weights` forces one set for all of them."""
    qs = queryset if queryset is not None else Ticket.objects.open()
    now_ts = (now or timezone.now()).timestamp()
    scopes = [(qs, weights)] if weights is not None else _by_scope(qs)
    n = sum(part.rescore(w, now_ts=now_ts) for part, w in scopes)
    if n:
        matches.sync_scores()  # the watched terms' match rows carry the score too
    return n


def age_open_tickets(*, now=None) -> int:
    """The scheduled aging pass: per weights scope, one UPDATE over the tickets whose age term can
    still move, i.e. customers waiting on us whose age is below the cap. Saturated and not-waiting
    tickets keep their stored score, so the pass touches far fewer rows than a full rescore."""
    touched = 0
    for scope, weights in _by_scope(Ticket.objects.all()):
        cap = weights.age * weights.age_cap
        qs = scope.waiting().filter(weight_set_id=weights.set_id)
        if weights.age > 0:
            qs = qs.filter(score_age__lt=cap)
        # Tickets still on other weights (a rescore interrupted midway, a team that moved to or
        # from its own weights) are caught up too.
        stale = scope.open().exclude(weight_set_id=weights.set_id)
        touched += rescore_open_tickets(weights=weights, now=now, queryset=qs)
        touched += rescore_open_tickets(weights=weights, now=now, queryset=stale)
    return touched


def sync_customer_inputs(*, account_id: int | None = None, now=None) -> int:
    """Copy churn risk, lifetime value and VIP from accounts onto their active tickets where they
    differ, then rescore those tickets. Set-based; call it after an account's values change (the
    aging job also runs it, so imports and admin edits are picked up within minutes)."""
    acc = Account.objects.filter(pk=OuterRef("account_id"))
    stale = Ticket.objects.open().filter(
        Exists(acc.exclude(churn_risk=OuterRef("customer_churn"), is_vip=OuterRef("customer_vip")).values("pk")[:1])
        | Exists(acc.exclude(lifetime_value=OuterRef("customer_ltv")).values("pk")[:1])
    )
    if account_id is not None:
        stale = stale.filter(account_id=account_id)
    ids = list(stale.values_list("pk", flat=True)[:50_000])
    changed = 0

    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        changed += Ticket.objects.filter(pk__in=chunk).update(
            customer_churn=Subquery(acc.values("churn_risk")[:1]),
            customer_ltv=Subquery(acc.values("lifetime_value")[:1]),
            customer_vip=Subquery(acc.values("is_vip")[:1]),
        )
        rescore_open_tickets(now=now, queryset=Ticket.objects.filter(pk__in=chunk))
    return changed


def teams_managed_by(user):
    """The teams whose weights this user may change: every team for an admin, a manager's own
    teams, none for anyone else."""
    if is_admin(user):
        return Team.objects.all()
    if is_manager(user):
        return Team.objects.visible_to(user)
    return Team.objects.none()


def _check_authority(actor, team) -> None:
    if team is None:
        if not is_admin(actor):
            raise PermissionDenied("Only admins change the global default weights.")
    elif not teams_managed_by(actor).filter(pk=team.pk).exists():
        # Another team's weights look like a team that does not exist (nothing to learn from it).
        raise Http404("No such team.")


@transaction.atomic
def create_weight_set(*, actor, values: dict, note: str = "", team=None) -> WeightSet:
    """A new version of a team's weights (`team`), or of the global default (admins only); the
    tickets it governs are rescored in one UPDATE after commit."""
    _check_authority(actor, team)
    scope = WeightSet.objects.select_for_update().filter(team=team) if team else WeightSet.objects.global_default()
    latest = scope.order_by("-version").first() if team else WeightSet.current()
    ws = WeightSet.objects.create(
        team=team,
        version=(latest.version if latest else 0) + 1,
        created_by=_user(actor),
        note=note[:300],
        **{f: float(values[f]) for f in WeightSet.FIELDS},
    )
    audit.record(actor=actor, action=AuditEvent.Action.CREATE, obj=ws, before={})
    transaction.on_commit(cache.forget_boost)
    enqueue("rescore_open_tickets_task", ws.pk)
    return ws


@transaction.atomic
def reset_team_weights(*, actor, team) -> WeightSet | None:
    """The team goes back to the global default: a new version of its weights that follows the
    default (its values the default's now, for the history), audited, and its open tickets
    rescored. Its earlier versions stay in the version history. None when it already follows it."""
    _check_authority(actor, team)
    versions = list(WeightSet.objects.select_for_update().filter(team=team).order_by("-version"))
    if not versions or versions[0].follows_default:
        return None
    default = WeightSet.current()
    ws = WeightSet.objects.create(
        team=team,
        version=versions[0].version + 1,
        created_by=_user(actor),
        note=f"Reset to the global default (v{default.version} at the time)",
        follows_default=True,
        **{f: getattr(default, f) for f in WeightSet.FIELDS},
    )
    audit.record(actor=actor, action=AuditEvent.Action.CREATE, obj=ws, before={})
    transaction.on_commit(cache.forget_boost)
    enqueue("rescore_team_tickets_task", team.pk)
    return ws
