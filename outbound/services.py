"""Sending workflows: queue a delivery, deliver it exactly once, and the people-side of failures.

The ledger argument (docs/outbound.md): a row is claimed with one conditional UPDATE before
anything leaves, so only one worker ever sends it; a worker that dies before the transport is
called leaves a row the recovery pass requeues safely; one that dies after it leaves a row marked
"uncertain", which only a person resolves ("mark as sent" or "send again").
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from outbound import consent, hooks, transports
from outbound.errors import (
    PermanentDeliveryError,
    SendRefused,
    TemporaryDeliveryError,
    UncertainDeliveryError,
)
from outbound.models import Delivery

log = logging.getLogger(__name__)

S = Delivery.Status


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def _enqueue(delivery_id: int, *, eta: datetime | None = None) -> None:
    # Looked up by name: tasks import services, never the reverse (no import circle).
    deliver_task = current_app.tasks["outbound.tasks.deliver_task"]
    if eta is None:
        deliver_task.delay_on_commit(delivery_id)
    else:
        transaction.on_commit(lambda: deliver_task.apply_async((delivery_id,), eta=eta))


@transaction.atomic
def queue_delivery(
    *,
    key: str,
    team,
    channel: str,
    recipient: str,
    body: str,
    subject: str = "",
    contact=None,
    source: str = "",
    source_id: int | None = None,
    actor=None,
    now: datetime | None = None,
    is_reply: bool = False,
    meta: dict | None = None,
) -> tuple[Delivery, bool]:
    """Queue one message for delivery. Idempotent on `key`: the same key returns the first row and
    False, whatever else differs. Consent is checked here (SendRefused names the reason); during
    the contact's quiet hours the row is held until they end. The send is enqueued on commit."""
    key = (key or "").strip()
    if not key:
        raise SendRefused("A delivery needs an idempotency key.", field="key")
    if len(key) > Delivery._meta.get_field("key").max_length:
        raise SendRefused("The idempotency key is longer than 200 characters.", field="key")
    existing = Delivery.objects.filter(key=key).first()
    if existing:
        return existing, False
    now = now or timezone.now()
    recipient = (recipient or consent.address_for(contact, channel)).strip()
    reason = consent.refusal(contact, channel, now, recipient=recipient, is_reply=is_reply)
    if reason:
        raise SendRefused(reason, field="recipient")
    if not (body or "").strip():
        raise SendRefused("The message is empty.", field="body")
    held = consent.hold_until(contact, now, is_reply=is_reply)
    try:
        with transaction.atomic():
            delivery = Delivery.objects.create(
                key=key,
                team=team,
                channel=channel,
                recipient=recipient[:254],
                subject=subject[:300],
                body=body,
                meta=meta or {},
                status=S.HELD if held else S.QUEUED,
                not_before=held,
                created_at=now,
                created_by=_user(actor),
                contact=contact,
                source=source,
                source_id=source_id,
                is_reply=is_reply,
            )
    except IntegrityError:
        # Two callers raced with one key: the loser returns the winner's row.
        return Delivery.objects.get(key=key), False
    _enqueue(delivery.pk, eta=held)
    return delivery, True


def _finish(delivery_id: int, event: str, **fields) -> bool:
    """Move a row out of "sending" (only the worker holding the claim can) and tell its listener."""
    moved = Delivery.objects.filter(pk=delivery_id, status=S.SENDING).update(**fields)
    if moved and event:
        hooks.notify(event, Delivery.objects.get(pk=delivery_id))
    return bool(moved)


def deliver(*, delivery_id: int, now: datetime | None = None) -> str:
    """Claim the row and send it. Returns sent, retry, failed, uncertain, refused, held or skipped.

    Only the caller whose conditional UPDATE moved the row to "sending" sends; a redelivered or
    concurrent task finds nothing to claim and returns "skipped".
    """
    now = now or timezone.now()
    claimed = (
        Delivery.objects.filter(pk=delivery_id, status__in=[S.QUEUED, S.HELD])
        .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
        .update(status=S.SENDING, attempts=F("attempts") + 1, claimed_at=now, handed_at=None)
    )
    if not claimed:
        status = Delivery.objects.filter(pk=delivery_id).values_list("status", flat=True).first()
        return "held" if status == S.HELD else "skipped"
    delivery = Delivery.objects.select_related("contact").get(pk=delivery_id)
    # An opt-out that arrived while the message waited still stops it.
    reason = consent.refusal(
        delivery.contact, delivery.channel, now, recipient=delivery.recipient, is_reply=delivery.is_reply
    )
    if reason:
        _finish(delivery_id, "failed", status=S.REFUSED, last_error=reason[:500])
        return "refused"
    # From this UPDATE on, the provider may have the message (see the module docstring).
    Delivery.objects.filter(pk=delivery_id, status=S.SENDING).update(handed_at=timezone.now())
    try:
        reply = transports.transport_for(delivery.channel)(delivery)
    except TemporaryDeliveryError as exc:
        retry = delivery.attempts < transports.setting("MAX_ATTEMPTS")
        _finish(
            delivery_id,
            "" if retry else "failed",
            status=S.QUEUED if retry else S.FAILED,
            last_error=str(exc)[:500],
            handed_at=None,
        )
        return "retry" if retry else "failed"
    except PermanentDeliveryError as exc:
        _finish(delivery_id, "failed", status=S.FAILED, last_error=str(exc)[:500])
        return "failed"
    except UncertainDeliveryError as exc:
        _finish(delivery_id, "uncertain", status=S.UNCERTAIN, last_error=str(exc)[:500])
        return "uncertain"
    _finish(delivery_id, "sent", status=S.SENT, sent_at=timezone.now(), last_error="", provider_reply=reply)
    return "sent"


