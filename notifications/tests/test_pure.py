from datetime import date

import pytest

from notifications import risk, segments, spelling
from notifications.exports import safe_cell

TODAY = date(2026, 11, 20)


@pytest.mark.parametrize(
    ("facts", "segment"),
    [
        ({"price_enquiries": 2, "tariff": "Fixed"}, "Value Seekers"),
        ({"price_enquiries": 0, "tariff": "Standard Variable", "monthly_spend": 120}, "Value Seekers"),
        ({"price_enquiries": 0, "tariff": "Standard Variable", "monthly_spend": 60}, "Everyday Customers"),
        ({"payment_status": "missed"}, "Support Needed"),
        ({"green_tariff": True}, "Green Advocates"),
        ({"preferred_channel": "sms", "engagement_score": 80}, "Digital Natives"),
        ({"tenure_months": 72}, "Loyal Traditionalists"),
    ],
)
def test_default_rules_classify(facts, segment):
    result = segments.classify(facts, segments.parse_rules(segments.DEFAULT_RULES))
    assert result.segment == segment
    assert result.reason


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("Value Seekers price_enquiries >= 1", "expected 'Segment name"),
        ("X: colour = red", "unknown field 'colour'"),
        ("X: monthly_spend >= lots", "compares numbers"),
        ("X: tariff > 3", "is text"),
        ("X: monthly_spend ~ 3", "cannot read"),
    ],
)
def test_bad_rule_lines_name_the_problem(text, needle):
    with pytest.raises(segments.RuleError, match=needle):
        segments.parse_rules("Good: tenure_months >= 1\n" + text)


def test_rule_errors_name_the_line():
    with pytest.raises(segments.RuleError, match="line 2"):
        segments.parse_rules("A: tenure_months >= 1\nB: nope = 1")


def _facts(**kw):
    return risk.Facts(customer_id="C1", **kw)


def test_calm_customer_scores_low_and_routine():
    r = risk.score(_facts(churn_risk=0.1, engagement_score=85, tenure_months=80), TODAY)
    assert r.score <= 2 and r.priority == "Low" and r.level == "routine"
    assert all(f.delta < 0 for f in r.factors)


def test_signals_raise_the_score_and_each_factor_names_its_record():
    inter = (risk.InteractionFact("INT-9", date(2026, 11, 1), "Complaint", -0.8, "on hold"),)
    r = risk.score(_facts(churn_risk=0.8, engagement_score=20, payment_status="missed", interactions=inter), TODAY)
    assert r.score == 10 and r.priority == "High" and r.urgency == "Contact within 24 hours"
    refs = {(f.kind, f.ref) for f in r.factors}
    assert ("interaction", "INT-9") in refs and ("activity", "C1") in refs


def test_old_interactions_do_not_count():
    inter = (risk.InteractionFact("INT-1", date(2025, 1, 1), "Complaint", -0.9),)
    assert risk.score(_facts(interactions=inter), TODAY).factors == ()


def test_contract_ending_within_a_fortnight_is_at_least_medium():
    r = risk.score(
        _facts(churn_risk=0.0, engagement_score=90, tenure_months=100, contract_end=date(2026, 11, 30)), TODAY
    )
    assert r.priority == "Medium"


def test_risk_check_counts_churned_in_top_share_and_breaks_ties_against_the_score():
    rows = [(9, 9.0, True), (9, 9.0, False), (2, 2.0, False), (1, 1.0, True)] + [(1, 1.0, False)] * 6
    check = risk.risk_check(rows)  # top 3 of 10: both 9s and the 2
    assert check.found_in_top == 1 and check.churned == 2 and check.recall == 0.5
    tied = risk.risk_check([(5, 5.0, True), (5, 5.0, False), (5, 5.0, False)], top_share=1 / 3)
    assert tied.found_in_top == 0


def test_spelling_list_has_at_least_100_pairs_and_finds_american_forms():
    assert len(set(spelling.AMERICAN_TO_BRITISH) - spelling.AMBIGUOUS) >= 100
    assert spelling.american_words("We realize your favorite color") == ["realize", "favorite", "color"]
    assert spelling.american_words("Please check your smart meter") == []
    assert spelling.american_words("Your smart meter reading; both smart meters") == []
    assert spelling.american_words("Pay by check: the meter box is 2 meters from the house") == ["check", "meters"]
    assert spelling.britishise("your smart meter") == "your smart meter"
    assert spelling.britishise("We Apologize") == "We Apologise"


@pytest.mark.parametrize("cell", ["=1+1", "+44", "-3", "@SUM(A1)", "\tx", "\rx"])
def test_formula_cells_are_escaped(cell):
    assert safe_cell(cell) == "'" + cell
