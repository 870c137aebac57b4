"""Scores: computing and storing ticket scores, set-based rescoring, weight versions."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from crm import audit
from crm.models import Account, AuditEvent
from tickets import cache, matches
from tickets.models import (
    Ticket,
    WeightSet,
)
from tickets.services._base import _user, enqueue

log = logging.getLogger(__name__)


def current_weights():
    return WeightSet.current().as_weights()


def score_ticket(*, ticket: Ticket, now=None, weights=None) -> None:
    """Recompute and store one ticket's score (after any change to its inputs)."""
    ticket.rescore(weights=weights or current_weights(), now=now or timezone.now())
    if ticket.pk:
        matches.copy_columns(ticket)


def rescore_open_tickets(*, weights=None, now=None, queryset=None) -> int:
    """Set-based: one UPDATE over every active ticket (weights change). Returns rows touched."""
    weights = weights or current_weights()
    qs = queryset if queryset is not None else Ticket.objects.open()
    n = qs.rescore(weights, now_ts=(now or timezone.now()).timestamp())
    if n:
        matches.sync_scores()  # the watched terms' match rows carry the score too
    return n


def age_open_tickets(*, now=None) -> int:
    """The scheduled aging pass: one UPDATE over the tickets whose age term can still move, i.e.
    customers waiting on us whose age is below the cap. Saturated and not-waiting tickets keep
    their stored score, so the pass touches far fewer rows than a full rescore."""
    weights = current_weights()
    cap = weights.age * weights.age_cap
    qs = Ticket.objects.waiting().filter(weights_version=weights.version)
    if weights.age > 0:
        qs = qs.filter(score_age__lt=cap)
    stale_version = Ticket.objects.open().exclude(weights_version=weights.version)
    # Tickets still on an older weights version (a rescore interrupted midway) are caught up too.
    return rescore_open_tickets(weights=weights, now=now, queryset=qs) + rescore_open_tickets(
        weights=weights, now=now, queryset=stale_version
    )


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


@transaction.atomic
def create_weight_set(*, actor, values: dict, note: str = "") -> WeightSet:
    """A new version of the weights; every active ticket is rescored in one UPDATE."""
    latest = WeightSet.current()
    ws = WeightSet.objects.create(
        version=latest.version + 1,
        created_by=_user(actor),
        note=note[:300],
        **{f: float(values[f]) for f in WeightSet.FIELDS},
    )
    audit.record(actor=actor, action=AuditEvent.Action.CREATE, obj=ws, before={})
    transaction.on_commit(cache.forget_boost)
    enqueue("rescore_open_tickets_task", ws.version)
    return ws