RETRY_BACKOFF_MAX_SECONDS = 900  # outbound.tasks.RETRY_MAX_SECONDS (tasks import services, not the reverse)

STALLED_REASON = (
    "The worker stopped while sending: the provider may have accepted it. Check with the customer, "
    "then mark it as sent or send it again."
)


def recover_deliveries(*, now: datetime | None = None) -> dict:
    """The scheduled pass over rows a worker lost, and held rows now due.

    A row "sending" for longer than OUTBOUND_SENDING_LEASE_SECONDS has lost its worker (no live
    send lasts that long: transports time out well before). If the transport was never called it
    is requeued; if it was, it becomes "uncertain". Held rows whose time has come are enqueued.
    """
    now = now or timezone.now()
    lease = timedelta(seconds=settings.OUTBOUND_SENDING_LEASE_SECONDS)
    stalled = Delivery.objects.filter(status=S.SENDING, claimed_at__lt=now - lease)
    counts = {"requeued": 0, "uncertain": 0, "released": 0, "reenqueued": 0}
    with transaction.atomic():
        ids = list(stalled.filter(handed_at__isnull=True).values_list("pk", flat=True)[:1000])
        counts["requeued"] = Delivery.objects.filter(pk__in=ids, status=S.SENDING, handed_at__isnull=True).update(
            status=S.QUEUED, last_error="The worker stopped before sending; queued again."
        )
        for pk in ids:
            _enqueue(pk)
    uncertain_ids = list(stalled.filter(handed_at__isnull=False).values_list("pk", flat=True)[:1000])
    for pk in uncertain_ids:
        if Delivery.objects.filter(pk=pk, status=S.SENDING, handed_at__isnull=False).update(
            status=S.UNCERTAIN, last_error=STALLED_REASON
        ):
            counts["uncertain"] += 1
            hooks.notify("uncertain", Delivery.objects.get(pk=pk))
    # A queued row nobody claimed for a long time lost its task message (a worker killed after
    # fetching it: the broker redelivers only after its visibility timeout). Enqueue it again;
    # claim-before-send makes a duplicate task harmless. Rows waiting out a retry backoff (at most
    # 15 min after their last claim) are not touched.
    lost = Delivery.objects.filter(status=S.QUEUED).filter(
        Q(claimed_at__isnull=True, created_at__lt=now - lease)
        | Q(claimed_at__lt=now - lease - timedelta(seconds=RETRY_BACKOFF_MAX_SECONDS))
    )
    with transaction.atomic():
        ids = list(lost.values_list("pk", flat=True)[:1000])
        for pk in ids:
            _enqueue(pk)
        counts["reenqueued"] = len(ids)
    with transaction.atomic():
        due = list(Delivery.objects.filter(status=S.HELD, not_before__lte=now).values_list("pk", flat=True)[:1000])
        for pk in due:
            _enqueue(pk)
        counts["released"] = len(due)
    return counts


@transaction.atomic
def retry_delivery(*, actor, delivery: Delivery) -> bool:
    """Send again at a person's request: a failed row, or an uncertain one after they checked.
    Returns False when the row is in any other state (sent, queued, in flight)."""
    n = Delivery.objects.filter(pk=delivery.pk, status__in=[S.FAILED, S.UNCERTAIN]).update(
        status=S.QUEUED, attempts=0, last_error="", handed_at=None, resolved_by=_user(actor)
    )
    if n:
        _enqueue(delivery.pk)
    return bool(n)


@transaction.atomic
def confirm_sent(*, actor, delivery: Delivery) -> bool:
    """A person checked that an uncertain delivery did arrive: it is recorded as sent, not resent."""
    now = timezone.now()
    who = actor.get_username() if _user(actor) else "unknown"
    n = Delivery.objects.filter(pk=delivery.pk, status=S.UNCERTAIN).update(
        status=S.SENT,
        sent_at=now,
        resolved_by=_user(actor),
        provider_reply={**delivery.provider_reply, "confirmed_by": who, "confirmed_at": now.isoformat()},
    )
    if n:
        transaction.on_commit(lambda: hooks.notify("sent", Delivery.objects.get(pk=delivery.pk)))
    return bool(n)
