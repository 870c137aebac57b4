"""Checks shared by every AI feature. Pure functions over strings; the gateway records what they find
in `LLMResult.flags` and in the usage ledger.

- `looks_like_injection(text)` (llm/injection.py): customer text that tries to instruct the model,
  after normalising (NFKC, look-alikes, invisible characters, spaced letters, base64) and in seven
  languages. The item is tagged for human review; nothing is ever done because of it.
- `find_invented(outputs, sources)`: seed 5's "never invents" rule. Names, phone numbers, email
  addresses, amounts (and percentages) and dates in a reply that appear nowhere in what the model
  was given. Heuristic by design: a flag sends the draft to a human, it does not block it (unless
  the feature asks with `grounding="fallback"`).
- `limit_output(text, max_chars)`: the output length limit, cut at a sentence end.
"""

from __future__ import annotations

import re
from datetime import date, time
from decimal import Decimal, InvalidOperation
from functools import cached_property, lru_cache

from llm.injection import looks_like_injection
from llm.openers import ORDINARY_OPENERS

__all__ = ["find_invented", "limit_output", "looks_like_injection", "screen_inputs"]

# --- prompt injection ------------------------------------------------------------------------
# The screen itself (normalising, seven languages, decoded chunks) is llm/injection.py.


def screen_inputs(values: dict[str, object]) -> list[str]:
    """Names of the inputs that look like injection attempts.

    A structured value (list, dict) is screened text by text (each string in it, keys too), not as
    its JSON: the screen of a whole record's JSON ran the full pattern set over every key name (~4 ms
    a customer with ten interactions, bench/notifications); text by text, the anchor-word gate skips
    most strings and repeated ones are memoised (~0.2 ms). A text with line breaks is also screened
    with them as spaces: the patterns read "ignore all previous instructions" on one line, and only
    JSON's escaping (the two characters `\\n`) had let some split ones match."""
    return [name for name, value in values.items() if _any_injection(value)]


_NO_TEXT = (bool, int, float, Decimal, date, time)
_BREAKS = re.compile(r"[\r\n]+")
# Texts already screened, for the strings that recur across items (categories, subjects, key names):
# a dict lookup is cheaper than the screen's own memo call. Bounded: cleared when full.
_SCREENED: dict[str, bool] = {}
_SCREENED_MAX = 50_000
_SCREENED_MAX_CHARS = 500


def _text_injection(text: str) -> bool:
    known = _SCREENED.get(text)
    if known is not None:
        return known
    found = looks_like_injection(text) or (
        ("\n" in text or "\r" in text) and looks_like_injection(_BREAKS.sub(" ", text))
    )
    if len(text) <= _SCREENED_MAX_CHARS:
        if len(_SCREENED) >= _SCREENED_MAX:
            _SCREENED.clear()
        _SCREENED[text] = found
    return found


_CONTAINERS = (list, tuple, set, frozenset)


def _strings(value) -> set[str]:
    """Every distinct string in a structured value (dict keys too)."""
    found: set[str] = set()
    stack = [value]
    pop, push, add = stack.pop, stack.append, found.add
    while stack:
        v = pop()
        if isinstance(v, str):
            add(v)
        elif isinstance(v, dict):
            for k, item in v.items():
                add(k if isinstance(k, str) else str(k))
                if isinstance(item, str):
                    add(item)
                elif not (item is None or isinstance(item, _NO_TEXT)):
                    push(item)
        elif isinstance(v, _CONTAINERS):
            for item in v:
                if isinstance(item, str):
                    add(item)
                elif not (item is None or isinstance(item, _NO_TEXT)):
                    push(item)
        elif not (v is None or isinstance(v, _NO_TEXT)):
            add(str(v))
    found.discard("")
    return found


def _any_injection(value) -> bool:
    if isinstance(value, str):
        return bool(value) and _text_injection(value)
    if value is None or isinstance(value, _NO_TEXT):
        return False
    seen = _SCREENED
    return any(seen[t] if t in seen else _text_injection(t) for t in _strings(value))


# --- output length ---------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.!?…](?=\s)|\n")


