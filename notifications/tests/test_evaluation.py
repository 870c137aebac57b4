import json

import pytest

from llm.evaluation import get_suite, load_dataset, run_suite
from notifications import evaluation

pytestmark = pytest.mark.django_db


def test_dataset_is_the_shipped_sample_as_imported(imported, team):
    """The JSONL holds exactly what build_cases makes from the sample (regenerate it when either changes)."""
    lines = [json.loads(x) for x in evaluation.DATASET.read_text().splitlines() if x.strip()]
    assert lines == json.loads(json.dumps(evaluation.build_cases(team), default=str))
    assert len(lines) >= 40


def test_offline_run_meets_every_threshold():
    suite = get_suite("notifications.analysis")
    dataset = load_dataset(suite.dataset)
    assert not dataset.issues and len(dataset.cases) >= 40
    report = run_suite(suite)
    assert report.passed, report.fell


def test_metrics_catch_a_bad_draft():
    case = load_dataset(evaluation.DATASET).cases[0]
    bad = {
        "analysis": {
            "priority": "Low" if case.expected["priority"] != "Low" else "High",
            "trigger_factors": [{"ref": "interaction:NOPE"}],
        },
        "subject": "Your favorite offer",
        "message": "Get a 30% discount, call 020 7946 0999. " * 60,
        "channel": "sms",
    }
    for metric in (
        evaluation.risk_band,
        evaluation.trigger_factors_resolve,
        evaluation.british_spelling,
        evaluation.no_invented_facts,
        evaluation.channel_limit,
        evaluation.offers_in_actions,
    ):
        assert metric(case, bad).score == 0.0, metric.__name__
