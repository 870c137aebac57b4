"""Metrics are plain functions. A case metric is `(case, output) -> MetricResult`; a dataset metric
(F1, precision over all cases) is `(pairs: list[(case, output)]) -> MetricResult`. Scores run from 0
to 1 (1 is good); `reasons` say what was wrong, naming the case when a dataset metric fails.

The helpers here are the deterministic building blocks every feature reuses: limits, exact fields,
facts that must come from the inputs, British spelling, citations that must resolve.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from llm import guardrails


@dataclass(frozen=True)
class MetricResult:
    score: float | None  # None: skipped
    reasons: list[str] = field(default_factory=list)
    skipped: str = ""  # why the metric did not score (offline, judge unavailable)

    @classmethod
    def ok(cls) -> MetricResult:
        return cls(1.0)

    @classmethod
    def check(cls, problems: Iterable[str]) -> MetricResult:
        """1.0 when there are no problems, else 0.0 with them as reasons."""
        problems = [p for p in problems if p]
        return cls(0.0 if problems else 1.0, problems)

    @classmethod
    def skip(cls, reason: str) -> MetricResult:
        return cls(None, [], reason)

    @property
    def is_skipped(self) -> bool:
        return self.score is None


CaseMetric = Callable[..., MetricResult]
DatasetMetric = Callable[[list], MetricResult]


def metric_name(fn) -> str:
    return getattr(fn, "metric_name", None) or fn.__name__


def named(name: str):
    """Give a metric built by a factory a stable name (it is the key in thresholds and stored runs)."""

    def decorate(fn):
        fn.metric_name = name
        return fn

    return decorate


# --- building blocks -----------------------------------------------------------------------------


def words(text: str) -> int:
    return len((text or "").split())


def within_limit(text: str, *, max_chars: int | None = None, max_words: int | None = None) -> list[str]:
    problems = []
    if max_chars is not None and len(text or "") > max_chars:
        problems.append(f"{len(text)} characters, limit {max_chars}")
    if max_words is not None and words(text) > max_words:
        problems.append(f"{words(text)} words, limit {max_words}")
    return problems


def exact_fields(expected: dict, actual: dict, names: Iterable[str]) -> list[str]:
    """Problems for each named field whose actual value differs from the expected one."""
    problems = []
    for name in names:
        if name not in expected:
            continue
        if actual.get(name) != expected[name]:
            problems.append(f"{name}: expected {expected[name]!r}, got {actual.get(name)!r}")
    return problems


def source_text(*values) -> str:
    """Everything the model was given, flattened to text, for the grounding check."""
    parts = []
    for value in values:
        parts.append(value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False))
    return "\n".join(parts)


def invented_facts(output_text: str, *sources) -> list[str]:
    """Names, amounts, dates, phone numbers and emails in the output that no source contains (the
    gateway's own "never invents" check, run over the case's inputs and facts; it already reads an
    ordinary word opening a sentence, "Ask Sam today...", as no part of a name)."""
    source = source_text(*sources)
    return [flag.removeprefix("invented:") for flag in guardrails.find_invented([output_text], [source])]


def citations_resolve(cited: Iterable, known: Iterable) -> list[str]:
    known_set = {str(k) for k in known}
    return [f"citation {c!r} resolves to nothing given" for c in cited if str(c) not in known_set]


# American -> British. Over a hundred pairs: the common -ize/-or/-er/-og/-ense families plus the
# irregulars support and sales text uses. Word-bounded, so "organization" is caught but "sizeable"
# and "prize" are not.
AMERICAN_TO_BRITISH = {
    "apologize": "apologise",
    "apologized": "apologised",
    "apologizes": "apologises",
    "apologizing": "apologising",
    "organize": "organise",
    "organized": "organised",
    "organizing": "organising",
    "organization": "organisation",
    "organizations": "organisations",
    "realize": "realise",
    "realized": "realised",
    "recognize": "recognise",
    "recognized": "recognised",
    "prioritize": "prioritise",
    "prioritized": "prioritised",
    "authorize": "authorise",
    "authorized": "authorised",
    "authorization": "authorisation",
    "unauthorized": "unauthorised",
    "customize": "customise",
    "customized": "customised",
    "personalize": "personalise",
    "personalized": "personalised",
    "personalization": "personalisation",
    "finalize": "finalise",
    "finalized": "finalised",
    "summarize": "summarise",
    "summarized": "summarised",
    "minimize": "minimise",
    "maximize": "maximise",
    "optimize": "optimise",
    "optimized": "optimised",
    "utilize": "utilise",
    "emphasize": "emphasise",
    "criticize": "criticise",
    "specialize": "specialise",
    "specialized": "specialised",
    "standardize": "standardise",
    "categorize": "categorise",
    "categorized": "categorised",
    "itemize": "itemise",
    "itemized": "itemised",
    "sympathize": "sympathise",
    "analyze": "analyse",
    "analyzed": "analysed",
    "analyzing": "analysing",
    "paralyze": "paralyse",
    "catalog": "catalogue",
    "dialog": "dialogue",
    "color": "colour",
    "colors": "colours",
    "favor": "favour",
    "favorite": "favourite",
    "favorable": "favourable",
    "honor": "honour",
    "honored": "honoured",
    "behavior": "behaviour",
    "neighbor": "neighbour",
    "neighborhood": "neighbourhood",
    "labor": "labour",
    "humor": "humour",
    "rumor": "rumour",
    "flavor": "flavour",
    "harbor": "harbour",
    "endeavor": "endeavour",
    "vapor": "vapour",
    "savior": "saviour",
    "center": "centre",
    "centers": "centres",
    "theater": "theatre",
    "meter": "metre",  # the unit only: "smart meter" (the device) is British too, see CONTEXTUAL
    "meters": "metres",
    "kilometer": "kilometre",
    "kilometers": "kilometres",
    "centimeter": "centimetre",
    "millimeter": "millimetre",
    "liter": "litre",
    "fiber": "fibre",
    "caliber": "calibre",
    "somber": "sombre",
    "defense": "defence",
    "offense": "offence",
    "license": "licence",
    "pretense": "pretence",
    "traveled": "travelled",
    "traveling": "travelling",
    "traveler": "traveller",
    "canceled": "cancelled",
    "canceling": "cancelling",
    "labeled": "labelled",
    "labeling": "labelling",
    "modeled": "modelled",
    "modeling": "modelling",
    "fueled": "fuelled",
    "signaled": "signalled",
    "totaled": "totalled",
    "counselor": "counsellor",
    "jewelry": "jewellery",
    "enrollment": "enrolment",
    "fulfill": "fulfil",
    "fulfillment": "fulfilment",
    "installment": "instalment",
    "skillful": "skilful",
    "willful": "wilful",
    "aging": "ageing",
    "acknowledgment": "acknowledgement",
    "judgment": "judgement",
    "check": "cheque",  # only flagged in payment context, see CONTEXTUAL
    "program": "programme",
    "gray": "grey",
    "plow": "plough",
    "mold": "mould",
    "cozy": "cosy",
    "tire": "tyre",
    "pajamas": "pyjamas",
    "aluminum": "aluminium",
    "airplane": "aeroplane",
    "mom": "mum",
    "math": "maths",
    "toward": "towards",
    "afterward": "afterwards",
    "practice": "practise",  # the verb; see CONTEXTUAL
}
# Words that are British too in another sense: only flagged in the context given. "meter" is the
# device in British English ("smart meter", "meter reading", "your two meters"); only the unit is
# spelt "metre", so it is flagged after a measurement (a decimal, "square", "cubic", "per", a hyphened
# "100-meter") or before a dimension ("5 meters long", "meters away").
_UNIT_METER = (
    r"(?:\b\d+\.\d+\s?|\b\d+-|\b(?:square|cubic|per|a few|several|hundred|thousand)\s)meters?\b"
    r"|\bmeters?\s(?:long|wide|high|tall|deep|away|apart|across|in (?:length|height|width|diameter)|per second)\b"
    r"|\bmeters?\s(?:from|of)\s(?:the|your|cable|pipe|wire|road|house|property|street)\b"
)
CONTEXTUAL = {
    "check": re.compile(
        r"\b(pay|paid|write|wrote|send|sent|cash|cashed|refund|refunded|by) (by |a |the |your )?check\b", re.I
    ),
    "program": re.compile(r"\b(loyalty|rewards?|referral|training) program\b", re.I),
    "practice": re.compile(r"\b(to|will|should|must|can) practice\b", re.I),
    "tire": re.compile(r"\b(flat|spare|car|bike) tire\b", re.I),
    "meter": re.compile(_UNIT_METER, re.I),
}
CONTEXTUAL["meters"] = CONTEXTUAL["meter"]
_AMERICAN = re.compile(
    r"\b(" + "|".join(sorted((w for w in AMERICAN_TO_BRITISH if w not in CONTEXTUAL), key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)


def contextual_american(text: str) -> list[str]:
    """The CONTEXTUAL words (lower case) used in their American sense in `text`, in order."""
    found = []
    for pattern in {id(p): p for p in CONTEXTUAL.values()}.values():
        for m in pattern.finditer(text or ""):
            found += [w for w in re.findall(r"[a-z]+", m.group(0).lower()) if w in CONTEXTUAL]
    return found


def american_spellings(text: str) -> list[str]:
    """["color -> colour", ...] for every American form in `text`."""
    found = [m.group(0) for m in _AMERICAN.finditer(text or "")] + contextual_american(text)
    seen: dict[str, None] = {}
    for word in found:
        seen.setdefault(f"{word} -> {AMERICAN_TO_BRITISH[word.lower()]}", None)
    return list(seen)


# --- dataset-level statistics --------------------------------------------------------------------


def macro_f1(pairs: list[tuple[str, object, object]]) -> tuple[float, dict[str, float]]:
    """pairs of (case_id, expected, predicted) -> (macro-F1 over the expected labels, per-label F1).
    Labels only predicted (never expected) count as false positives of nothing: they lower the
    precision of no class but the recall of the true class, as usual for macro-F1 over gold labels."""
    labels = sorted({str(e) for _, e, _ in pairs})
    per: dict[str, float] = {}
    for label in labels:
        tp = sum(1 for _, e, p in pairs if str(e) == label and str(p) == label)
        fp = sum(1 for _, e, p in pairs if str(e) != label and str(p) == label)
        fn = sum(1 for _, e, p in pairs if str(e) == label and str(p) != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        per[label] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return (sum(per.values()) / len(per) if per else 1.0), per