def limit_output(text: str, max_chars: int) -> tuple[str, bool]:
    """(text, was_cut). Cut at the last sentence end inside the limit, else at a word boundary."""
    if len(text) <= max_chars:
        return text, False
    head = text[:max_chars]
    ends = [m.end() for m in _SENTENCE_END.finditer(head)]
    if ends and ends[-1] > max_chars // 2:
        return head[: ends[-1]].rstrip(), True
    space = head.rfind(" ")
    return (head[:space] if space > max_chars // 2 else head).rstrip() + "…", True


# --- never invents ---------------------------------------------------------------------------

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for m in names
}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE = re.compile(
    r"\b(?P<iy>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2})"
    r"|\b(?P<a>\d{1,2})[/.](?P<b>\d{1,2})[/.](?P<c>\d{2,4})\b"
    rf"|\b(?P<dd>\d{{1,2}})(?:st|nd|rd|th)?(?: of)? (?P<dm>{_MONTH_RE})\.?(?:,? (?P<dy>\d{{4}}))?\b"
    rf"|\b(?P<mm>{_MONTH_RE})\.? (?P<md>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,? (?P<my>\d{{4}}))?",
    re.IGNORECASE,
)
_PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\d[\d\s().-]{5,}\d(?![\w])")
_AMOUNT = re.compile(
    r"(?P<cur>[£$€])\s?(?P<n1>\d[\d,]*(?:\.\d+)?)\s?(?P<m1>k|m|bn|million|thousand)?\b"
    r"|\b(?P<n2>\d[\d,]*(?:\.\d+)?)\s?(?P<m2>k|m|million|thousand)?\s?(?P<code>EUR|USD|GBP|euros?|dollars?|pounds?)\b"
    r"|\b(?P<n3>\d+(?:\.\d+)?)\s?(?P<pct>%|per ?cent)",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_NAME = re.compile(r"\b[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?(?:\s+[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?){1,2}\b")
# Where a sentence starts: the text's start, after a sentence end or a line break, past any opening
# quote, bracket or bullet. A word standing there is capitalised for its place, not as a name.
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|\n)[\s\"“‘(*•–-]*")
_GREETING_NAME = re.compile(r"\b(?:Hi|Hello|Dear|Hey|Morning|Afternoon|Evening)\s+(?P<name>[A-Z][a-z]+)\b")
_MULT = {"k": 1000, "thousand": 1000, "m": 1_000_000, "million": 1_000_000, "bn": 1_000_000_000}
# Capitalised words that are not people's or companies' names (sentence starts, sign-offs, roles).
_COMMON = set(
    """a an the our your my we i you they he she it this that these those thank thanks hi hello dear hey kind
    best warm many regards sincerely cheers please good morning afternoon evening team customer customers
    support service services success sales account manager management director head department office
    monday tuesday wednesday thursday friday saturday sunday today tomorrow yesterday next last week month
    year quarter q1 q2 q3 q4 mr mrs ms miss dr prof sir madam re fwd subject order invoice contract renewal
    proposal meeting call email phone update follow up let me us if as at on in for of to with and or but
    also just here there as ok yes no note action priority urgent important routine high medium low
    p0 p1 p2 energy billing payment plan tariff price pricing offer discount product products""".split()
) | set(_MONTHS)
_OPENERS = ORDINARY_OPENERS | _COMMON


def _dates(text: str) -> set[tuple[int | None, int, int]]:
    found = set()
    for m in _DATE.finditer(text):
        try:
            if m["iy"]:
                found.add((int(m["iy"]), int(m["im"]), int(m["id"])))
            elif m["a"]:
                year = int(m["c"]) + (2000 if len(m["c"]) == 2 else 0)
                a, b = int(m["a"]), int(m["b"])
                found.add((year, b, a))  # day/month (British)
                found.add((year, a, b))  # month/day
            elif m["dm"]:
                found.add((int(m["dy"]) if m["dy"] else None, _MONTHS[m["dm"].lower()], int(m["dd"])))
            else:
                found.add((int(m["my"]) if m["my"] else None, _MONTHS[m["mm"].lower()], int(m["md"])))
        except (KeyError, ValueError):
            continue
    return found


def _to_decimal(raw: str, mult: str | None = None) -> Decimal | None:
    try:
        value = Decimal(raw.replace(",", ""))
    except InvalidOperation:
        return None
    return value * _MULT.get((mult or "").lower(), 1)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


