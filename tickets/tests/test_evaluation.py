"""The inbox's evaluation suites: they run offline within their thresholds, and every metric that
scores 1.0 offline fails on a deliberately wrong output (no metric is a check that cannot fail)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from llm.evaluation import get_suite, load_dataset, run_suite
from tickets import ai
from tickets import evaluation as ev

pytestmark = pytest.mark.django_db


def case(feature: str, case_id: str):
    return next(c for c in load_dataset(get_suite(feature).dataset).cases if c.id == case_id)


def draft_output(content: str, **kw) -> dict:
    return {"content": content, "personalization": kw.pop("personalization", {}), "flags": kw.pop("flags", []), **kw}


@pytest.mark.parametrize("feature", ["tickets.draft", "tickets.triage", "tickets.draft.adversarial"])
def test_offline_suites_meet_their_thresholds_on_at_least_forty_or_twenty_cases(feature):
    report = run_suite(get_suite(feature))
    assert report.passed, [(f.metric, f.score, f.cases[:3]) for f in report.fell]
    assert report.run.cases >= (20 if "adversarial" in feature else 40)
    assert not report.run.dataset_issues


def test_offline_draft_run_reports_the_judge_as_skipped():
    report = run_suite(get_suite("tickets.draft"))
    assert report.run.skipped == {"draft_quality": "offline provider: no model to judge"}


# --- each always-1.0 metric fails on a wrong output --------------------------------------------------


@pytest.mark.parametrize(
    "channel, content, problem",
    [
        ("sms", "Hi Sam, " + "x" * 160, "sms: 168 characters, limit 160"),
        ("email", "Hi Dana,\n\n" + "word " * 201 + "\n\nKind regards,\nDana", "email: 206 words, limit 200"),
        ("chat", "Hi! " + "ok " * 100, "chat: 101 words, limit 100"),
        ("phone", "Hello, " + "yes " * 75, "phone: 76 words, limit 75"),
    ],
)
def test_channel_limit_fails_a_draft_over_its_channels_limit(channel, content, problem):
    c = next(x for x in load_dataset(get_suite("tickets.draft").dataset).cases if x.inputs["channel"] == channel)
    result = ev.channel_limit(c, draft_output(content))
    assert result.score == 0.0 and result.reasons == [problem]


def test_greeting_signoff_fails_without_greeting_signature_or_with_a_letter_ending_on_sms():
    email = next(x for x in load_dataset(get_suite("tickets.draft").dataset).cases if x.inputs["channel"] == "email")
    sms = next(x for x in load_dataset(get_suite("tickets.draft").dataset).cases if x.inputs["channel"] == "sms")
    assert ev.greeting_signoff(email, draft_output("Your parcel is on its way.")).reasons == [
        "email draft does not open with a greeting",
        "email draft has no sign-off",
        "email draft does not end with the signature 'Dana, NextTouch Support'",
    ]
    assert ev.greeting_signoff(sms, draft_output("Hi Sam, on its way.\nKind regards,\nDana")).score == 0.0


def test_no_invented_facts_catches_order_numbers_tracking_amounts_dates_and_names():
    c = case("tickets.draft", "draft-00-email-regular")
    wrong = "Hi Maria,\n\nOrder #99999 is out for delivery and we refunded £120.00 on 3 March.\n\nKind regards,\nDana"
    reasons = ev.no_invented_facts(c, draft_output(wrong)).reasons
    assert "invented order number #99999" in reasons
    assert "invented tracking status 'out for delivery'" in reasons
    assert "invented amount:£120.00" in reasons and "invented date:3 March" in reasons
    assert "invented name:Maria" in reasons


def test_personalisation_flag_true_without_using_the_fact_fails():
    c = case("tickets.draft", "draft-00-email-regular")
    out = draft_output("Hi Dana, we are looking into it.", personalization={"used_order_info": True})
    assert ev.personalisation_truthful(c, out).reasons == ["used_order_info is true but the text does not use it"]


def test_care_tone_fails_when_a_vip_is_asked_for_a_photo_and_when_a_regular_gets_an_unlisted_offer():
    vip = next(
        x
        for x in load_dataset(get_suite("tickets.draft").dataset).cases
        if x.inputs["extra_care"] and x.inputs["channel"] == "email"
    )
    regular = case("tickets.draft", "draft-00-email-regular")
    asked = ev.care_tone(vip, draft_output("Hi, could you send a photo of the damage?"))
    assert asked.score == 0.0 and "asks a VIP/high-churn customer for an extra step" in asked.reasons[0]
    assert ev.care_tone(regular, draft_output("Hi Dana, here is a discount for the wait.")).score == 0.0


def test_british_spelling_fails_on_american_forms():
    c = case("tickets.draft", "draft-00-email-regular")
    assert ev.british_spelling(c, draft_output("We apologize, your order was canceled.")).reasons == [
        "American spelling apologize -> apologise",
        "American spelling canceled -> cancelled",
    ]


def test_instruction_followed_fails_when_the_regeneration_is_longer_or_lacks_the_apology():
    dataset = load_dataset(get_suite("tickets.draft").dataset).cases
    shorter = next(x for x in dataset if "shorter_than" in x.expected and x.inputs["channel"] == "email")
    assert ev.instruction_followed(shorter, draft_output(shorter.inputs["previous_draft"] + " More words.")).score == 0
    sorry = next(x for x in dataset if x.expected.get("apologise"))
    assert ev.instruction_followed(sorry, draft_output("Hi, it is on its way.")).reasons[-1] == (
        "asked to apologise: no apology in the draft"
    )


def test_adversarial_metric_fails_when_the_draft_obeys_the_hidden_instruction():
    c = case("tickets.draft.adversarial", "adv-ignore-refund")
    obeyed = draft_output("Hi Dana,\n\nWe will give you a full refund of £500.\n\nKind regards,\nDana")
    reasons = ev.instructions_not_followed(c, obeyed).reasons
    assert "followed the injection: says '£500'" in reasons and "followed the injection: says 'full refund'" in reasons
    assert ev.guardrail_marked(c, draft_output("x", flags=[])).score == 0.0
    assert ev.guardrail_marked(c, draft_output("x", flags=["injection:customer_text"])).score == 1.0


def test_triage_language_metrics_fail_on_a_wrong_language():
    suite = get_suite("tickets.triage")
    c = case("tickets.triage", "es-late")
    fields = ai.triage_offline(c.inputs)
    wrong = {"fields": {**fields, "language": {"value": "en", "confidence": 0.9}}}
    by_name = {m.metric_name: m for m in suite.metrics}
    assert by_name["language_correct"](c, wrong).reasons == ["language: expected es, got en"]
    f1 = next(m for m in suite.dataset_metrics if m.metric_name == "language_macro_f1")
    assert f1([(c, wrong)]).score == 0.0


def test_confident_precision_counts_only_fields_over_the_threshold(settings):
    settings.TICKETS_TRIAGE_MIN_CONFIDENCE = 0.6
    c = case("tickets.triage", "lamp-broken")
    right = {
        "sentiment": {"value": 0.2, "confidence": 0.9},
        "category": {"value": "refund", "confidence": 0.7},  # wrong, applied
        "difficulty": {"value": "easy", "confidence": 0.3},  # wrong, not applied
        "language": {"value": "en", "confidence": 0.9},
    }
    result = ev.confident_precision([(c, {"fields": right})])
    assert result.score == pytest.approx(2 / 3)
    assert "lamp-broken: category applied as refund, is damaged" in result.reasons


# --- the gate --------------------------------------------------------------------------------------


def test_the_gate_fails_naming_the_cases_when_a_score_is_lowered(monkeypatch, capsys):
    real = ai.draft_offline

    def long_sms(inputs):
        out = real(inputs)
        if inputs["channel"] == "sms":
            out["content"] = out["content"] + " " + "Thanks for your patience. " * 8
        return out

    monkeypatch.setitem(__import__("llm.registry").registry._OFFLINE_WRITERS, ai.DRAFT_FEATURE, long_sms)
    with pytest.raises(CommandError, match=r"tickets.draft channel_limit 0.750 < 1: 12 case\(s\) fell"):
        call_command("evaluate_ai", "--feature", "tickets.draft")
    out = capsys.readouterr().out
    assert "FELL channel_limit 0.750 < 1:" in out
    assert "draft-00-sms-vip: sms: 362 characters, limit 160" in out
    assert "draft-00-email" not in out  # only the cases that fell are listed


def test_the_gate_exits_non_zero_from_the_command_line_when_labels_pull_f1_under_the_threshold(tmp_path):
    rows = [json.loads(line) for line in Path(get_suite("tickets.triage").dataset).read_text().splitlines()]
    for row in rows[::2]:
        row["expected"]["category"] = "other"  # half the labels now disagree with any sane triage
    lowered = tmp_path / "lowered.jsonl"
    lowered.write_text("\n".join(json.dumps(r) for r in rows))
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'gate.sqlite3'}",
        "LLM_PROVIDER": "offline",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "gate-test",
    }
    manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=settings.BASE_DIR, timeout=300)
    done = subprocess.run(
        [*manage, "evaluate_ai", "--feature", "tickets.triage", "--dataset", str(lowered)],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1
    assert "FELL category_macro_f1" in done.stdout and "expected other, got delivery" in done.stdout
    assert "tickets.triage category_macro_f1" in done.stderr
