"""Thin periodic tasks (beat entries under the llm marker in config/settings.py)."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from llm.models import CachedReply, LLMCall

PRUNE_CHUNK = 5_000


@shared_task
def collect_batches_task() -> dict:
    """Collect ended Message Batches and hand each item to its feature's @bulk_handler."""
    from llm.bulk import collect_batches

    return collect_batches()


@shared_task
def purge_expired_cache_task() -> int:
    """Expired cache rows are never read again; drop them so the table stays small."""
    deleted, _ = CachedReply.objects.expired(timezone.now()).delete()
    return deleted


@shared_task
def prune_ledger_task() -> int:
    """Delete ledger rows older than LLM_LEDGER_RETENTION_DAYS, a chunk per statement so no single
    transaction holds millions of rows (and a rerun after an interruption just carries on)."""
    days = settings.LLM_LEDGER_RETENTION_DAYS
    if not days:
        return 0
    old = LLMCall.objects.filter(created_at__lt=timezone.now() - timedelta(days=days))
    deleted = 0
    while ids := list(old.order_by("pk").values_list("pk", flat=True)[:PRUNE_CHUNK]):
        deleted += LLMCall.objects.filter(pk__in=ids).delete()[0]
    return deleted
