"""Channel rules for action plans, pure (the seed's "channel best practices").

- email: Tue-Thu 10:00-14:00; needs an address.
- phone: Tue-Thu 10:00-11:00 or 16:00-17:00; needs a number.
- LinkedIn: weekday mornings (08:00-12:00); new relationships and casual check-ins.
- WhatsApp: brief and casual, existing relationships only (the contact prefers it, or has
  written to us before) and a number.
A contact who opted out gets no proactive action on any channel. The contact's preferred channel
comes first when it is allowed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

CHANNELS = ("email", "phone", "linkedin", "whatsapp")
# (weekdays with Monday = 0, [(start hour, end hour)])
WINDOWS = {
    "email": ((1, 2, 3), ((10, 14),)),
    "phone": ((1, 2, 3), ((10, 11), (16, 17))),
    "linkedin": ((0, 1, 2, 3, 4), ((8, 12),)),
    "whatsapp": ((0, 1, 2, 3, 4), ((9, 18),)),
}
RULES_TEXT = (
    "Email: detailed information, proposals, content; best Tue-Thu 10:00-14:00.\n"
    "Phone: complex discussions, negotiation, urgency; best Tue-Thu 10:00-11:00 or 16:00-17:00; "
    "script with opening, discovery and close.\n"
    "LinkedIn: new relationships, casual check-ins, content; weekday mornings; professional but "
    "conversational.\n"
    "WhatsApp: existing relationships only, quick questions; brief, casual, emoji-friendly.\n"
    "Never contact someone who opted out; prefer each contact's preferred channel."
)
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Reach:
    """One contact and the channels a plan may use for them, best first."""

    name: str
    title: str
    channels: tuple[str, ...]
    preferred: str
    primary: bool


def reachable(contacts: list[dict], timeline: list[dict]) -> list[Reach]:
    """Contacts from `summary.deal_data`, opted-out ones removed, primary first."""
    wrote = {t["contact"] for t in timeline if t["direction"] == "in" and t["contact"]}
    wrote |= {t["contact"] for t in timeline if t["kind"] == "whatsapp" and t["contact"]}
    out = []
    for c in contacts:
        if c["opted_out"]:
            continue
        allowed = []
        if c["email"]:
            allowed.append("email")
        if c["has_phone"]:
            allowed.append("phone")
        allowed.append("linkedin")
        if c["has_phone"] and (c["preferred_channel"] == "whatsapp" or c["name"] in wrote):
            allowed.append("whatsapp")
        preferred = c["preferred_channel"] if c["preferred_channel"] in allowed else allowed[0]
        ordered = (preferred, *[ch for ch in allowed if ch != preferred])
        out.append(Reach(c["name"], c["title"], ordered, c["preferred_channel"], c["primary"]))
    out.sort(key=lambda r: not r.primary)
    return out


def _window(hours) -> str:
    return " or ".join(f"{a:02d}:00–{b:02d}:00" for a, b in hours)


def _day(d: datetime) -> str:
    return f"{DAY_NAMES[d.weekday()]} {d.day} {d.strftime('%B')}"


def slots(now: datetime) -> dict[str, dict[str, str]]:
    """For each channel: when to act today (empty when today is outside its window), the general
    days of this week left, and next week's best day. `now` in the team's local time. They depend
    on the date and the hour only: computed once per hour (a bulk run plans thousands of deals)."""
    return {channel: dict(slot) for channel, slot in _slots(now.date(), now.hour).items()}


@functools.lru_cache(maxsize=64)
def _slots(day: date, hour: int) -> dict[str, dict[str, str]]:
    now = datetime.combine(day, time(hour))
    out = {}
    monday_next = (now - timedelta(days=now.weekday()) + timedelta(days=7)).replace(hour=0, minute=0)
    for channel, (days, hours) in WINDOWS.items():
        today = ""
        if now.weekday() in days:
            left = [(a, b) for a, b in hours if now.hour < b]
            if left:
                today = f"Today {_window(left)}"
        later = [now + timedelta(days=i) for i in range(1, 7 - now.weekday()) if (now.weekday() + i) in days]
        week = ", ".join(DAY_NAMES[d.weekday()] for d in later)
        next_day = monday_next + timedelta(days=days[0])
        best_next = _day(next_day)
        # With no day left this week, P1 moves to early next week and P2 to the week after.
        p2_day = _day(next_day + timedelta(days=7)) if not later else best_next
        out[channel] = {
            "today": today,
            "p0": today or f"Today (outside the best window; if it can wait: {best_next} {_window(hours)})",
            "this_week": f"This week: {week} {_window(hours)}"
            if week
            else f"Early next week: {best_next} {_window(hours)}",
            "next_week": f"{'Next week' if later else 'The week after'}: {p2_day} {_window(hours)}",
        }
    return out
