"""Workflows over the customer graph that the console and the API share."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from crm import audit, hooks
from crm.errors import ServiceError
from crm.models import Account, Activity, AuditEvent, Deal, Stage


@transaction.atomic
def change_deal_stage(*, actor, deal: Deal, stage: Stage, via: str = "console") -> Deal:
    before = audit.snapshot(deal)
    deal.change_stage(stage)
    if stage.slug in ("won", "lost") and deal.status == Deal.Status.OPEN:
        deal.status = stage.slug
        deal.save(update_fields=["status", "updated_at"])
    audit.record(actor=actor, action=AuditEvent.Action.UPDATE, obj=deal, before=before, via=via)
    return deal


@transaction.atomic
def log_activity(
    *,
    actor,
    account,
    kind: str,
    body: str,
    subject: str = "",
    deal: Deal | None = None,
    contact=None,
    occurred_at=None,
    via: str = "console",
) -> Activity:
    """Record a touch on the timeline; a meaningful one resets the deal's idle clock."""
    activity = Activity.objects.create(
        account=account,
        deal=deal,
        contact=contact,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        kind=kind,
        direction=Activity.Direction.INTERNAL if kind == Activity.Kind.NOTE else Activity.Direction.OUTBOUND,
        subject=subject,
        body=body,
        occurred_at=occurred_at or timezone.now(),
    )
    if deal is not None and kind in Activity.MEANINGFUL_KINDS:
        deal.record_touch(activity.occurred_at)
    audit.record(actor=actor, action=AuditEvent.Action.CREATE, obj=activity, before={}, via=via)
    return activity


def refresh_deal_last_activity(deal_id: int) -> bool:
    """Recompute a deal's idle clock from its meaningful activities (after imports or deletes)."""
    last = (
        Activity.objects.meaningful()
        .filter(deal_id=deal_id)
        .order_by("-occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )
    return Deal.objects.filter(pk=deal_id).update(last_activity_at=last) == 1


# Fields an account edit may not change through this service: identity and bookkeeping.
_ACCOUNT_FIXED_FIELDS = {"id", "updated_at"}


@transaction.atomic
def update_account(*, actor, account: Account, changes: dict, via: str = "console") -> Account:
    """Apply `changes` ({field: value}) to the account, audit them, and tell the upper apps.

    The one path for account edits from the console, the API and the admin: each writes the same
    audit record, and hooks registered with `crm.hooks.on_account_updated` (tickets rescores the
    customer's open tickets) run in the same transaction.
    """
    unknown = set(changes) - {f.name for f in Account._meta.concrete_fields} | (set(changes) & _ACCOUNT_FIXED_FIELDS)
    if unknown:
        raise ServiceError(f"Cannot change {', '.join(sorted(unknown))}.", field=sorted(unknown)[0])
    before = audit.snapshot(account)
    changed = {name for name, value in changes.items() if getattr(account, name) != value}
    for name in changed:
        setattr(account, name, changes[name])
    if changed:
        account.save(update_fields=[*sorted(changed), "updated_at"])
        audit.record(actor=actor, action=AuditEvent.Action.UPDATE, obj=account, before=before, via=via)
    hooks.account_updated(account=account, fields=changed)
    return account
