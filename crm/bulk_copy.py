"""Bulk inserts by COPY on PostgreSQL (`bulk_create` elsewhere), for the features' set-based writers.

Django's `bulk_create` adapts every field of every row in Python and builds one large INSERT; COPY
streams the rows. Measured where it is used: ~0.4 ms a notification saved (bench/notifications/
analysis.py), and plans' JSON item lists stored faster than `bulk_create` could adapt them
(bench/plans)."""

from __future__ import annotations

import json

from django.db import connection
from django.db.models import JSONField
from django.utils import timezone


def insert_objects(model, objs: list, *, with_ids: bool = False) -> list:
    """Insert unsaved instances. Fields with `auto_now`/`auto_now_add` get the current time, as
    `bulk_create` gives them. With `with_ids`, primary keys are drawn from the sequence first and set
    on the objects; otherwise the objects get none back on PostgreSQL."""
    if not objs:
        return objs
    if connection.vendor != "postgresql":
        return model.objects.bulk_create(objs, batch_size=500)
    meta = model._meta
    now = timezone.now()
    stamped = [
        f.attname for f in meta.concrete_fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    for obj in objs:
        for name in stamped:
            setattr(obj, name, now)
    if with_ids:
        for obj, pk in zip(objs, next_ids(model, len(objs)), strict=True):
            obj.pk = pk
    names = [f.attname for f in meta.concrete_fields if not f.primary_key or with_ids]
    copy_rows(model, [{n: getattr(obj, n) for n in names} for obj in objs])
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
    return objs


def next_ids(model, n: int) -> list[int]:
    """`n` primary keys drawn from the model's sequence (PostgreSQL), for rows COPY will insert."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, n],
        )
        return [pk for (pk,) in cur.fetchall()]


def copy_rows(model, rows: list[dict]) -> None:
    """COPY rows (attname: value; a field the first row lacks gets its default) into the model's
    table (PostgreSQL). JSON fields are serialised here."""
    if not rows:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key or f.attname in rows[0]]
    defaults = {f.attname: f.get_default() for f in fields if f.attname not in rows[0]}
    json_fields = {f.attname for f in fields if isinstance(f, JSONField)}
    names = [f.attname for f in fields]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    with (
        connection.cursor() as cur,
        cur.cursor.copy(f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            row = {**defaults, **row} if defaults else row
            copy.write_row([json.dumps(row[n]) if n in json_fields else row[n] for n in names])
