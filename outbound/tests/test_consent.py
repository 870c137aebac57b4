import zoneinfo
from datetime import datetime

import pytest

from crm.models import Contact
from outbound import consent
from outbound.models import Channel

UTC = zoneinfo.ZoneInfo("UTC")
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    "now, zone, start, end, expected",
    [
        # 20:30 UTC is 21:30 in Paris (winter): quiet until 08:00 Paris = 07:00 UTC next day.
        (datetime(2026, 1, 14, 20, 30, tzinfo=UTC), PARIS, 21, 8, datetime(2026, 1, 15, 7, 0, tzinfo=UTC)),
        # 03:00 UTC is 04:00 Paris: quiet until 08:00 Paris the same day.
        (datetime(2026, 1, 15, 3, 0, tzinfo=UTC), PARIS, 21, 8, datetime(2026, 1, 15, 7, 0, tzinfo=UTC)),
        # 12:00 UTC is 13:00 Paris: not quiet.
        (datetime(2026, 1, 15, 12, 0, tzinfo=UTC), PARIS, 21, 8, None),
        # The same instant is 22:00 the previous evening in New York: quiet until 08:00 there (13:00 UTC).
        (datetime(2026, 1, 15, 3, 0, tzinfo=UTC), NEW_YORK, 21, 8, datetime(2026, 1, 15, 13, 0, tzinfo=UTC)),
        # The end hour itself is no longer quiet.
        (datetime(2026, 1, 15, 7, 0, tzinfo=UTC), PARIS, 21, 8, None),
        # A window that does not wrap midnight (12:00 to 14:00).
        (datetime(2026, 1, 15, 12, 30, tzinfo=UTC), UTC, 12, 14, datetime(2026, 1, 15, 14, 0, tzinfo=UTC)),
        # Equal hours: no quiet hours at all.
        (datetime(2026, 1, 15, 3, 0, tzinfo=UTC), PARIS, 0, 0, None),
        # The night the clocks go forward in Paris (29 March 2026): 08:00 local is 06:00 UTC.
        (datetime(2026, 3, 29, 1, 30, tzinfo=UTC), PARIS, 21, 8, datetime(2026, 3, 29, 6, 0, tzinfo=UTC)),
    ],
)
def test_quiet_hours_end_at_the_contacts_local_morning(now, zone, start, end, expected):
    assert consent.quiet_until(now, zone, start=start, end=end) == expected


@pytest.mark.parametrize(
    "email, phone, channel, expected",
    [
        ("a@example.com", "", "email", "a@example.com"),
        ("a@example.com", "+1 555", "sms", "+1 555"),
        ("a@example.com", "", "sms", ""),
        ("a@example.com", "", "chat", "a@example.com"),
        ("", "+1 555", "whatsapp", "+1 555"),
        ("a@example.com", "+1 555", "linkedin", ""),
    ],
)
def test_address_for_each_channel(email, phone, channel, expected):
    assert consent.address_for(Contact(name="X", email=email, phone=phone), channel) == expected


def test_refusal_reasons_name_what_is_wrong():
    dana = Contact(name="Dana", email="dana@example.com", opted_out=True)
    assert "asked not to be contacted" in consent.refusal(dana, "email")
    assert consent.refusal(dana, "email", is_reply=True) is None  # a reply to her own message
    assert "no address for SMS" in consent.refusal(Contact(name="Dana", email="d@example.com"), "sms")
    assert "Unknown channel" in consent.refusal(dana, "pigeon")
    assert consent.refusal(None, "webhook") is None


def test_blank_time_zone_uses_the_default(settings):
    settings.OUTBOUND_DEFAULT_TIME_ZONE = "Asia/Tokyo"
    assert consent.contact_zone(Contact(time_zone="")).key == "Asia/Tokyo"
    assert consent.contact_zone(Contact(time_zone="Europe/Paris")).key == "Europe/Paris"


def test_refusal_checks_the_channel_without_rebuilding_the_channel_list(monkeypatch):
    channels = list(Channel.values)
    built = []
    original = type(Channel).values
    monkeypatch.setattr(type(Channel), "values", property(lambda cls: built.append(1) or original.fget(cls)))
    contact = Contact(name="Dana", email="dana@example.com", phone="+441234")
    for channel in channels * 3:
        assert "Unknown channel" not in (consent.refusal(contact, channel) or "")
    message = consent.refusal(contact, "pigeon")
    assert built == []
    assert message == f"Unknown channel 'pigeon'. Allowed: {', '.join(channels)}."
