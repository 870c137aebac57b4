"""Pure rules for the inbox: keywords for topic alerts, channel limits, SLA state, escalation, edit distance.

No I/O: plain values in, dataclasses or plain values out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

# --- Keywords for topic alerts -------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)
STOPWORDS = frozenset(
    "a an and are as at be been but by can could do does for from had has have hello hi i if in into is it its "
    "just me my of on or our please so that the their them then there this to was we were what when which who "
    "will with would you your".split()
)
MAX_KEYWORDS = 200  # per ticket: enough for a long email thread's distinct words and pairs
MAX_KEYWORD_LENGTH = 60


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text or "")]


def keywords(text: str) -> list[str]:
    """Distinct unigrams (minus stopwords) and adjacent word pairs, in first-seen order.

    Pairs let an alert like "wrong address" match only where the words are adjacent.
    """
    seen: dict[str, None] = {}
    tokens = words(text)
    for i, token in enumerate(tokens):
        if token not in STOPWORDS and len(token) > 1:
            seen.setdefault(token[:MAX_KEYWORD_LENGTH], None)
        if i + 1 < len(tokens):
            seen.setdefault(f"{token} {tokens[i + 1]}"[:MAX_KEYWORD_LENGTH], None)
        if len(seen) >= MAX_KEYWORDS:
            break
    return list(seen)[:MAX_KEYWORDS]


@dataclass(frozen=True)
class AlertTerms:
    terms: list[str]
    rejected: list[str]


def parse_alert_terms(raw: str | list[str] | None, *, limit: int = 20) -> AlertTerms:
    """ "chargeback, fraud, Wrong Address" -> ["chargeback", "fraud", "wrong address"].

    A term is one or two words (matched as a precomputed unigram or adjacent pair); longer terms and
    stopwords are reported in `rejected` rather than silently matching nothing.
    """
    parts = raw if isinstance(raw, list) else (raw or "").split(",")
    terms: list[str] = []
    rejected: list[str] = []
    for part in parts:
        tokens = words(str(part))
        if not tokens:
            continue
        term = " ".join(tokens)
        if len(tokens) > 2 or (len(tokens) == 1 and (tokens[0] in STOPWORDS or len(tokens[0]) < 2)):
            rejected.append(str(part).strip())
        elif term not in terms:
            terms.append(term[:MAX_KEYWORD_LENGTH])
    return AlertTerms(terms[:limit], rejected + [t for t in terms[limit:]])


# --- Channel rules for replies and drafts ------------------------------------------------------


@dataclass(frozen=True)
class ChannelRule:
    channel: str
    tone: str
    max_chars: int | None
    max_words: int | None
    needs_greeting: bool = False
    needs_signature: bool = False
    style: str = ""

    @property
    def limit_text(self) -> str:
        return f"{self.max_chars} characters" if self.max_chars else f"{self.max_words} words"


CHANNEL_RULES = {
    "sms": ChannelRule("sms", "casual", 160, None, style="casual, abbreviations fine, straight to the point"),
    "email": ChannelRule(
        "email", "professional", None, 200, True, True, style="professional but warm, greeting and signature"
    ),
    "chat": ChannelRule("chat", "friendly", None, 100, style="friendly, short paragraphs, conversational"),
    "phone": ChannelRule("phone", "conversational", None, 75, style="a call script: natural speech, empathy"),
}
GREETING = re.compile(r"^\s*(hi|hello|dear|good (morning|afternoon|evening)|hey)\b", re.IGNORECASE)
SIGN_OFF = re.compile(r"(regards|best|thanks|thank you|sincerely|cheers|warmly)[,!.]?\s*\n+\s*\S", re.IGNORECASE)


def word_count(text: str) -> int:
    return len((text or "").split())


def check_reply(channel: str, text: str, *, draft: bool = False) -> list[str]:
    """Problems that stop a reply being sent (or a draft being shown); empty when it fits the channel.

    Sending only enforces emptiness and length; a draft must also follow the channel's form.
    """
    rule = CHANNEL_RULES[channel]
    body = (text or "").strip()
    if not body:
        return ["The reply is empty."]
    problems = []
    if rule.max_chars and len(body) > rule.max_chars:
        problems.append(f"{channel.upper()} replies are limited to {rule.max_chars} characters ({len(body)} given).")
    if rule.max_words and word_count(body) > rule.max_words:
        problems.append(f"{channel.title()} replies are limited to {rule.max_words} words ({word_count(body)} given).")
    if draft and rule.needs_greeting and not GREETING.search(body):
        problems.append("An email draft must open with a greeting.")
    if draft and rule.needs_signature and not SIGN_OFF.search(body):
        problems.append("An email draft must end with a sign-off and signature.")
    return problems


# --- SLA -----------------------------------------------------------------------------------------

SLA_DUE_SOON_SHARE = 0.75  # "due soon" once three quarters of the target is used: time to act


@dataclass(frozen=True)
class SlaState:
    state: str  # "none", "ok", "due_soon", "breached"
    label: str


def sla_state(*, due_at: datetime | None, target_seconds: float, now: datetime) -> SlaState:
    if due_at is None or target_seconds <= 0:
        return SlaState("none", "no reply due")
    left = (due_at - now).total_seconds()
    if left < 0:
        return SlaState("breached", f"breached {human_duration(-left)} ago")
    if left <= target_seconds * (1 - SLA_DUE_SOON_SHARE):
        return SlaState("due_soon", f"due in {human_duration(left)}")
    return SlaState("ok", f"due in {human_duration(left)}")


def human_duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    if seconds < 3600:
        return f"{max(1, seconds // 60)} min"
    if seconds < 86400 * 2:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 86400} days"


def due_at(start: datetime, minutes: int) -> datetime:
    return start + timedelta(minutes=minutes)


# --- Escalation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EscalationDecision:
    escalate: bool
    reason: str


def escalation(
    *,
    churn_risk: float,
    sentiment: float | None,
    lifetime_value: float,
    min_churn: float,
    max_sentiment: float,
    min_ltv: float,
    enabled: bool = True,
) -> EscalationDecision:
    if not enabled:
        return EscalationDecision(False, "auto-escalation is switched off")
    if sentiment is None:
        return EscalationDecision(False, "sentiment unknown")
    if churn_risk >= min_churn and sentiment < max_sentiment and lifetime_value >= min_ltv:
        return EscalationDecision(
            True,
            f"churn risk {churn_risk:.0%} ≥ {min_churn:.0%}, sentiment {sentiment:.2f} < {max_sentiment:g}, "
            f"lifetime value {lifetime_value:,.0f} ≥ {min_ltv:,.0f}",
        )
    return EscalationDecision(False, "below the escalation thresholds")


# --- Edit distance -------------------------------------------------------------------------------


def word_edit_distance(a: str, b: str) -> int:
    """Levenshtein distance over words: how many words the agent inserted, deleted or replaced.

    Word level keeps it cheap (a 200-word email is 40,000 steps, not 1.4 million over characters)
    and matches what a reviewer means by "how much was changed".
    """
    x, y = (a or "").split(), (b or "").split()
    if len(x) < len(y):
        x, y = y, x
    previous = list(range(len(y) + 1))
    for i, wx in enumerate(x, 1):
        current = [i]
        for j, wy in enumerate(y, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (wx != wy)))
        previous = current
    return previous[-1]


def edit_ratio(a: str, b: str) -> float:
    """0 = sent as drafted, 1 = every word changed."""
    longest = max(len((a or "").split()), len((b or "").split()))
    return word_edit_distance(a, b) / longest if longest else 0.0


# Six words in a row from the customer's text is a quotation, not a coincidence: an order number
# with its status ("order 54321 is late") stays well below it.
QUOTE_MIN_WORDS = 6
_WORD = re.compile(r"\w+", re.UNICODE)


def quoted_span(content: str, texts: list[str], *, min_words: int = QUOTE_MIN_WORDS) -> str:
    """The first run of `min_words` consecutive words of any of `texts` found in `content` ("" if none).

    Drafts may state our records' facts but never repeat a customer's words (issue 10): this is
    the check, case-insensitive and blind to punctuation."""
    words = [w.lower() for w in _WORD.findall(content)]
    grams = {tuple(words[i : i + min_words]) for i in range(len(words) - min_words + 1)}
    if not grams:
        return ""
    for text in texts:
        theirs = [w.lower() for w in _WORD.findall(text or "")]
        for i in range(len(theirs) - min_words + 1):
            if tuple(theirs[i : i + min_words]) in grams:
                return " ".join(theirs[i : i + min_words])
    return ""
