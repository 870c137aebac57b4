from datetime import UTC, date, datetime, timedelta

import pytest

from nudges import rules
from nudges.rules import DealFacts, RuleConfig

NOW = datetime(2024, 1, 22, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


def facts(idle=10, amount=5000.0, **kw):
    base = {
        "deal_id": 1,
        "amount": amount,
        "last_touch_at": NOW - timedelta(days=idle),
        "created_at": NOW - timedelta(days=400),
        "stage_name": "Proposal",
        "stage_changed_at": NOW - timedelta(days=3),
        "contacts_engaged": 2,
    }
    base.update(kw)
    return DealFacts(**base)


@pytest.mark.parametrize(
    "idle, amount, nudged",
    [
        (6, 1_000_000, False),  # under 7 idle days, whatever the amount
        (7, 36, True),  # 7 x 36 = 252 > 250: the seed's boundary, inclusive on days
        (7, 35, False),  # 7 x 35 = 245
        (10, 25, False),  # 10 x 25 = 250 is not above 250
        (10, 25.01, True),
        (30, 0, False),  # a zero-value deal is never urgent
        (0, 5000, False),
    ],
)
def test_seed_rule_idle_days_and_urgency_boundaries(idle, amount, nudged):
    verdict = rules.evaluate(facts(idle=idle, amount=amount), RuleConfig(), NOW)
    assert verdict.nudge is nudged
    assert verdict.urgency == pytest.approx(idle * amount)
    assert (rules.NO_ACTIVITY in verdict.codes) is nudged


@pytest.mark.parametrize(
    "min_idle, min_urgency, idle, amount, nudged",
    [
        (3, 250, 3, 100, True),
        (3, 250, 2, 1000, False),
        (7, 10_000, 10, 1000, False),
        (7, 10_000, 11, 1000, True),
    ],
)
def test_seed_rule_numbers_are_configurable(min_idle, min_urgency, idle, amount, nudged):
    config = RuleConfig(min_idle_days=min_idle, min_urgency=min_urgency)
    assert rules.evaluate(facts(idle=idle, amount=amount), config, NOW).nudge is nudged


@pytest.mark.parametrize(
    "stage_days, idle, nudged, threshold",
    [
        (5, 5, True, 5),  # negotiation expects a touch every 5 days
        (5, 4, False, 5),
        (14, 10, False, 14),  # a lead may rest 14 days, past the global 7
        (14, 14, True, 14),
        (None, 7, True, 7),  # no stage threshold: the global one
    ],
)
def test_stage_threshold_replaces_the_global_one(stage_days, idle, nudged, threshold):
    verdict = rules.evaluate(facts(idle=idle, stage_stale_after_days=stage_days), RuleConfig(), NOW)
    assert verdict.nudge is nudged
    assert verdict.threshold_days == threshold


def test_why_now_names_the_stage_expectation():
    verdict = rules.evaluate(facts(idle=12, stage_stale_after_days=7), RuleConfig(), NOW)
    assert verdict.reason == "Idle 12 days in Proposal where this stage expects 7"


@pytest.mark.parametrize(
    "kw, reason",
    [
        ({"status": "won"}, "deal is won"),
        ({"status": "lost"}, "deal is lost"),
        ({"snoozed_until": TODAY + timedelta(days=1)}, "snoozed until 2024-01-23"),
        ({"next_step_due": TODAY}, "next step scheduled for 2024-01-22"),
        ({"next_step_due": TODAY + timedelta(days=30)}, "next step scheduled for 2024-02-21"),
    ],
)
def test_closed_snoozed_or_scheduled_deals_get_no_nudge_however_stale(kw, reason):
    verdict = rules.evaluate(facts(idle=90, amount=1e6, **kw), RuleConfig(), NOW)
    assert verdict.nudge is False
    assert verdict.reason == reason


@pytest.mark.parametrize(
    "snoozed_until, nudged",
    [(TODAY, True), (TODAY - timedelta(days=1), True), (TODAY + timedelta(days=1), False), (None, True)],
)
def test_snooze_ends_on_its_date(snoozed_until, nudged):
    assert rules.evaluate(facts(idle=20, snoozed_until=snoozed_until), RuleConfig(), NOW).nudge is nudged


@pytest.mark.parametrize(
    "due, grace, warned",
    [
        (TODAY - timedelta(days=1), 0, True),
        (TODAY - timedelta(days=1), 1, False),
        (TODAY - timedelta(days=2), 1, True),
    ],
)
def test_overdue_next_step_warns_even_when_recently_touched(due, grace, warned):
    verdict = rules.evaluate(facts(idle=1, next_step_due=due), RuleConfig(next_step_grace_days=grace), NOW)
    assert verdict.nudge is warned
    assert (rules.NEXT_STEP_OVERDUE in verdict.codes) is warned


@pytest.mark.parametrize(
    "silent_h, usual_h, factor, min_h, ghosted",
    [
        (73, 24, 3, 48, True),  # 3 x 24 = 72 h
        (71, 24, 3, 48, False),
        (50, 2, 3, 48, True),  # fast repliers: the 48 h floor applies
        (47, 2, 3, 48, False),
        (100, None, 3, 48, False),  # never replied: no usual time to compare with
        (200, 50, 5, 0, False),
        (251, 50, 5, 0, True),
    ],
)
def test_ghosted_is_relative_to_the_contacts_own_reply_time(silent_h, usual_h, factor, min_h, ghosted):
    f = facts(
        idle=2, waiting_since=NOW - timedelta(hours=silent_h), usual_reply_hours=usual_h, contact_name="Dana Smith"
    )
    verdict = rules.evaluate(f, RuleConfig(ghost_factor=factor, ghost_min_hours=min_h), NOW)
    assert (rules.GHOSTED in verdict.codes) is ghosted
    assert verdict.nudge is ghosted  # idle 2 days: only the ghost warning can open a nudge


def test_ghosted_fires_before_the_idle_threshold_and_explains_itself():
    f = facts(idle=3, waiting_since=NOW - timedelta(days=9), usual_reply_hours=20, contact_name="Dana Smith")
    verdict = rules.evaluate(f, RuleConfig(), NOW)
    assert verdict.codes == [rules.GHOSTED]
    assert verdict.reason == "Dana usually answers within 20 hours and has been silent for 9 days"


def test_a_call_after_the_unanswered_email_restarts_the_silence_clock():
    f = facts(
        idle=1,
        waiting_since=NOW - timedelta(days=9),
        usual_reply_hours=20,
        last_other_touch_at=NOW - timedelta(days=1),
    )
    assert rules.evaluate(f, RuleConfig(), NOW).nudge is False


@pytest.mark.parametrize(
    "in_stage_days, limit, warned",
    [(30, 30, True), (29, 30, False), (10, 10, True)],
)
def test_stalled_in_stage(in_stage_days, limit, warned):
    f = facts(idle=1, stage_changed_at=NOW - timedelta(days=in_stage_days))
    verdict = rules.evaluate(f, RuleConfig(stalled_in_stage_days=limit), NOW)
    assert (rules.STALLED_IN_STAGE in verdict.codes) is warned


@pytest.mark.parametrize(
    "engaged, amount, idle, expected",
    [
        (1, 20000, 10, [rules.NO_ACTIVITY, rules.SINGLE_THREADED]),
        (2, 20000, 10, [rules.NO_ACTIVITY]),
        (1, 5000, 10, [rules.NO_ACTIVITY]),  # below the single-threaded amount
        (0, 20000, 10, [rules.NO_ACTIVITY, rules.SINGLE_THREADED]),
        (1, 20000, 1, []),  # single-threaded alone never opens a nudge
    ],
)
def test_single_threaded_only_qualifies_other_warnings(engaged, amount, idle, expected):
    verdict = rules.evaluate(facts(idle=idle, amount=amount, contacts_engaged=engaged), RuleConfig(), NOW)
    assert verdict.codes == expected


@pytest.mark.parametrize("off", sorted(rules.ALL_WARNINGS))
def test_each_warning_can_be_switched_off(off):
    f = facts(
        idle=40,
        amount=50000,
        contacts_engaged=1,
        next_step_due=TODAY - timedelta(days=3),
        stage_changed_at=NOW - timedelta(days=60),
        waiting_since=NOW - timedelta(days=20),
        usual_reply_hours=10,
    )
    everything = rules.evaluate(f, RuleConfig(), NOW)
    assert set(everything.codes) == rules.ALL_WARNINGS
    without = rules.evaluate(f, RuleConfig(enabled=rules.ALL_WARNINGS - {off}), NOW)
    assert off not in without.codes
    assert without.nudge


@pytest.mark.parametrize(
    "last, created, expected",
    [
        (NOW - timedelta(days=3, hours=23), None, 3),
        (None, NOW - timedelta(days=40), 40),  # never touched: idle since creation
        (NOW + timedelta(hours=5), None, 0),  # clock skew never gives negative idle days
    ],
)
def test_idle_days(last, created, expected):
    assert rules.idle_days(last, created or NOW, NOW) == expected


def test_next_step_date_in_the_past_is_not_a_plan():
    assert rules.evaluate(facts(idle=10, next_step_due=date(2024, 1, 1)), RuleConfig(), NOW).nudge is True
