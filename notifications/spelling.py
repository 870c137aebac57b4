"""American spellings a British-English customer message must not contain: the shared list of the
evaluation harness (`llm.evaluation.metrics.AMERICAN_TO_BRITISH`) plus the inflections an energy
supplier's messages need. Used by the message checks, the tests and the evaluation suite."""

from __future__ import annotations

import re

from llm.evaluation.metrics import AMERICAN_TO_BRITISH as SHARED
from llm.evaluation.metrics import CONTEXTUAL, contextual_american

AMERICAN_TO_BRITISH = {
    **SHARED,
    "behaviors": "behaviours",
    "dialed": "dialled",
    "enroll": "enrol",
    "favorites": "favourites",
    "harmonize": "harmonise",
    "installments": "instalments",
    "neighbors": "neighbours",
    "practiced": "practised",
    "utilized": "utilised",
    "valor": "valour",
    "vigor": "vigour",
    "emphasized": "emphasised",
    "utilization": "utilisation",
    "recognizes": "recognises",
    "realizes": "realises",
    "prioritizes": "prioritises",
    "optimizing": "optimising",
    "minimizing": "minimising",
    "maximizing": "maximising",
    "finalizing": "finalising",
    "personalizing": "personalising",
    "summarizing": "summarising",
    "customizing": "customising",
    "authorizing": "authorising",
    "fueling": "fuelling",
    "endeavors": "endeavours",
    "odor": "odour",
    "paycheck": "pay cheque",
    "skeptical": "sceptical",
    "sulfur": "sulphur",
    "utilizes": "utilises",
}
# Words whose American form is also correct British English in another sense ("check your bill",
# "your smart meter" (the device: an energy supplier's commonest noun), "practice" the noun): flagged
# only where the shared list's CONTEXTUAL pattern sees the American sense ("pay by check", "5 meters
# long"), never replaced by `britishise`.
AMBIGUOUS = frozenset(CONTEXTUAL)

_WORD = re.compile(r"[A-Za-z]+")
# One alternation of the flaggable words: a sub over it touches only the matches, not every word.
_FLAGGED = re.compile(
    r"\b(" + "|".join(sorted((w for w in AMERICAN_TO_BRITISH if w not in AMBIGUOUS), key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)


def american_words(text: str) -> list[str]:
    """The American spellings in `text` (lower case, in order, without repeats)."""
    found: list[str] = []
    words = _WORD.findall((text or "").lower())
    flagged = [w for w in words if w in AMERICAN_TO_BRITISH]
    context = contextual_american(text) if not AMBIGUOUS.isdisjoint(flagged) else []
    for w in [w for w in flagged if w not in AMBIGUOUS] + context:
        if w not in found:
            found.append(w)
    return found


_FLAGGABLE = frozenset(w for w in AMERICAN_TO_BRITISH if w not in AMBIGUOUS)


def britishise(text: str) -> str:
    """Replace American spellings with British ones, keeping an initial capital."""
    if _FLAGGABLE.isdisjoint(_WORD.findall((text or "").lower())):
        return text or ""  # the usual case, in a tenth of the time of the alternation's sub

    def swap(m: re.Match) -> str:
        w = m.group(0)
        low = w.lower()
        british = AMERICAN_TO_BRITISH[low]
        return british[0].upper() + british[1:] if w[0].isupper() else british

    return _FLAGGED.sub(swap, text or "")
