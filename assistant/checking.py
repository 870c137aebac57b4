"""The checking pass: does the answer rest on what the tools returned?

Pure: the answer's sentences, the sources and the tools used in, a verdict with reasons out. Rules:

1. the tools fit the question (a named client was looked up; a policy or pitch question searched
   the playbook);
2. every sentence that states a fact carries a citation (notices such as "I found no client ..."
   state an absence and carry none);
3. every citation resolves to a source the tools returned;
4. a cited field really holds the stated value (the value appears in the sentence);
5. every number in a sentence appears in one of its cited sources;
6. a sentence citing a passage shares most of its content words with that passage;
7. no sentence reads as an instruction to the assistant (an injection repeated from the data).

With a model configured, ai.check_answer adds the model's own review on top of these rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.routing import client_names, intents
from assistant.search import stems
from llm.guardrails import looks_like_injection

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
# Share of a sentence's content words that must appear in the cited passage. The offline writer
# quotes (1.0); a faithful paraphrase by a model measured 0.6-0.9 on the evaluation set.
MIN_PASSAGE_OVERLAP = 0.5
_FRAME = stems("playbook says according policy states recommends")


@dataclass
class Verdict:
    ok: bool
    problems: list[str] = field(default_factory=list)
    unsupported: list[int] = field(default_factory=list)  # sentence indexes

    @property
    def feedback(self) -> str:
        return " ".join(self.problems)

    def as_dict(self) -> dict:
        return {"ok": self.ok, "problems": list(self.problems), "unsupported": list(self.unsupported)}


def _digits(value: str) -> str:
    return value.replace(",", "").removesuffix(".00")


def numbers_in(text: str) -> set[str]:
    return {_digits(n) for n in _NUMBER.findall(text or "")}


def check(question: str, tools_used: list[str], answer: dict, sources: list[dict]) -> Verdict:
    by_id = {s["id"]: s for s in sources}
    problems: list[str] = []
    unsupported: set[int] = set()
    found = intents(question)
    if client_names(question) and "lookup_client" not in tools_used:
        problems.append("The question names a client but the client was not looked up.")
    if ("policy" in found or "pitch" in found) and "search_playbook" not in tools_used:
        problems.append("The question needs the playbook but it was not searched.")
    for i, s in enumerate(answer.get("sentences", [])):
        text, cites = s.get("text", ""), s.get("citations", [])
        n = i + 1
        if looks_like_injection(text):
            problems.append(f"Sentence {n} repeats an instruction found in the data.")
            unsupported.add(i)
            continue
        if s.get("notice"):
            if numbers_in(text) - numbers_in(question):
                problems.append(f"Sentence {n} is a notice but states a number.")
                unsupported.add(i)
            continue
        if not cites:
            problems.append(f"Sentence {n} states a fact without a citation.")
            unsupported.add(i)
            continue
        missing = [c for c in cites if c not in by_id]
        if missing:
            problems.append(f"Sentence {n} cites {', '.join(missing)}, which no tool returned.")
            unsupported.add(i)
            continue
        cited = [by_id[c] for c in cites]
        for src in cited:
            if src["kind"] == "field" and src["value"] and src["value"].lower() not in text.lower():
                problems.append(f"Sentence {n} cites {src['label']} but does not state its value {src['value']}.")
                unsupported.add(i)
        backing = set().union(*(numbers_in(f"{src['value']} {src['text']}") for src in cited))
        stray = numbers_in(text) - backing
        if stray:
            problems.append(f"Sentence {n} states {', '.join(sorted(stray))}, which its citations do not hold.")
            unsupported.add(i)
        passages = [src for src in cited if src["kind"] == "passage"]
        if passages:
            words = stems(text) - _FRAME
            held = set().union(*(stems(src["text"]) for src in passages))
            if words and len(words & held) / len(words) < MIN_PASSAGE_OVERLAP:
                problems.append(f"Sentence {n} is not supported by the passage it cites.")
                unsupported.add(i)
    return Verdict(ok=not problems, problems=problems, unsupported=sorted(unsupported))
