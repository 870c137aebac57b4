"""The checks a draft must pass before it is approved or sent. Pure: plain values in, a list of
failures (check, reason) out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from llm.guardrails import find_invented
from notifications.spelling import american_words

# Characters per channel: two SMS segments; a chat bubble an agent would still send whole; an
# email that fits one screen without scrolling; a phone script read in about a minute.
CHANNEL_LIMITS = {"sms": 320, "chat": 600, "whatsapp": 600, "email": 1200, "phone": 800}
CLASH_DAYS = 7

_OFFER_WORDS = re.compile(
    r"\b(discount|credit|cashback|cash back|reward|voucher|free of charge|for free|off your|saving of|fixed saver|"
    r"payment plan|loyalty)\b",
    re.IGNORECASE,
)
_MONEY_OR_PCT = re.compile(r"£\s?\d[\d,]*(?:\.\d+)?|\d+(?:\.\d+)?\s?(?:%|per cent)", re.IGNORECASE)

CHECK_LABELS = {
    "empty": "Message is empty",
    "british_spelling": "British spelling",
    "channel_limit": "Channel limit",
    "invented_fact": "No invented facts",
    "offer": "Offer in Recommended Actions",
    "history_clash": "No clash with notification history",
    "consent": "Consent",
}


@dataclass(frozen=True)
class Failure:
    check: str
    reason: str

    def as_dict(self) -> dict:
        return {"check": self.check, "label": CHECK_LABELS[self.check], "reason": self.reason}


def limit_for(channel: str) -> int:
    return CHANNEL_LIMITS.get(channel, CHANNEL_LIMITS["email"])


def offer_mentions(text: str) -> list[str]:
    return [m.group(0) for m in _OFFER_WORDS.finditer(text)] + [m.group(0) for m in _MONEY_OR_PCT.finditer(text)]


def check_offer(text: str, offers: list[str]) -> str:
    """ "" when every offer-like phrase in `text` is backed by one of the customer's recommended offers."""
    offers_text = " ".join(o.lower() for o in offers if o)
    for phrase in offer_mentions(text):
        if phrase.lower().replace(" ", "") not in offers_text.replace(" ", ""):
            return f"mentions “{phrase}”, which no recommended action for this customer offers"
    return ""


def check_message(
    *,
    subject: str,
    body: str,
    channel: str,
    sources: list[str],
    offers: list[str],
    history: list[tuple[date, str]],
    today: date,
    consent_refusal: str = "",
) -> list[Failure]:
    failures: list[Failure] = []
    if not body.strip():
        return [Failure("empty", "the message is empty")]
    american = american_words(f"{subject}\n{body}")
    if american:
        failures.append(Failure("british_spelling", "American spelling: " + ", ".join(american)))
    limit = limit_for(channel)
    if len(body) > limit:
        failures.append(Failure("channel_limit", f"{len(body)} characters; {channel} allows {limit}"))
    invented = find_invented([subject, body], sources)
    if invented:
        failures.append(
            Failure("invented_fact", "not in the customer's data: " + ", ".join(f.split(":", 2)[2] for f in invented))
        )
    offer = check_offer(f"{subject}\n{body}", offers)
    if offer:
        failures.append(Failure("offer", offer))
    wanted = _norm(subject)
    for sent_on, past in history:
        if wanted and _norm(past) == wanted and 0 <= (today - sent_on).days <= CLASH_DAYS:
            failures.append(Failure("history_clash", f"“{past}” was already sent on {sent_on:%d %B %Y}"))
            break
    if consent_refusal:
        failures.append(Failure("consent", consent_refusal))
    return failures


def _norm(subject: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", subject.lower()).split())
