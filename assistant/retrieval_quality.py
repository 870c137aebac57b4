"""Playbook retrieval quality: `manage.py evaluate_ai --feature assistant.retrieval`.

The 11-passage sample playbook cannot separate lexical from hybrid search (both find every expected
passage in the top five), so this suite measures retrieval on a larger handbook written for it:
assistant/evals/retrieval_playbook.md (83 passages on pricing, discounts, contracts, legal,
security, products, industries, selling, competitors, customers after the sale and conduct) and
assistant/evals/assistant.retrieval.jsonl (60 questions as reps phrase them, each with the
heading(s) of the passage(s) that answer it). 39 are paraphrases that share few words with their
passage ("How much can I knock off the price without asking my boss?" for "Discount approval"),
21 use the passage's own keywords ("Who approves a 15% discount?"). The questions were written and
committed before any measurement and are kept as they are.

Each case imports the handbook for a throwaway team inside a transaction that is rolled back, asks
the question the way the `search_playbook` tool does, and ranks the passages three ways:

- lexical: `search.search` (PostgreSQL full-text search or SQLite FTS5), always;
- semantic: `semantic.search` alone (cosine over all-MiniLM-L6-v2 embeddings);
- hybrid: `tools.ranked_passages`, the product's own fusion of the two (reciprocal rank fusion);

the last two only when the optional package is installed and ASSISTANT_SEMANTIC is not "off" (the
default CI leg and the evaluation gate run lexical only; the semantic leg runs all three).

Metrics per mode: recall@1 and recall@5 (share of the expected headings in the top 1 or 5) and
MRR (reciprocal rank of the first expected heading within the top DEPTH, 0 when absent).
"""

from __future__ import annotations

from pathlib import Path

from django.db import transaction

from assistant import search, semantic, tools
from assistant.models import Passage
from assistant.playbook import import_playbook
from crm.models import Team
from llm.evaluation import MetricResult, Suite, fingerprint, register

HERE = Path(__file__).resolve().parent / "evals"
PLAYBOOK = HERE / "retrieval_playbook.md"
DATASET = HERE / "assistant.retrieval.jsonl"
MODES = ("lexical", "semantic", "hybrid")
DEPTH = 10  # MRR is MRR@10: a passage ranked below ten is as good as not found for a reader


def modes() -> list[str]:
    return list(MODES) if semantic.available() else ["lexical"]


def recall_at(ranking: list[str], expected: list[str], k: int) -> float:
    """Share of the expected headings among the first k of the ranking."""
    if not expected:
        raise ValueError("a retrieval case needs at least one expected heading")
    top = set(ranking[:k])
    return sum(h in top for h in expected) / len(expected)


def reciprocal_rank(ranking: list[str], expected: list[str]) -> float:
    """1 / the rank of the first expected heading, 0 when none is ranked."""
    for rank, heading in enumerate(ranking, start=1):
        if heading in expected:
            return 1.0 / rank
    return 0.0


class _Rollback(Exception):
    pass


def rank(mode: str, team_ids: set[int], question: str) -> list[int]:
    if mode == "lexical":
        return [h.passage_id for h in search.search(team_ids, question, limit=DEPTH)]
    if mode == "semantic":
        return [pk for pk, _ in semantic.search(team_ids, question, limit=DEPTH)]
    return [pk for pk, _ in tools.ranked_passages(team_ids, question, DEPTH)]


def run_case(case) -> dict:
    """The headings each mode ranks for the question, best first."""
    out: dict = {}
    try:
        with transaction.atomic():
            team = Team.objects.create(name="Eval retrieval", slug="eval-retrieval-assistant")
            import_playbook(team=team, data=PLAYBOOK.read_bytes(), file_name=PLAYBOOK.name, title="Sales handbook")
            headings = dict(Passage.objects.filter(document__team=team).values_list("pk", "heading"))
            for mode in modes():
                out[mode] = [headings[pk] for pk in rank(mode, {team.pk}, case.inputs["question"])]
            raise _Rollback
    except _Rollback:
        pass
    return out


def _metric(mode: str, name: str, score):
    def metric(case, output) -> MetricResult:
        if mode not in (output or {}):
            return MetricResult.skip(
                f"{mode} search not run: semantic search is off or not installed (requirements-semantic.txt)"
            )
        ranking, expected = output[mode], case.expected["headings"]
        value = score(ranking, expected)
        reasons = (
            [] if value == 1 else [f"expected {', '.join(expected)}; ranked {'; '.join(ranking[:5]) or 'nothing'}"]
        )
        return MetricResult(value, reasons)

    metric.__name__ = f"{mode}_{name}"
    return metric


METRICS = [
    _metric(mode, name, score)
    for mode in MODES
    for name, score in (
        ("recall_at_1", lambda r, e: recall_at(r, e, 1)),
        ("recall_at_5", lambda r, e: recall_at(r, e, 5)),
        ("mrr", reciprocal_rank),
    )
]

SUITE = register(
    Suite(
        feature="assistant.retrieval",
        dataset=DATASET,
        run=run_case,
        metrics=METRICS,
        thresholds=HERE / "assistant.retrieval.thresholds.json",
        prompt_version=fingerprint(PLAYBOOK.read_text(), str(DEPTH), str(tools.FUSION_DEPTH), str(semantic.RRF_K)),
        description="Playbook search: recall@1, recall@5 and MRR of the expected passages, lexical, semantic and hybrid.",
    )
)
