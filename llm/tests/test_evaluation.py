"""The evaluation harness: dataset loading, the runner, thresholds, comparison, the command."""

import json

import pytest
from django.core.management import CommandError, call_command

import llm
from llm.evaluation import Case, MetricResult, Suite, fingerprint, load_dataset, register, run_suite
from llm.evaluation.metrics import american_spellings, invented_facts, macro_f1, within_limit
from llm.evaluation.models import EvalRun
from llm.evaluation.registry import ThresholdError, unregister
from llm.tests.conftest import SCHEMA, message

pytestmark = pytest.mark.django_db

FEATURE = "test.eval"


def ask_subject(case: Case) -> dict:
    result = llm.ask(
        feature="test.structured",
        system="Write a subject line.",
        prompt="Subject: {subject}",
        inputs=case.inputs,
        schema=SCHEMA,
        ttl=0,
    )
    return {"data": result.data, "offline": result.offline, "flags": result.flags}


def prefixed(case, output) -> MetricResult:
    subject = output["data"]["subject"]
    return MetricResult.check([] if subject.startswith("Re: ") else [f"subject {subject!r} lacks 'Re: '"])


def mentions_expected(case, output) -> MetricResult:
    want = case.expected.get("word", "")
    return MetricResult.check([] if want in output["data"]["subject"] else [f"{want!r} missing"])


def share_of_normal(pairs) -> MetricResult:
    normal = [c.id for c, out in pairs if out["data"]["priority"] == "normal"]
    return MetricResult(len(normal) / len(pairs), [f"normal: {', '.join(normal)}"])


def write_jsonl(path, rows, extra_lines=()):
    lines = [json.dumps(r) for r in rows] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def dataset(tmp_path):
    rows = [
        {"id": "refund", "inputs": {"subject": "Refund please"}, "expected": {"word": "Refund"}},
        {"id": "late", "inputs": {"subject": "Late parcel"}, "expected": {"word": "parcel"}},
        {"id": "miss", "inputs": {"subject": "Hello"}, "expected": {"word": "Goodbye"}},
    ]
    return write_jsonl(tmp_path / "cases.jsonl", rows, ['{"id": "broken", "inputs": ', '{"id": "x"}'])


@pytest.fixture
def thresholds(tmp_path):
    path = tmp_path / "thresholds.json"
    path.write_text(json.dumps({"_why": "comments are allowed", "prefixed": 1.0, "mentions_expected": 0.6}))
    return path


@pytest.fixture
def suite(dataset, thresholds):
    s = register(
        Suite(
            feature=FEATURE,
            dataset=dataset,
            run=ask_subject,
            metrics=[prefixed, mentions_expected],
            dataset_metrics=[share_of_normal],
            thresholds=thresholds,
            prompt_version=fingerprint("Write a subject line.", "Subject: {subject}"),
        )
    )
    yield s
    unregister(FEATURE)


def test_bad_dataset_lines_are_reported_with_their_line_numbers_and_the_rest_loads(dataset):
    data = load_dataset(dataset)

    assert [c.id for c in data.cases] == ["refund", "late", "miss"]
    assert [str(i) for i in data.issues] == [
        "line 4: not valid JSON (Expecting value at column 28)",
        "line 5: `inputs` must be an object",
    ]
    assert len(data.sha256) == 64


def test_duplicate_ids_and_unknown_keys_are_refused_per_line(tmp_path):
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [{"id": "a", "inputs": {}}, {"id": "a", "inputs": {}}, {"id": "b", "inputs": {}, "expect": {}}],
    )
    data = load_dataset(path)
    assert [c.id for c in data.cases] == ["a"]
    assert [str(i) for i in data.issues] == ["line 2: duplicate id 'a'", "line 3: unknown keys: expect"]


def test_run_goes_through_the_gateway_and_stores_scores_cases_and_failures(suite):
    report = run_suite(suite)

    run = EvalRun.objects.get(pk=report.run.pk)
    assert (run.feature, run.provider, run.model, run.mode, run.cases) == (FEATURE, "offline", "offline", "offline", 3)
    assert run.scores == {"prefixed": 1.0, "mentions_expected": 0.6667, "share_of_normal": 1.0}
    assert run.passed and run.failed_metrics == []
    assert run.dataset_issues and run.dataset_hash == report.dataset.sha256
    assert run.prompt_version == suite.prompt_version
    miss = run.results.get(case_id="miss")
    assert not miss.passed and miss.reasons == {"mentions_expected": ["'Goodbye' missing"]}
    assert miss.output["data"] == {"subject": "Re: Hello", "priority": "normal"}
    # Every case went through the gateway: one ledger row each.
    assert llm_calls() == 3


