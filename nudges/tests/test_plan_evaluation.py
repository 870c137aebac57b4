"""The action-plan evaluation suite: offline within its thresholds on 48 deals, and each metric
fails on a deliberately wrong plan."""

import copy

import pytest

from llm.evaluation import get_suite, load_dataset, run_suite
from nudges import plan_evaluation as ev

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def cases():
    return {c.id: c for c in load_dataset(get_suite("nudges.plan").dataset).cases}


def test_offline_plan_suite_meets_its_thresholds():
    report = run_suite(get_suite("nudges.plan"))
    assert report.passed, [(f.metric, f.cases[:3]) for f in report.fell]
    assert report.run.cases >= 40
    tags = {t for c in load_dataset(get_suite("nudges.plan").dataset).cases for t in c.tags}
    assert {"no_emails", "ghosted", "overdue", "opted_out_primary", "whatsapp_only", "huge", "tiny"} <= tags


def good(case):
    return ev.run_plan(case)


def test_counts_fail_on_three_p0(cases):
    c = cases["plan-00-no_emails"]
    out = good(c)
    extra = copy.deepcopy([a for a in out["plan"]["actions"] if a["priority"] == "P0"][0])
    out["plan"]["actions"] += [extra, extra]
    assert ev.priority_counts(c, out).score == 0.0


def test_content_fails_on_a_p0_without_body_and_a_p1_with_content(cases):
    c = cases["plan-00-no_emails"]
    out = good(c)
    out["plan"]["actions"][0]["content"] = {"subject": "Hi"}
    assert ev.p0_full_content(c, out).score == 0.0
    out = good(c)
    p1 = next(a for a in out["plan"]["actions"] if a["priority"] == "P1")
    p1["content"] = {"message": "full"}
    assert ev.p0_full_content(c, out).score == 0.0


def test_channel_rules_fail_on_an_opted_out_contact_and_unasked_whatsapp(cases):
    c = cases["plan-03-opted_out_primary"]
    out = good(c)
    out["plan"]["actions"][0]["contact"] = c.expected["opted_out"][0]
    assert "opted out" in ev.channel_rules(c, out).reasons[0]
    c = cases["plan-00-no_emails"]
    out = good(c)
    name = next(iter(c.expected["reachable"]))
    out["plan"]["actions"][0].update(channel="whatsapp", contact=name)
    assert ev.channel_rules(c, out).score == 0.0


def test_timing_fails_outside_the_window(cases):
    c = cases["plan-00-no_emails"]
    out = good(c)
    out["plan"]["actions"][0]["timing"] = "Saturday 20:00"
    assert ev.best_practice_timing(c, out).score == 0.0


def test_learning_metric_fails_on_a_long_email(cases):
    c = next(c for c in cases.values() if c.expected["email_word_limit"] == 60)
    out = good(c)
    email = next(a for a in out["plan"]["actions"] if a["priority"] == "P0" and a["channel"] == "email")
    email["content"]["body"] = "word " * 80
    assert ev.follows_learnings(c, out).score == 0.0


def test_invented_facts_and_injection_fail(cases):
    c = cases["plan-11-injection"]
    out = good(c)
    out["plan"]["actions"][0]["rationale"] = "Offer a 90% discount, as Jennifer Lawrence said on 3 March 2027."
    assert ev.no_invented_facts(c, out).score == 0.0
    assert ev.not_steered_by_customer_text(c, out).score == 0.0
