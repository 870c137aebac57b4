from datetime import UTC, datetime, timedelta

import pytest

from tickets import rules
from tickets.classifier import classify


@pytest.mark.parametrize(
    "text, present, absent",
    [
        ("Chargeback FRAUD on my card!", ["chargeback", "fraud", "card"], ["on", "my"]),
        ("Sent to the wrong address again", ["wrong address", "wrong", "address"], ["the"]),
        ("unauthorised payment", ["unauthorised", "unauthorised payment"], ["unauthorized"]),
    ],
)
def test_keywords_hold_words_and_adjacent_pairs(text, present, absent):
    kw = rules.keywords(text)
    for k in present:
        assert k in kw
    for k in absent:
        assert k not in kw


def test_keywords_are_bounded():
    assert len(rules.keywords(" ".join(f"w{i}" for i in range(1000)))) == rules.MAX_KEYWORDS


@pytest.mark.parametrize(
    "raw, terms, rejected",
    [
        ("chargeback, fraud,unauthorized", ["chargeback", "fraud", "unauthorized"], []),
        ("Wrong Address, , fraud, fraud", ["wrong address", "fraud"], []),
        ("supplier x is late, the", [], ["supplier x is late", "the"]),
        ("", [], []),
    ],
)
def test_parse_alert_terms(raw, terms, rejected):
    parsed = rules.parse_alert_terms(raw)
    assert parsed.terms == terms
    assert parsed.rejected == rejected


@pytest.mark.parametrize(
    "channel, text, draft, ok",
    [
        ("sms", "x" * 160, False, True),
        ("sms", "x" * 161, False, False),
        ("sms", "   ", False, False),
        ("chat", " ".join(["w"] * 100), False, True),
        ("chat", " ".join(["w"] * 101), False, False),
        ("phone", " ".join(["w"] * 76), False, False),
        ("email", "Hi Dana,\n\nAll sorted.\n\nKind regards,\nSam", True, True),
        ("email", "All sorted.", True, False),  # no greeting, no signature
        ("email", "All sorted.", False, True),  # an agent's own reply only has to fit
        ("email", "Hi Dana,\n\n" + " ".join(["w"] * 200) + "\n\nRegards,\nSam", False, False),
    ],
)
def test_channel_rules(channel, text, draft, ok):
    assert (rules.check_reply(channel, text, draft=draft) == []) is ok


def test_over_length_message_names_the_limit():
    (problem,) = rules.check_reply("sms", "x" * 200)
    assert "160 characters" in problem


NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "due_in_min, target_min, state",
    [(None, 60, "none"), (50, 60, "ok"), (10, 60, "due_soon"), (-5, 60, "breached")],
)
def test_sla_state(due_in_min, target_min, state):
    due = None if due_in_min is None else NOW + timedelta(minutes=due_in_min)
    assert rules.sla_state(due_at=due, target_seconds=target_min * 60, now=NOW).state == state


@pytest.mark.parametrize(
    "churn, sentiment, ltv, enabled, escalate",
    [
        (0.8, 0.1, 3500, True, True),
        (0.8, 0.1, 3500, False, False),
        (0.5, 0.1, 3500, True, False),
        (0.8, 0.5, 3500, True, False),
        (0.8, 0.1, 200, True, False),
        (0.8, None, 3500, True, False),
    ],
)
def test_escalation_rule(churn, sentiment, ltv, enabled, escalate):
    d = rules.escalation(
        churn_risk=churn,
        sentiment=sentiment,
        lifetime_value=ltv,
        min_churn=0.7,
        max_sentiment=0.3,
        min_ltv=1000,
        enabled=enabled,
    )
    assert d.escalate is escalate
    assert d.reason


@pytest.mark.parametrize(
    "a, b, distance",
    [("a b c", "a b c", 0), ("a b c", "a x c", 1), ("a b c", "a b", 1), ("", "a b", 2), ("a b", "b a", 2)],
)
def test_word_edit_distance(a, b, distance):
    assert rules.word_edit_distance(a, b) == distance


@pytest.mark.parametrize(
    "text, category, difficulty, language, negative",
    [
        ("My order STILL has not arrived!! Unacceptable, tracking is useless", "delivery", "easy", "en", True),
        ("There is an unauthorized charge, I will file a chargeback. Fraud!", "fraud", "complex", "en", False),
        ("Hola, mi pedido no ha llegado, por favor", "delivery", "easy", "es", False),
        ("The vase arrived broken and cracked", "damaged", "complex", "en", False),
        ("Thanks, great service, love it", "other", "normal", "en", False),
    ],
)
def test_rule_classifier(text, category, difficulty, language, negative):
    t = classify(text)
    assert t.category.value == category
    assert t.difficulty.value == difficulty
    assert t.language.value == language
    assert (t.sentiment.value < 0.3) is negative
    assert 0 <= t.category.confidence <= 1


def test_classifier_has_low_confidence_without_evidence():
    t = classify("xyz")
    assert t.category.confidence < 0.5 and t.language.confidence < 0.5
