"""The retrieval suite (assistant.retrieval): its dataset matches its handbook, its metrics fail on a
wrong ranking, the lexical leg runs everywhere and meets its floors; semantic and hybrid run in the
semantic leg."""

import pytest

from assistant import retrieval_quality as rq
from assistant import semantic
from assistant.models import Passage, PlaybookDocument
from assistant.playbook import parse_markdown
from llm.evaluation import Case, load_dataset, run_suite

HEADINGS = [d.heading for d in parse_markdown(rq.PLAYBOOK.read_text())]


def test_the_dataset_loads_and_every_expected_heading_is_a_passage_of_the_handbook():
    data = load_dataset(rq.DATASET)
    assert not data.issues
    assert len(data.cases) >= 40
    assert len(HEADINGS) >= 60 and len(set(HEADINGS)) == len(HEADINGS)  # one passage a heading
    for case in data.cases:
        assert case.expected["headings"], case.id
        assert set(case.expected["headings"]) <= set(HEADINGS), case.id
        assert case.tags in (("paraphrase",), ("keyword",)), case.id
    kinds = [c.tags[0] for c in data.cases]
    assert kinds.count("paraphrase") >= 20 and kinds.count("keyword") >= 15


@pytest.mark.parametrize(
    ("ranking", "expected", "r1", "r5", "rr"),
    [
        (["A", "B", "C"], ["A"], 1.0, 1.0, 1.0),
        (["B", "C", "A"], ["A"], 0.0, 1.0, 1 / 3),
        (["B", "C", "D", "E", "F", "A"], ["A"], 0.0, 0.0, 1 / 6),
        (["B", "C"], ["A"], 0.0, 0.0, 0.0),
        ([], ["A"], 0.0, 0.0, 0.0),
        (["A", "X", "B"], ["A", "B"], 0.5, 1.0, 1.0),
        (["X", "B", "Y"], ["A", "B"], 0.0, 0.5, 0.5),
    ],
)
def test_recall_and_reciprocal_rank(ranking, expected, r1, r5, rr):
    assert rq.recall_at(ranking, expected, 1) == r1
    assert rq.recall_at(ranking, expected, 5) == r5
    assert rq.reciprocal_rank(ranking, expected) == pytest.approx(rr)


def test_a_case_without_expected_headings_is_an_error_not_a_perfect_score():
    with pytest.raises(ValueError, match="expected heading"):
        rq.recall_at(["A"], [], 5)


CASE = Case(id="t", inputs={"question": "Who approves a 15% discount?"}, expected={"headings": ["Discount approval"]})
METRICS = {m.__name__: m for m in rq.METRICS}


@pytest.mark.parametrize("mode", rq.MODES)
def test_each_metric_fails_on_a_wrong_ranking_and_names_what_it_ranked(mode):
    wrong = {mode: ["Volume tiers", "Payment terms", "Stacking concessions"]}
    right = {mode: ["Discount approval", "Volume tiers"]}
    for name in ("recall_at_1", "recall_at_5", "mrr"):
        metric = METRICS[f"{mode}_{name}"]
        assert metric(CASE, right).score == 1.0
        bad = metric(CASE, wrong)
        assert bad.score == 0.0
        assert "Discount approval" in bad.reasons[0] and "Volume tiers" in bad.reasons[0]
    late = {mode: ["Volume tiers", "Discount approval"]}
    assert METRICS[f"{mode}_recall_at_1"](CASE, late).score == 0.0
    assert METRICS[f"{mode}_mrr"](CASE, late).score == 0.5


def test_a_mode_that_did_not_run_is_skipped_with_the_reason():
    result = METRICS["hybrid_recall_at_5"](CASE, {"lexical": ["Discount approval"]})
    assert result.is_skipped and "requirements-semantic.txt" in result.skipped


@pytest.mark.django_db
def test_a_case_ranks_the_handbook_lexically_and_leaves_nothing_behind(settings):
    settings.ASSISTANT_SEMANTIC = "off"
    out = rq.run_case(CASE)
    assert list(out) == ["lexical"]
    assert out["lexical"][0] == "Discount approval"
    assert len(out["lexical"]) <= rq.DEPTH
    assert not PlaybookDocument.objects.exists() and not Passage.objects.exists()


@pytest.mark.django_db
def test_the_lexical_leg_meets_its_floors_on_the_whole_dataset(settings):
    settings.ASSISTANT_SEMANTIC = "off"
    report = run_suite(rq.SUITE)
    scores = report.run.scores
    assert {"lexical_recall_at_1", "lexical_recall_at_5", "lexical_mrr"} <= set(scores)
    assert "hybrid_recall_at_5" in report.run.skipped
    assert report.passed, [(f.metric, f.score, f.threshold) for f in report.fell]


@pytest.mark.semantic
@pytest.mark.skipif(not semantic.installed(), reason="semantic search not installed (requirements-semantic.txt)")
@pytest.mark.django_db
def test_semantic_and_hybrid_legs_meet_their_floors_and_beat_lexical_recall(settings, capsys):
    settings.ASSISTANT_SEMANTIC = "auto"
    report = run_suite(rq.SUITE)
    s = report.run.scores
    with capsys.disabled():
        print("\nassistant.retrieval:", {k: round(v, 3) for k, v in sorted(s.items())})
    assert report.passed, [(f.metric, f.score, f.threshold) for f in report.fell]
    assert s["hybrid_recall_at_5"] > s["lexical_recall_at_5"]
    assert s["semantic_recall_at_5"] > s["lexical_recall_at_5"]
