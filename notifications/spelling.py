"""American spellings that a British-English customer message must not contain, with the British
form. Used by the message checks, the offline writer's own test and the evaluation suite."""

from __future__ import annotations

import re

AMERICAN_TO_BRITISH = {
    "analyze": "analyse",
    "analyzed": "analysed",
    "analyzing": "analysing",
    "apologize": "apologise",
    "apologized": "apologised",
    "apologizing": "apologising",
    "authorize": "authorise",
    "authorized": "authorised",
    "authorization": "authorisation",
    "behavior": "behaviour",
    "behaviors": "behaviours",
    "canceled": "cancelled",
    "canceling": "cancelling",
    "catalog": "catalogue",
    "center": "centre",
    "centers": "centres",
    "check": "cheque",  # only as the payment; see AMBIGUOUS
    "color": "colour",
    "colors": "colours",
    "customize": "customise",
    "customized": "customised",
    "defense": "defence",
    "dialed": "dialled",
    "emphasize": "emphasise",
    "enroll": "enrol",
    "enrollment": "enrolment",
    "favor": "favour",
    "favorable": "favourable",
    "favorite": "favourite",
    "favorites": "favourites",
    "fulfill": "fulfil",
    "fulfillment": "fulfilment",
    "finalize": "finalise",
    "finalized": "finalised",
    "gray": "grey",
    "harmonize": "harmonise",
    "honor": "honour",
    "honored": "honoured",
    "humor": "humour",
    "installment": "instalment",
    "installments": "instalments",
    "itemize": "itemise",
    "itemized": "itemised",
    "jewelry": "jewellery",
    "judgment": "judgement",
    "labeled": "labelled",
    "labor": "labour",
    "license": "licence",
    "maximize": "maximise",
    "meter": "metre",  # length only; see AMBIGUOUS
    "minimize": "minimise",
    "modeling": "modelling",
    "neighbor": "neighbour",
    "neighbors": "neighbours",
    "neighborhood": "neighbourhood",
    "offense": "offence",
    "optimize": "optimise",
    "optimized": "optimised",
    "organization": "organisation",
    "organize": "organise",
    "organized": "organised",
    "personalize": "personalise",
    "personalized": "personalised",
    "practiced": "practised",
    "prioritize": "prioritise",
    "prioritized": "prioritised",
    "program": "programme",
    "realize": "realise",
    "realized": "realised",
    "recognize": "recognise",
    "recognized": "recognised",
    "rumor": "rumour",
    "savior": "saviour",
    "specialize": "specialise",
    "specialized": "specialised",
    "standardize": "standardise",
    "summarize": "summarise",
    "summarized": "summarised",
    "theater": "theatre",
    "traveled": "travelled",
    "traveling": "travelling",
    "utilize": "utilise",
    "utilized": "utilised",
    "valor": "valour",
    "vigor": "vigour",
    "emphasized": "emphasised",
    "utilization": "utilisation",
    "organizations": "organisations",
    "recognizes": "recognises",
    "realizes": "realises",
    "apologizes": "apologises",
    "prioritizes": "prioritises",
    "optimizing": "optimising",
    "minimizing": "minimising",
    "maximizing": "maximising",
    "finalizing": "finalising",
    "personalizing": "personalising",
    "summarizing": "summarising",
    "customizing": "customising",
    "authorizing": "authorising",
    "fueled": "fuelled",
    "fueling": "fuelling",
    "modeled": "modelled",
    "signaled": "signalled",
    "totaled": "totalled",
    "counselor": "counsellor",
    "aging": "ageing",
    "acknowledgment": "acknowledgement",
    "percent": "per cent",
    "flavor": "flavour",
    "endeavor": "endeavour",
    "endeavors": "endeavours",
    "odor": "odour",
    "paycheck": "pay cheque",
    "tire": "tyre",
    "cozy": "cosy",
    "pajamas": "pyjamas",
    "mold": "mould",
    "plow": "plough",
    "skeptical": "sceptical",
    "sulfur": "sulphur",
    "willful": "wilful",
    "skillful": "skilful",
    "utilizes": "utilises",
}
# Words whose American form is also correct British English in another sense ("check your bill",
# "smart meter"): listed for completeness but never flagged in running text.
AMBIGUOUS = {"check", "meter", "program", "tire", "percent"}

_WORD = re.compile(r"[A-Za-z]+")


def american_words(text: str) -> list[str]:
    """The American spellings in `text` (lower case, in order, without repeats)."""
    found: list[str] = []
    for m in _WORD.finditer(text or ""):
        w = m.group(0).lower()
        if w in AMERICAN_TO_BRITISH and w not in AMBIGUOUS and w not in found:
            found.append(w)
    return found


def britishise(text: str) -> str:
    """Replace American spellings with British ones, keeping an initial capital."""

    def swap(m: re.Match) -> str:
        w = m.group(0)
        low = w.lower()
        if low not in AMERICAN_TO_BRITISH or low in AMBIGUOUS:
            return w
        british = AMERICAN_TO_BRITISH[low]
        return british[0].upper() + british[1:] if w[0].isupper() else british

    return _WORD.sub(swap, text or "")
