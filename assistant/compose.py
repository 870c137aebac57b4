"""The offline answer writer: an answer built only from the tool results, one cited sentence per
fact, in the same shape the model is asked for (`prompts.ANSWER_SCHEMA`).

Pure: it sees the question, the intents and the sources (the citable facts and passages), never the
database. It quotes playbook sentences rather than paraphrasing them, so the checker's "the cited
passage really contains the supporting text" holds by construction; it never repeats a sentence
that reads as an instruction to the assistant (a prompt injection planted in a passage or a note).
"""

from __future__ import annotations

import re

from assistant.routing import client_names, intents
from assistant.search import stems
from llm.guardrails import looks_like_injection

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9“\"(])")
MAX_POLICY_SENTENCES = 2


def sentences_of(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(" ".join((text or "").split())) if len(s.strip()) > 3]


def _by_id(sources: list[dict]) -> dict[str, dict]:
    return {s["id"]: s for s in sources}


def _clients(sources: list[dict]) -> list[str]:
    """Account prefixes ("A12") in the order the tools returned them."""
    seen: list[str] = []
    for s in sources:
        if s["kind"] == "field" and s["id"].startswith("A"):
            prefix = s["id"].split(".")[0]
            if prefix not in seen:
                seen.append(prefix)
    return seen


def _namesakes(clients: list[str], by_id: dict) -> set[str]:
    """The prefixes of clients whose name another found client also carries."""
    names = [by_id[f"{p}.name"]["value"].lower() for p in clients]
    return {p for p, n in zip(clients, names, strict=True) if names.count(n) > 1}


def _client_sentences(prefix: str, found: list[str], by_id: dict, *, namesake: bool = False) -> list[dict]:
    name = by_id[f"{prefix}.name"]["value"]
    spend = by_id.get(f"{prefix}.total_spend")
    industry = by_id.get(f"{prefix}.industry")
    manager = by_id.get(f"{prefix}.account_manager")
    if namesake:
        # Two clients share the name: each sentence says which one, by its account manager or industry.
        which = manager or industry
        out = _client_sentences(prefix, found, by_id)
        if which is None:
            return out
        label = f"managed by {which['value']}" if which is manager else f"in {which['value']}"
        return [
            {**s, "text": s["text"].replace(name, f"{name} ({label})", 1), "citations": [*s["citations"], which["id"]]}
            if s["text"].startswith(name) and which["id"] not in s["citations"]
            else s
            for s in out
        ]
    if "pitch" in found:
        # A pitch rests on industry and spend: one sentence with both, nothing else about the client.
        facts = [(f"is in {industry['value']}", industry["id"])] if industry else []
        if spend:
            facts.append((f"has spent {spend['value']} so far this year", spend["id"]))
        if not facts:
            return []
        return [{"text": f"{name} {' and '.join(f for f, _ in facts)}.", "citations": [c for _, c in facts]}]
    out = []
    if "spend" in found and spend:
        out.append({"text": f"{name} has spent {spend['value']} so far this year.", "citations": [spend["id"]]})
    if "profile" in found or not out:
        if industry:
            out.append({"text": f"{name} is in {industry['value']}.", "citations": [industry["id"]]})
        if manager:
            out.append({"text": f"Its account manager is {manager['value']}.", "citations": [manager["id"]]})
    if "profile" in found:
        for key in ("churn_risk", "segment"):
            src = by_id.get(f"{prefix}.{key}")
            if src:
                label = src["label"].split(" · ")[-1]
                out.append({"text": f"Its {label} is {src['value']}.", "citations": [src["id"]]})
    if not out and spend:
        out.append({"text": f"{name} has spent {spend['value']} so far this year.", "citations": [spend["id"]]})
    return out


_CONDITION = re.compile(r"\b(above|over|more than|up to|below|under|less than)\s+\$?(\d[\d,]*)", re.I)


def _amount(value: str) -> float | None:
    digits = re.sub(r"[^\d.]", "", value or "")
    try:
        return float(digits) if digits else None
    except ValueError:
        return None


def applies_to(sentence: str, spend: float | None) -> bool:
    """False when the sentence states a spend condition the client does not meet ("above $100,000")."""
    if spend is None:
        return True
    for word, raw in _CONDITION.findall(sentence):
        limit = float(raw.replace(",", ""))
        above = word.lower() in {"above", "over", "more than"}
        if (above and not spend > limit) or (not above and not spend <= limit):
            return False
    return True


