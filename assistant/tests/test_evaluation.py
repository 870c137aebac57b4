"""The co-pilot's evaluation suite: it runs through the product loop, and every metric that scores
1.0 offline fails on a deliberately wrong output."""

import pytest

from assistant import evaluation
from llm.evaluation import Case, load_dataset

pytestmark = pytest.mark.django_db

SOURCES = [
    {
        "id": "A1.name",
        "kind": "field",
        "label": "TechGiant · name",
        "value": "TechGiant",
        "url": "/a/1/",
        "text": "TechGiant",
    },
    {
        "id": "A1.industry",
        "kind": "field",
        "label": "TechGiant · industry",
        "value": "Electronics",
        "url": "/a/1/",
        "text": "TechGiant · industry: Electronics",
    },
    {
        "id": "A1.total_spend",
        "kind": "field",
        "label": "TechGiant · spend YTD",
        "value": "$120,000",
        "url": "/a/1/",
        "text": "TechGiant · spend YTD: $120,000",
    },
]
CASE = Case(
    id="t",
    inputs={"question": "How much has TechGiant spent so far?"},
    expected={"tools": ["lookup_client"], "contexts": ["TechGiant, Electronics, 120000"], "forbidden": ["Secret Corp"]},
    reference="TechGiant has spent $120,000 so far this year.",
    tags=("records",),
)
GOOD = {
    "text": "TechGiant has spent $120,000 so far this year.",
    "sentences": [{"text": "TechGiant has spent $120,000 so far this year.", "citations": ["A1.total_spend"]}],
    "citations": [SOURCES[2]],
    "sources": SOURCES,
    "tools": ["lookup_client"],
}


def _with(**changes):
    return {**GOOD, **changes}


def test_the_dataset_has_forty_cases_or_more_and_parses_cleanly():
    ds = load_dataset(evaluation.SUITE.dataset)
    assert len(ds.cases) >= 40 and ds.issues == []


def test_a_good_output_scores_one_on_every_deterministic_metric():
    for metric in evaluation.METRICS[:-1]:
        result = metric(CASE, GOOD)
        assert result.score == 1.0, (metric.__name__, result.reasons)


@pytest.mark.parametrize(
    ("metric", "wrong"),
    [
        (
            evaluation.faithfulness,
            _with(sentences=[{"text": "TechGiant has spent $150,000.", "citations": ["A1.total_spend"]}]),
        ),
        (
            evaluation.citation_validity,
            _with(sentences=[{"text": "TechGiant has spent $120,000.", "citations": ["A9.total_spend"]}]),
        ),
        (
            evaluation.citation_validity,
            _with(sentences=[{"text": "TechGiant has spent $120,000.", "citations": ["A1.industry"]}]),
        ),
        (
            evaluation.citation_precision,
            _with(
                sentences=[{"text": "TechGiant has spent $120,000.", "citations": ["A1.total_spend", "A1.industry"]}]
            ),
        ),
        (
            evaluation.citation_recall,
            _with(
                sentences=[
                    {"text": "TechGiant is in Electronics and has spent $120,000.", "citations": ["A1.total_spend"]}
                ]
            ),
        ),
        (evaluation.no_leak, _with(text="Secret Corp has spent $990,000.")),
        (evaluation.context_recall, _with(sources=SOURCES[:1])),
        (evaluation.tool_selection, _with(tools=["search_playbook"])),
        (evaluation.answer_correctness, _with(text="TechGiant has spent $12,000 so far this year.")),
        (evaluation.answer_relevancy, _with(text="The weather is fine.")),
    ],
)
def test_each_metric_fails_on_a_wrong_output(metric, wrong):
    result = metric(CASE, wrong)
    assert result.score is not None and result.score < 1.0
    assert result.reasons


def test_cases_run_through_the_product_loop_and_leave_nothing_behind():
    from assistant.models import Conversation, PlaybookDocument
    from crm.models import Account

    case = next(c for c in load_dataset(evaluation.SUITE.dataset).cases if c.id == "pitch-1")
    out = evaluation.run_case(case)
    assert "Mobile App Banners and Online Display Ads" in out["text"]
    assert out["tools"] == ["lookup_client", "search_playbook", "search_playbook"]
    assert not Account.objects.exists() and not PlaybookDocument.objects.exists() and not Conversation.objects.exists()
