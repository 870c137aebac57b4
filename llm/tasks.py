"""Thin periodic tasks (beat entries under the llm marker in config/settings.py)."""

from celery import shared_task
from django.utils import timezone

from llm.models import CachedReply


@shared_task
def collect_batches_task() -> dict:
    """Collect ended Message Batches and hand each item to its feature's @bulk_handler."""
    from llm.gateway import collect_batches

    return collect_batches()


@shared_task
def purge_expired_cache_task() -> int:
    """Expired cache rows are never read again; drop them so the table stays small."""
    deleted, _ = CachedReply.objects.expired(timezone.now()).delete()
    return deleted
