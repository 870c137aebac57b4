import math
from datetime import timedelta

import pytest
from django.utils import timezone

from tickets import scoring
from tickets.models import Ticket
from tickets.scoring import ScoreInputs, Weights


def test_seed_worked_example_gives_the_seed_components():
    # VIP, $3,500 LTV, churn 0.8, urgent, complex, frustrated.
    s = scoring.score(
        ScoreInputs(churn_risk=0.8, lifetime_value=3500, priority="urgent", difficulty="complex", sentiment=0.1),
        Weights(),
    )
    assert scoring.rounded(s.components) == {
        "churn_risk": 2.4,
        "customer_value": 7.0,
        "urgency": 6.0,
        "age": 0.0,
        "difficulty": -1.5,
        "sentiment": 2.0,
        "topic_alert": 0.0,
    }
    assert s.total == pytest.approx(15.9)


@pytest.mark.parametrize(
    "waited_h, target_h, expected",
    [
        (None, 1, 0.0),  # not waiting on us
        (0, 1, 0.0),  # just arrived
        (0.5, 1, 0.5),  # half the target used
        (1, 1, 1.0),  # target reached
        (2, 1, 2.0),  # twice the target: the cap
        (50, 1, 2.0),  # a forgotten ticket rises no further
        (4, 8, 0.5),
        (-1, 1, 0.0),  # clock skew never goes negative
    ],
)
def test_age_grows_with_the_share_of_the_sla_used_and_is_capped(waited_h, target_h, expected):
    waited = None if waited_h is None else waited_h * 3600
    assert scoring.age_component(waited, target_h * 3600, Weights()) == pytest.approx(expected)


def test_older_ticket_outranks_newer_one_all_else_equal():
    base = dict(churn_risk=0.2, lifetime_value=500, priority="normal", response_target_seconds=8 * 3600)
    old = scoring.score(ScoreInputs(waiting_seconds=6 * 3600, **base), Weights()).total
    new = scoring.score(ScoreInputs(waiting_seconds=600, **base), Weights()).total
    assert old > new


@pytest.mark.parametrize(
    "priority, expected", [("urgent", 6.0), ("high", 4.5), ("normal", 1.5), ("low", 0.75), ("bogus", 1.5)]
)
def test_urgency_component(priority, expected):
    assert scoring.urgency_component(priority, Weights()) == pytest.approx(expected)


@pytest.mark.parametrize(
    "difficulty, sentiment, d, s",
    [("easy", 0.9, 1.0, 0.0), ("complex", 0.29, -1.5, 2.0), ("normal", 0.3, 0.0, 0.0), ("", None, 0.0, 0.0)],
)
def test_difficulty_and_sentiment_terms(difficulty, sentiment, d, s):
    w = Weights()
    assert scoring.difficulty_component(difficulty, w) == d
    assert scoring.sentiment_component(sentiment, w) == s


def test_topic_alert_adds_boost_but_is_not_stored():
    s = scoring.score(
        ScoreInputs(churn_risk=0, lifetime_value=0, priority="low", matches_topic_alert=True),
        Weights(topic_alert_boost=5),
    )
    assert s.components["topic_alert"] == 5.0
    assert s.stored_total == pytest.approx(s.total - 5.0)


def test_custom_weights_change_components():
    w = Weights(churn=10, value=0, urgency=0)
    s = scoring.score(ScoreInputs(churn_risk=0.5, lifetime_value=9999, priority="urgent"), w)
    assert s.components["churn_risk"] == 5.0 and s.components["customer_value"] == 0 and s.components["urgency"] == 0


@pytest.mark.django_db
def test_sql_rescore_matches_the_pure_module(make_ticket, account):
    now = timezone.now()
    cases = [
        ("urgent", "complex", 0.1, 0.5),
        ("high", "easy", 0.9, 3),
        ("normal", "", None, 20),
        ("low", "normal", 0.29, 0.01),
    ]
    tickets = []
    for priority, difficulty, sentiment, hours in cases:
        t = make_ticket(f"text {priority}", priority=priority)
        Ticket.objects.filter(pk=t.pk).update(
            difficulty=difficulty,
            sentiment=sentiment,
            waiting_since=now - timedelta(hours=hours),
            waiting_since_ts=(now - timedelta(hours=hours)).timestamp(),
        )
        tickets.append(t.pk)
    w = Weights(version=7, churn=2.5, value=1.1, urgency=1.7, age=1.3, age_cap=1.5, sentiment_threshold=0.3)
    assert Ticket.objects.filter(pk__in=tickets).rescore(w, now_ts=now.timestamp()) == 4
    for t in Ticket.objects.filter(pk__in=tickets):
        expected = scoring.score(t.score_inputs(now=now), w)
        assert t.weight_set_id is None  # ad-hoc weights, no stored set
        assert math.isclose(t.score, expected.stored_total, rel_tol=1e-9, abs_tol=1e-9)
        assert t.stored_components() == pytest.approx(expected.components)
