"""Workflows over the customer graph that the console and the API share."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from crm import audit
from crm.models import Activity, AuditEvent, Deal, Stage


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
