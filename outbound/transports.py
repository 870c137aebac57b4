"""The two ways a message leaves: SMTP for email, a signed webhook for every other channel.

Each transport raises TemporaryDeliveryError (retry with backoff), PermanentDeliveryError (fail
with the reason) or UncertainDeliveryError (the provider may have it: a person decides), and on
success returns the provider's reply as a small dict that is stored on the row.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib

import httpx
from django.conf import settings
from django.core.mail import EmailMessage

from outbound.errors import PermanentDeliveryError, TemporaryDeliveryError, UncertainDeliveryError
from outbound.models import Channel, Delivery


def setting(name: str):
    """OUTBOUND_<name>, else the older TICKETS_ name it replaces (kept working as a fallback)."""
    legacy = {
        "WEBHOOK_URL": "TICKETS_OUTBOUND_WEBHOOK_URL",
        "WEBHOOK_SECRET": "TICKETS_OUTBOUND_WEBHOOK_SECRET",
        "TIMEOUT_SECONDS": "TICKETS_OUTBOUND_TIMEOUT_SECONDS",
        "MAX_ATTEMPTS": "TICKETS_SEND_MAX_ATTEMPTS",
    }[name]
    return getattr(settings, f"OUTBOUND_{name}", None) or getattr(settings, legacy)


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_email(delivery: Delivery) -> dict:
    mail = EmailMessage(
        subject=delivery.subject,
        body=delivery.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.recipient],
        # The key as Message-ID lets a receiving system drop a copy it already has.
        headers={"Message-ID": f"<{delivery.key}@nexttouch>", "X-NextTouch-Delivery": delivery.key},
    )
    try:
        mail.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentDeliveryError(f"recipient refused: {exc}") from exc
    except smtplib.SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:
            raise TemporaryDeliveryError(f"SMTP {exc.smtp_code}") from exc
        raise PermanentDeliveryError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise TemporaryDeliveryError(f"{exc.__class__.__name__}: {exc}") from exc
    return {"transport": "smtp", "message_id": f"<{delivery.key}@nexttouch>"}


def send_webhook(delivery: Delivery) -> dict:
    url, secret = setting("WEBHOOK_URL"), setting("WEBHOOK_SECRET")
    if not url or not secret:
        raise PermanentDeliveryError(
            "OUTBOUND_WEBHOOK_URL and OUTBOUND_WEBHOOK_SECRET (or the older TICKETS_OUTBOUND_WEBHOOK_URL and "
            "_SECRET) must be set to send SMS, chat or phone messages"
        )
    payload = json.dumps(
        {
            **delivery.meta,
            "delivery": delivery.key,
            "channel": delivery.channel,
            "to": delivery.recipient,
            "subject": delivery.subject,
            "body": delivery.body,
        },
        separators=(",", ":"),
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "X-NextTouch-Signature": sign(payload, secret),
        "Idempotency-Key": delivery.key,
    }
    try:
        response = httpx.post(url, content=payload, headers=headers, timeout=setting("TIMEOUT_SECONDS"))
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol) as exc:
        raise TemporaryDeliveryError(f"{exc.__class__.__name__}: {exc}") from exc
    except httpx.HTTPError as exc:
        # The request may have been written and processed before the answer was lost.
        raise UncertainDeliveryError(f"{exc.__class__.__name__} after the request was sent: {exc}") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise TemporaryDeliveryError(f"webhook answered {response.status_code}")
    if response.status_code >= 400:
        raise PermanentDeliveryError(f"webhook refused: {response.status_code} {response.text[:200]}")
    return {"transport": "webhook", "status": response.status_code, "body": response.text[:500]}


def transport_for(channel: str):
    return send_email if channel == Channel.EMAIL else send_webhook
