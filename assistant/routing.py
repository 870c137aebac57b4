"""Which tools a question needs: the offline router, and the intents the checker holds answers to.

Pure: plain strings and dicts in, dataclasses out. The model path asks the model for the same
`calls` structure (assistant/ai.py); offline, these rules decide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.search import STOPWORDS

INTENT_WORDS = {
    "spend": re.compile(r"\b(spen[dt]|spending|revenue|how much|purchases?|bought|paid)\b", re.I),
    "records": re.compile(
        r"\b(deals?|pipeline|opportunit(y|ies)|orders?|tickets?|support issues?|open issues?)\b", re.I
    ),
    "pitch": re.compile(
        r"\b(pitch|recommend\w*|suggest\w*|which products?|what products?|upsell|cross-sell|propose|offer them)\b", re.I
    ),
    "policy": re.compile(
        r"\b(polic(y|ies)|allowed|may we|can we|should we|pricing|price|discounts?|guidelines?|playbook|rules?|"
        r"approval|approve|terms|contracts?|renewals?)\b",
        re.I,
    ),
    "profile": re.compile(
        r"\b(industry|sector|account manager|who (manages|owns|looks after)|vip|segment|churn|risk)\b", re.I
    ),
}
# Capitalised words that are not names: question words, pronouns, months, days, and common verbs a
# question may start with.
_NOT_NAMES = STOPWORDS | set(
    """i what how who which when where why based our we can could should is are do does the a an tell give show
    please hi hello thanks thank let list find compare summarise summarize q1 q2 q3 q4 january february march
    april may june july august september october november december monday tuesday wednesday thursday friday
    saturday sunday has have had did ok okay also and or any ignore assistant policy playbook eur usd gbp""".split()
)
_CAPITALISED = re.compile(r"\b[A-Z][\w&'.-]*(?:\s+(?:&\s+)?[A-Z][\w&'.-]*)*")
_QUOTED = re.compile(r"[\"“”']([^\"“”']{2,60})[\"“”']")


@dataclass(frozen=True)
class ToolCall:
    tool: str
    args: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"tool": self.tool, "args": dict(self.args)}


def intents(question: str) -> list[str]:
    return [name for name, rx in INTENT_WORDS.items() if rx.search(question or "")]


def client_names(question: str) -> list[str]:
    """Candidate client names: quoted phrases, then capitalised phrases that are not ordinary words."""
    names: list[str] = []
    for m in _QUOTED.finditer(question or ""):
        names.append(m.group(1).strip())
    for m in _CAPITALISED.finditer(question or ""):
        words = [w.strip(".'’") for w in m.group(0).split()]
        while words and words[0].lower().strip("&") in _NOT_NAMES:
            words.pop(0)
        while words and words[-1].lower().strip("&") in _NOT_NAMES:
            words.pop()
        phrase = " ".join(words).strip(" &")
        if phrase and phrase.lower() not in _NOT_NAMES and not phrase.isdigit() and phrase not in names:
            names.append(phrase)
    return names[:3]


def first_round(question: str) -> list[ToolCall]:
    found = intents(question)
    calls = [ToolCall("lookup_client", {"name": n}) for n in client_names(question)]
    if "policy" in found or "pitch" in found or not (calls or {"records", "profile", "spend"} & set(found)):
        calls.append(ToolCall("search_playbook", {"query": question[:500]}))
    return calls


def follow_up(question: str, results: list[dict]) -> list[ToolCall]:
    """Second round, from what the first found: a pitch needs the playbook on the client's industry
    and spend; a question about deals, orders or tickets needs the client's records."""
    found = intents(question)
    clients = [m for r in results if r["tool"] == "lookup_client" for m in r["result"].get("matches", [])[:1]]
    calls: list[ToolCall] = []
    done = {(r["tool"], str(sorted(r["args"].items()))) for r in results}
    for client in clients:
        if "records" in found:
            calls.append(ToolCall("account_records", {"account_id": client["account_id"]}))
        if "pitch" in found:
            fields = client["fields"]
            query = f"product recommendation {fields.get('industry', '')} spend {fields.get('total_spend', '')}"
            calls.append(ToolCall("search_playbook", {"query": query.strip()}))
    return [c for c in calls if (c.tool, str(sorted(c.args.items()))) not in done]