def llm_calls():
    from llm.models import LLMCall

    return LLMCall.objects.filter(feature="test.structured").count()


def test_a_score_below_its_threshold_fails_and_names_the_cases_that_fell(suite, thresholds):
    thresholds.write_text(json.dumps({"prefixed": 1.0, "mentions_expected": 0.9}))

    report = run_suite(suite)

    assert not report.passed and report.run.failed_metrics == ["mentions_expected"]
    [fell] = report.fell
    assert (fell.metric, fell.threshold) == ("mentions_expected", 0.9)
    assert fell.cases == [("miss", ["'Goodbye' missing"])]


def test_a_threshold_naming_no_metric_is_an_error_not_a_silent_pass(suite, thresholds):
    thresholds.write_text(json.dumps({"prefixd": 1.0}))
    with pytest.raises(ThresholdError, match="'prefixd' is not a metric of test.eval"):
        run_suite(suite)


def test_a_case_whose_code_raises_scores_zero_with_the_error_and_the_run_goes_on(suite):
    def flaky(case):
        if case.id == "late":
            raise RuntimeError("parser broke")
        return ask_subject(case)

    suite.run = flaky
    report = run_suite(suite)

    late = report.run.results.get(case_id="late")
    assert late.error == "RuntimeError: parser broke"
    assert late.scores == {"prefixed": 0.0, "mentions_expected": 0.0}
    assert report.run.results.filter(passed=True).count() == 1  # refund


def test_comparison_names_cases_that_got_better_or_worse_and_why(suite):
    run_suite(suite)
    suite.run = lambda case: {"data": {"subject": case.inputs["subject"] + " Goodbye", "priority": "high"}}

    report = run_suite(suite)

    comparison = report.comparison
    assert comparison.previous.pk != report.run.pk and comparison.same_dataset
    assert comparison.score_deltas["prefixed"] == -1.0
    assert {(c.case_id, c.metric) for c in comparison.worse} == {
        ("refund", "prefixed"),
        ("late", "prefixed"),
        ("miss", "prefixed"),
    }
    assert [(c.case_id, c.metric, c.why) for c in comparison.better] == [
        ("miss", "mentions_expected", ["'Goodbye' missing"])
    ]
    assert comparison.worse[0].why == ["subject 'Refund please Goodbye' lacks 'Re: '"]


# --- the command ---------------------------------------------------------------------------------


def test_command_prints_a_summary_table_and_passes(suite, capsys):
    call_command("evaluate_ai", "--feature", FEATURE)
    out = capsys.readouterr()
    assert "test.eval  (3 cases, offline/offline, offline" in out.out
    assert "mentions_expected" in out.out and "0.667" in out.out
    assert "line 4: not valid JSON" in out.out
    assert "3/3" in out.err  # the progress bar


def test_command_exits_non_zero_listing_the_cases_that_fell(suite, thresholds, capsys):
    thresholds.write_text(json.dumps({"mentions_expected": 1.0}))
    with pytest.raises(CommandError, match=r"1 threshold\(s\) missed:\n  test.eval mentions_expected 0.667 < 1"):
        call_command("evaluate_ai", "--feature", FEATURE)
    assert "miss: 'Goodbye' missing" in capsys.readouterr().out


def test_command_json_output(suite, capsys):
    call_command("evaluate_ai", "--feature", FEATURE, "--json")
    [result] = json.loads(capsys.readouterr().out)
    assert result["feature"] == FEATURE and result["passed"] is True
    assert result["scores"]["prefixed"] == 1.0 and result["skipped"] == {}