def _pitch_sentences(prefix: str, by_id: dict, passages: list[dict]) -> list[dict]:
    """The playbook sentence that names the client's industry and whose spend condition holds."""
    industry = by_id.get(f"{prefix}.industry")
    spend = by_id.get(f"{prefix}.total_spend")
    if not industry:
        return []
    wanted = stems(industry["value"])
    amount = _amount(spend["value"]) if spend else None
    for p in passages:
        for sentence in sentences_of(p["text"]):
            if wanted & stems(sentence) and applies_to(sentence, amount) and not looks_like_injection(sentence):
                return [{"text": f"The playbook says: “{sentence}”", "citations": [p["id"]]}]
    return []


def _record_sentences(sources: list[dict]) -> list[dict]:
    out = []
    for s in sources:
        if s["id"].startswith("D"):
            what = s["label"].split(" · ", 1)[1]
            stage = s["text"].rsplit(": ", 1)[-1]
            out.append({"text": f"The {what} stands at {s['value']} ({stage}).", "citations": [s["id"]]})
        elif s["id"].startswith("O"):
            what = s["label"].split(" · ", 1)[1].capitalize()
            out.append({"text": f"{what} is {s['value']}.", "citations": [s["id"]]})
        elif s["id"].startswith("T"):
            what = s["label"].split(" · ", 1)[1]
            out.append({"text": f"There is an open {what} ({s['value']}).", "citations": [s["id"]]})
    return out[:6]


def _min_overlap(question_terms: set[str]) -> int:
    # One shared word is chance ("policy" is in every passage); two is the least that means the
    # passage is about the question, unless the question itself has fewer content words.
    return min(2, len(question_terms))


def _best_passage_sentences(question_terms: set[str], passages: list[dict], limit: int) -> list[dict]:
    """Up to `limit` sentences of the one passage most about the question, in the passage's order
    (a policy reads as its rule, then its reason), never a sentence that reads as an instruction."""
    need = _min_overlap(question_terms)
    best = None
    for rank, p in enumerate(passages):
        heading = stems(p.get("value", ""))
        score = len(question_terms & (stems(p["text"]) | heading)) + len(question_terms & heading)
        if score >= need and (best is None or score > best[0]):
            best = (score, rank, p)
    if best is None:
        return []
    p = best[2]
    scored = []
    for i, sentence in enumerate(sentences_of(p["text"])):
        overlap = len(question_terms & stems(sentence))
        if overlap and not looks_like_injection(sentence):
            scored.append((-overlap, i, sentence))
    picked = sorted(sorted(scored)[:limit], key=lambda x: x[1])
    return [{"text": f"The playbook says: “{sentence}”", "citations": [p["id"]]} for _, _, sentence in picked]


def compose(question: str, sources: list[dict]) -> dict:
    found = intents(question)
    by_id = _by_id(sources)
    sentences: list[dict] = []
    clients = _clients(sources)
    namesakes = _namesakes(clients[:2], by_id)
    if namesakes:
        name = by_id[f"{clients[0]}.name"]["value"]
        sentences.append(
            {"text": f"Two clients you can see are called “{name}”; here is each.", "citations": [], "notice": True}
        )
    for prefix in clients[:2]:
        sentences += _client_sentences(prefix, found, by_id, namesake=prefix in namesakes)
    if "records" in found:
        sentences += _record_sentences(sources)
    passages = [s for s in sources if s["kind"] == "passage"]
    pitch = _pitch_sentences(clients[0], by_id, passages) if "pitch" in found and clients else []
    sentences += pitch
    if passages and not pitch and ("policy" in found or "pitch" in found or not clients):
        sentences += _best_passage_sentences(stems(question), passages, MAX_POLICY_SENTENCES)
    missing = False
    named = client_names(question)
    if named and not clients:
        sentences.insert(
            0,
            {
                "text": f"I found no client called “{named[0]}” in the records you can see.",
                "citations": [],
                "notice": True,
            },
        )
        missing = True
    if not [s for s in sentences if not s.get("notice")]:
        sentences.append(
            {
                "text": "I could not find support for an answer in the CRM records or the playbook.",
                "citations": [],
                "notice": True,
            }
        )
        missing = True
    return {"sentences": sentences, "support_missing": missing}
