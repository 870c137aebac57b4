"""Append-only audit records, written in the caller's transaction.

Call `snapshot(obj)` before a change and `record(...)` after it; both run inside the same
`transaction.atomic` block as the change, so a rolled-back change leaves no audit row and a
committed change always has one.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db import models

from crm.models import Account, AuditEvent

_SKIP_FIELDS = {"updated_at"}


def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


def snapshot(obj: models.Model | None) -> dict:
    if obj is None:
        return {}
    values = {}
    for field in obj._meta.concrete_fields:
        if field.name in _SKIP_FIELDS:
            continue
        values[field.name] = _plain(getattr(obj, field.attname))
    return values


def _account_of(obj) -> Account | None:
    if isinstance(obj, Account):
        return obj
    account_id = getattr(obj, "account_id", None)
    return Account(pk=account_id) if account_id else None


def _team_id_of(obj) -> int | None:
    team_id = getattr(obj, "team_id", None)
    if team_id is None and getattr(obj, "account_id", None):
        team_id = Account.objects.filter(pk=obj.account_id).values_list("team_id", flat=True).first()
    return team_id


def record(*, actor, action: str, obj: models.Model, before: dict, via: str = "console") -> AuditEvent | None:
    """Store what changed. An update that changed nothing writes nothing."""
    after = snapshot(obj) if action != AuditEvent.Action.DELETE else {}
    keys = set(before) | set(after)
    changes = {k: [before.get(k), after.get(k)] for k in sorted(keys) if before.get(k) != after.get(k)}
    if action == AuditEvent.Action.UPDATE and not changes:
        return None
    account = _account_of(obj)
    if action == AuditEvent.Action.DELETE and isinstance(obj, Account):
        account = None  # the row is gone; the event keeps its name in object_repr
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        team_id=_team_id_of(obj),
        account_id=account.pk if account else None,
        action=action,
        content_type=ContentType.objects.get_for_model(obj),
        object_id=str(before.get("id") or obj.pk),
        object_repr=str(obj)[:200],
        changes=changes,
        via=via,
    )