def test_command_errors_name_what_is_missing(suite, tmp_path):
    with pytest.raises(CommandError, match="unknown feature 'nope.feature'; registered: .*test.eval"):
        call_command("evaluate_ai", "--feature", "nope.feature")
    with pytest.raises(CommandError, match=f"dataset {tmp_path}/absent.jsonl does not exist"):
        call_command("evaluate_ai", "--feature", FEATURE, "--dataset", str(tmp_path / "absent.jsonl"))
    with pytest.raises(CommandError, match="--dataset needs exactly one --feature"):
        call_command("evaluate_ai", "--dataset", str(tmp_path / "absent.jsonl"))
    with pytest.raises(CommandError, match=f"replay directory {tmp_path}/none does not exist"):
        call_command("evaluate_ai", "--replay", str(tmp_path / "none"))


def test_command_runs_another_dataset_for_one_feature(suite, tmp_path, capsys):
    other = write_jsonl(tmp_path / "other.jsonl", [{"id": "one", "inputs": {"subject": "x"}, "expected": {}}])
    call_command("evaluate_ai", "--feature", FEATURE, "--dataset", str(other), "--json")
    [result] = json.loads(capsys.readouterr().out)
    assert result["cases"] == 1


# --- deterministic building blocks -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text, found",
    [
        ("We apologize for the color of the parcel.", ["apologize -> apologise", "color -> colour"]),
        ("We apologise for the colour of the parcel.", []),
        ("Your loyalty program points and a refund by check.", ["check -> cheque", "program -> programme"]),
        ("Please check your order; the programme is new.", []),
        # "meter" is the device in British English; only the unit is spelt "metre".
        ("Your smart meter reading is due; we can fit two smart meters.", []),
        ("The cable is 5 meters long, a 100-meter run.", ["meters -> metres", "meter -> metre"]),
        ("It is 3 kilometers away, 2.5 meters from the road.", ["kilometers -> kilometres", "meters -> metres"]),
        (
            "The organization canceled the license.",
            [
                "organization -> organisation",
                "canceled -> cancelled",
                "license -> licence",
            ],
        ),
    ],
)
def test_american_spellings_are_found_with_their_british_forms(text, found):
    assert sorted(american_spellings(text)) == sorted(found)


def test_the_spelling_list_has_at_least_a_hundred_pairs():
    from llm.evaluation.metrics import AMERICAN_TO_BRITISH

    assert len(AMERICAN_TO_BRITISH) >= 100


def test_invented_facts_are_names_amounts_and_dates_absent_from_the_sources():
    sources = ({"first_name": "Dana", "order": {"number": "1042", "amount": "59.90"}},)
    assert invented_facts("Hi Dana, order 1042 for £59.90 is on its way.", *sources) == []
    assert invented_facts("Hi Maria, we refunded £80.00 on 3 March.", *sources) == [
        "date:3 March",
        "amount:£80.00",
        "name:Maria",
    ]


def test_limits_and_macro_f1():
    assert within_limit("x" * 161, max_chars=160) == ["161 characters, limit 160"]
    assert within_limit("one two three", max_words=3) == []
    score, per = macro_f1([("a", "x", "x"), ("b", "x", "y"), ("c", "y", "y")])
    assert per == {"x": pytest.approx(2 / 3), "y": pytest.approx(2 / 3)} and score == pytest.approx(2 / 3)


def test_the_anthropic_path_is_evaluated_through_the_real_sdk(suite, fake_anthropic):
    fake_anthropic.add(
        message(tool={"subject": "Re: Refund please", "priority": "high"}, tool_name="record_test_structured"),
        message(tool={"subject": "Late parcel", "priority": "high"}, tool_name="record_test_structured"),
        message(tool={"subject": "Re: Goodbye", "priority": "high"}, tool_name="record_test_structured"),
    )
    with llm.use_provider(fake_anthropic.provider()):
        report = run_suite(suite)
    assert (report.run.provider, report.run.model, report.run.mode) == ("anthropic", "claude-sonnet-4-6", "live")
    assert report.run.scores["prefixed"] == pytest.approx(0.6667)
    assert report.run.results.get(case_id="late").reasons == {"prefixed": ["subject 'Late parcel' lacks 'Re: '"]}
    assert report.run.cost_usd > 0 and report.run.input_tokens == 360


def test_citations_resolve_names_each_citation_that_points_at_nothing():
    from llm.evaluation.metrics import citations_resolve

    assert citations_resolve(["order:1", "ticket:9"], ["order:1", "order:2"]) == [
        "citation 'ticket:9' resolves to nothing given"
    ]
    assert citations_resolve([], ["order:1"]) == []
