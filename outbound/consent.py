"""Consent in one place: whether a message may go to this contact on this channel, and when.

Pure functions of plain values and `now` (no queries): `queue_delivery` calls them when a row is
queued and `deliver` again just before sending, so an opt-out that arrives while a message is held
still stops it.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta

from django.conf import settings

from outbound.models import Channel

# Channels whose address is a phone number; chat reaches the customer wherever they last wrote from.
PHONE_CHANNELS = {Channel.SMS, Channel.PHONE, Channel.WHATSAPP}
# Built once: `Channel.values` makes a new list on every access, and `refusal` runs twice per delivery.
CHANNELS = frozenset(Channel.values)
_ALLOWED = ", ".join(Channel.values)


def address_for(contact, channel: str) -> str:
    """The contact's address on a channel ("" when they have none there)."""
    if contact is None:
        return ""
    if channel == Channel.EMAIL:
        return contact.email
    if channel in PHONE_CHANNELS:
        return contact.phone
    if channel == Channel.CHAT:
        return contact.phone or contact.email
    return ""


def refusal(contact, channel: str, now: datetime | None = None, *, recipient: str = "", is_reply: bool = False):
    """Why this message may not be sent, or None. `now` is accepted for rules that depend on the
    time (quiet hours hold rather than refuse, see `quiet_until`)."""
    if channel not in CHANNELS:
        return f"Unknown channel {channel!r}. Allowed: {_ALLOWED}."
    if contact is not None and contact.opted_out and not is_reply:
        return f"{contact.name} asked not to be contacted."
    if channel == Channel.WEBHOOK:
        return None  # the integration behind the webhook routes it; no customer address needed
    if not (recipient or address_for(contact, channel)):
        who = contact.name if contact is not None else "The recipient"
        return f"{who} has no address for {Channel(channel).label}."
    return None


def contact_zone(contact) -> zoneinfo.ZoneInfo:
    name = (getattr(contact, "time_zone", "") or settings.OUTBOUND_DEFAULT_TIME_ZONE or settings.TIME_ZONE).strip()
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        # Validated on input; a name the server's tz database lost since falls back, never crashes a send.
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def quiet_until(now: datetime, zone: zoneinfo.ZoneInfo, *, start: int, end: int) -> datetime | None:
    """When quiet hours (local hours [start, end), wrapping midnight when start > end) are on at
    `now` in `zone`, the aware instant they end; else None. start == end means no quiet hours."""
    if start == end:
        return None
    local = now.astimezone(zone)
    hour = local.hour
    quiet = (start <= hour < end) if start < end else (hour >= start or hour < end)
    if not quiet:
        return None
    day = local.date() if hour < end else local.date() + timedelta(days=1)
    # Built from the wall clock then localised: across a DST change the morning is still `end`:00.
    ends = datetime.combine(day, time(end), tzinfo=zone)
    return ends.astimezone(now.tzinfo or zoneinfo.ZoneInfo("UTC"))


def hold_until(contact, now: datetime, *, is_reply: bool = False) -> datetime | None:
    """Quiet hours in the contact's time zone; replies are never held (the customer is waiting)."""
    if is_reply:
        return None
    return quiet_until(
        now,
        contact_zone(contact),
        start=settings.OUTBOUND_QUIET_HOURS_START,
        end=settings.OUTBOUND_QUIET_HOURS_END,
    )
