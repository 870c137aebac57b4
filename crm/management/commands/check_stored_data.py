"""Find (and with --fix repair) stored dates and times that Python cannot read back.

PostgreSQL stores timestamps up to year 294276, Python's datetime stops at 9999: one row with
`9999-12-31T23:59:59-05:00` (year 10000 in UTC) makes every page that loads it answer 500. Such
rows are found with SQL comparisons against the bounds the validators enforce
(`crm.validators.EARLIEST` / `LATEST`), never by loading them, in every date and datetime column of
every installed model. With --fix a nullable column is set to NULL and a required one is clamped to
the nearest bound, each change written to the audit trail (via "repair") with the stored value as
the database printed it.

Exit codes: 0 nothing out of range (or everything fixed), 1 rows out of range remain.
"""

from __future__ import annotations

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction
from django.db.models import Q
from django.db.models.functions import Cast

from crm.models import AuditEvent
from crm.validators import EARLIEST, LATEST

DATE_MIN, DATE_MAX = EARLIEST.date(), LATEST.date()


def _bounds(field: models.Field):
    if isinstance(field, models.DateTimeField):
        return EARLIEST, LATEST
    return DATE_MIN, DATE_MAX


def date_columns():
    """(model, field) for every concrete date/datetime column of every installed model."""
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, (models.DateTimeField, models.DateField)):
                yield model, field


def out_of_range(model, field):
    """(pk, stored value as text) of the rows outside the bounds; nothing is loaded as a date.

    On SQLite dates are text, and "10000-01-01" sorts before "1900-01-02": the `lt` side finds it."""
    low, high = _bounds(field)
    name = field.name
    rows = (
        model._base_manager.filter(Q(**{f"{name}__lt": low}) | Q(**{f"{name}__gt": high}))
        .annotate(_stored=Cast(name, models.CharField()))
        .order_by("pk")
        .values_list("pk", "_stored")
    )
    return list(rows)


class Command(BaseCommand):
    help = "Report stored dates outside the years 1900-9999 (unreadable by Python); --fix nulls or clamps them."

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true", help="NULL (nullable) or clamp (required) each value.")

    def handle(self, *args, fix=False, **options):
        found = 0
        for model, field in date_columns():
            for pk, stored in out_of_range(model, field):
                found += 1
                table, column = model._meta.db_table, field.column
                if not fix:
                    self.stdout.write(f"{table} id={pk} {column}={stored}")
                    continue
                new = None if field.null else _bounds(field)[1 if _is_late(stored) else 0]
                _repair(model, field, pk, stored, new)
                shown = "NULL" if new is None else new.isoformat()
                self.stdout.write(f"{table} id={pk} {column}={stored} -> {shown}")
        if not found:
            self.stdout.write(self.style.SUCCESS("No stored date is out of range."))
            return
        if fix:
            self.stdout.write(
                self.style.SUCCESS(f"Repaired {found} value(s); each is in the audit trail (via repair).")
            )
            return
        raise CommandError(f"{found} stored value(s) out of range; rerun with --fix to repair them.", returncode=1)


def _is_late(stored) -> bool:
    """Past 9999 (clamp to the latest bound) rather than before 1900; "0044-03-15 ... BC" is early."""
    year = str(stored).strip().split("-", 1)[0]
    return year.isdigit() and int(year) > 9999


@transaction.atomic
def _repair(model, field, pk, stored, new) -> None:
    model._base_manager.filter(pk=pk).update(**{field.name: new})
    ids = {}
    for name in ("team", "account"):
        try:
            related = model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if related.is_relation and related.many_to_one:
            ids[name] = model._base_manager.filter(pk=pk).values_list(related.attname, flat=True).first()
    account_id = ids.get("account") if model._meta.label != "crm.Account" else pk
    AuditEvent.objects.create(
        actor=None,
        team_id=ids.get("team"),
        account_id=account_id,
        action=AuditEvent.Action.UPDATE,
        content_type=ContentType.objects.get_for_model(model),
        object_id=str(pk),
        object_repr=f"{model._meta.verbose_name} {pk}"[:200],
        changes={field.name: [str(stored), None if new is None else new.isoformat()]},
        via="repair",
    )