class _Sources:
    """What the model was given, indexed on demand: each part is built the first time an output
    needs it (a draft without a phone number never pays for the phone index) and kept with the
    sources (`_index` reuses it for the same sources: approve, then send, checks a draft twice)."""

    def __init__(self, sources: tuple[str, ...]):
        self.text = "\n".join(s for s in sources if s)
        self.lower = self.text.lower()

    @cached_property
    def words(self) -> set[str]:
        return set(re.findall(r"[a-z][a-z'-]*", self.lower))

    @cached_property
    def dates(self) -> set[tuple[int | None, int, int]]:
        return _dates(self.text)

    @cached_property
    def phone_keys(self) -> set[str]:
        date_free = _DATE.sub(" ", self.text)
        return {_digits(m.group(0))[-9:] for m in _PHONE.finditer(date_free)}

    @cached_property
    def digit_runs(self) -> str:
        return _digits(self.text)

    @cached_property
    def numbers(self) -> set[Decimal]:
        numbers = set()
        for m in _NUMBER.finditer(self.text):
            value = _to_decimal(m.group(0))
            if value is not None:
                numbers.add(value)
        for m in _AMOUNT.finditer(self.text):
            value = _to_decimal(m["n1"] or m["n2"] or m["n3"], m["m1"] or m["m2"])
            if value is not None:
                numbers.add(value)
        return numbers

    def has_date(self, date: tuple[int | None, int, int]) -> bool:
        year, month, day = date
        return any(m == month and d == day and (year is None or y is None or y == year) for y, m, d in self.dates)


@lru_cache(maxsize=64)  # sources are a customer's data (a few kB); a run moves on, a review rechecks
def _index(sources: tuple[str, ...]) -> _Sources:
    return _Sources(sources)


def find_invented(outputs: list[str], sources: list[str]) -> list[str]:
    """Flags like "invented:phone:+44 20 7946 0999" for facts in `outputs` absent from `sources`."""
    src = _index(tuple(sources))
    flags: list[str] = []

    def flag(kind: str, value: str) -> None:
        item = f"invented:{kind}:{value.strip()}"
        if item not in flags:
            flags.append(item)

    for text in outputs:
        if not text:
            continue
        for m in _EMAIL.finditer(text):
            if m.group(0).lower() not in src.lower:
                flag("email", m.group(0))
        without_emails = _EMAIL.sub(" ", text)
        for m in _DATE.finditer(without_emails):
            if not any(src.has_date(d) for d in _dates(m.group(0))):
                flag("date", m.group(0))
        date_free = _DATE.sub(" ", without_emails)
        for m in _PHONE.finditer(date_free):
            digits = _digits(m.group(0))
            if not 7 <= len(digits) <= 15:
                continue
            if digits[-9:] not in src.phone_keys and digits not in src.digit_runs:
                flag("phone", m.group(0))
        phone_free = _PHONE.sub(" ", date_free)
        for m in _AMOUNT.finditer(phone_free):
            value = _to_decimal(m["n1"] or m["n2"] or m["n3"], m["m1"] or m["m2"])
            if value is not None and value not in src.numbers:
                flag("percent" if m["pct"] else "amount", m.group(0))
        starts = {m.end() for m in _SENTENCE_START.finditer(without_emails)}
        for m in _NAME.finditer(without_emails):
            words = re.split(r"\s+", m.group(0))
            opener = m.start() in starts and words[0].lower() in _OPENERS
            if opener:
                words.pop(0)
            while words and words[0].lower() in _COMMON:
                words.pop(0)
            if opener and len(words) == 1:
                # "Ask Sam ...": Sam is capitalised mid-sentence, a name, known or invented.
                if words[0].lower() not in src.words and words[0].lower() not in _COMMON:
                    flag("name", words[0])
                continue
            if len(words) < 2:
                continue
            if m.group(0).lower() in src.lower:
                continue
            unknown = [w for w in words if w.lower() not in src.words and w.lower() not in _COMMON]
            if unknown:
                flag("name", " ".join(words))
        for m in _GREETING_NAME.finditer(text):
            name = m["name"]
            if name.lower() not in src.words and name.lower() not in _COMMON:
                flag("name", name)
    return flags
