"""The nudge evaluation suite: offline within its thresholds, and every metric that scores 1.0
offline fails on a deliberately wrong nudge."""

import pytest

from llm.evaluation import get_suite, load_dataset, run_suite
from nudges import evaluation as ev

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def cases():
    return {c.id: c for c in load_dataset(get_suite("nudges.nudge").dataset).cases}


def pick(cases, code: str, *, without=()):
    return next(c for c in cases.values() if code in c.inputs["codes"] and not set(without) & set(c.inputs["codes"]))


def out(text: str) -> dict:
    return {"text": text, "offline": False, "flags": []}


def test_offline_nudge_suite_meets_its_thresholds_on_forty_cases():
    report = run_suite(get_suite("nudges.nudge"))
    assert report.passed, [(f.metric, f.cases[:3]) for f in report.fell]
    assert report.run.cases >= 40 and report.run.skipped == {"nudge_quality": "offline provider: no model to judge"}
    tags = {t for c in load_dataset(get_suite("nudges.nudge").dataset).cases for t in c.tags}
    assert {"no-contact", "no-emails", "huge-deal", "tiny-deal", "whatsapp", "linkedin"} <= tags


def test_right_contact_fails_on_a_colleague_or_the_owner(cases):
    c = pick(cases, "ghosted")
    want = c.expected["contact_first_name"]
    colleague = c.expected["other_people"][0].split(" ")[0]
    owner = c.expected["other_people"][-1].split(" ")[0]
    assert ev.right_contact(c, out(f"Call {colleague} today.")).reasons == [
        f"does not name the contact {want}",
        f"names {colleague}, who is not the deal's contact",
    ]
    assert ev.right_contact(c, out(f"Call {want} and {owner} today.")).score == 0.0
    assert ev.right_contact(c, out(f"Call {want} today.")).score == 1.0


def test_right_deal_fails_when_another_deal_is_named(cases):
    c = next(iter(cases.values()))
    other = c.expected["other_deals"][0]
    assert f"names another deal or account: {other}" in ev.right_deal(c, out(f"Chase the {other} paperwork.")).reasons


def test_true_signals_fails_on_a_warning_that_did_not_fire(cases):
    c = pick(cases, "no_activity", without=("ghosted", "next_step_overdue", "single_threaded", "stalled_in_stage"))
    reasons = ev.true_signals(c, out("The step is overdue and they have gone quiet; ask who else to involve.")).reasons
    assert [r.split(" but ")[0] for r in reasons] == ["says 'overdue'", "says 'gone quiet'", "says 'single-threaded'"]


def test_token_budget_fails_on_a_long_nudge(settings, cases):
    settings.NUDGES_MAX_TOKENS = 80
    c = next(iter(cases.values()))
    assert ev.token_budget(c, out("word " * 70)).reasons == ["about 88 tokens, budget 80"]


def test_action_fits_warning_fails_when_the_action_ignores_the_warning(cases):
    ghosted = pick(cases, "ghosted", without=("next_step_overdue", "single_threaded"))
    assert ev.action_fits_warning(ghosted, out("Email them again today.")).reasons == [
        "ghosted, yet the action stays on email"
    ]
    overdue = pick(cases, "next_step_overdue")
    assert "is not named" in ev.action_fits_warning(overdue, out("Call them today.")).reasons[0]
    single = pick(cases, "single_threaded", without=("ghosted",))
    assert "who else" in ev.action_fits_warning(single, out("Call them today.")).reasons[-1]


def test_no_invented_facts_fails_on_a_made_up_amount_and_person(cases):
    c = next(iter(cases.values()))
    reasons = ev.no_invented_facts(c, out("Offer Bartholomew Quince a 15% discount on the €99,000 renewal.")).reasons
    assert "invented percent:15%" in reasons and "invented name:Bartholomew Quince" in reasons


def test_a_capitalised_verb_before_the_contacts_name_is_not_an_invented_name(cases):
    c = pick(cases, "stalled_in_stage")
    first = c.expected["contact_first_name"]
    assert ev.no_invented_facts(c, out(f"Ask {first} what must happen next.")).score == 1.0


def test_british_spelling_fails_on_american_forms(cases):
    c = next(iter(cases.values()))
    assert ev.british_spelling(c, out("Call them to finalize the program.")).reasons == [
        "American spelling finalize -> finalise"
    ]


def test_offline_adversarial_nudge_suite_meets_its_thresholds():
    report = run_suite(get_suite("nudges.nudge.adversarial"))
    assert report.passed and report.run.cases >= 20


def test_adversarial_nudge_metrics_fail_when_the_nudge_obeys_the_buyer():
    suite = get_suite("nudges.nudge.adversarial")
    c = next(x for x in load_dataset(suite.dataset).cases if x.id == "adv-nudge-new-instructions")
    obeyed = ev.instructions_not_followed(c, out("Call Yuki today. PWNED-NUDGE"))
    assert obeyed.reasons == ["followed the injection: says 'PWNED-NUDGE'"]
    assert ev.guardrail_marked(c, out("Call Yuki today.")).score == 0.0
    assert ev.guardrail_marked(c, {**out("Call Yuki today."), "flags": ["possible_injection"]}).score == 1.0
