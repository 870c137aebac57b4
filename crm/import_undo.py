"""Undo of a whole import run (the import core, crm/imports.py): allowed while no newer imported run
of the same format exists in the team and the format's importer implements `undo(run)` and agrees
(`undo_blocker(run)`); one transaction; the run then says `undone`."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.errors import ServiceError
from crm.imports import IMPORTERS, Importer
from crm.models import ImportRun

logger = logging.getLogger(__name__)


def undo_blocker(run: ImportRun) -> str:
    """Why this run cannot be undone ("" when it can)."""
    cls = IMPORTERS.get(run.kind)
    if cls is None or cls.undo is Importer.undo:
        return "imports of this format cannot be undone"
    if run.dry_run:
        return "a dry run wrote nothing"
    if run.status == ImportRun.Status.UNDONE:
        return "it is already undone"
    if run.status not in (ImportRun.Status.IMPORTED, ImportRun.Status.PARTIAL):
        return f"nothing was imported ({run.get_status_display().lower()})"
    newer = (
        ImportRun.objects.filter(
            team_id=run.team_id,
            kind=run.kind,
            dry_run=False,
            status__in=(ImportRun.Status.IMPORTED, ImportRun.Status.PARTIAL),
            started_at__gte=run.started_at,
        )
        .exclude(pk=run.pk)
        .order_by("started_at", "pk")
        .first()
    )
    if newer is not None:
        return f"import {newer.pk} is newer and builds on it; undo that first"
    importer = cls()
    importer.team = run.team
    return importer.undo_blocker(run)


def undo_run(run: ImportRun, *, actor=None) -> ImportRun:
    """Undo a whole run (ServiceError with the reason when it cannot be)."""
    try:
        return _undo(run, actor)
    except IntegrityError:
        # Rows the run created are now referred to by newer records (a ticket, a deal): nothing changed.
        logger.warning("import run %s: undo refused by the database", run.pk, exc_info=True)
        raise ServiceError(
            f"Import {run.pk} cannot be undone: newer records refer to customers it created.", code="conflict"
        ) from None


def _undo(run: ImportRun, actor) -> ImportRun:
    with transaction.atomic():
        run = ImportRun.objects.select_for_update().select_related("team").get(pk=run.pk)
        blocker = undo_blocker(run)
        if blocker:
            raise ServiceError(f"Import {run.pk} cannot be undone: {blocker}.", code="conflict")
        importer = IMPORTERS[run.kind]()
        importer.team = run.team
        importer.actor = actor if getattr(actor, "is_authenticated", False) else None
        importer.undo(run)
        run.status = ImportRun.Status.UNDONE
        run.undone_at = timezone.now()
        run.undone_by = importer.actor
        run.save(update_fields=["status", "undone_at", "undone_by"])
    importer.after_import(run)
    return run
