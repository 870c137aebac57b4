from datetime import UTC, datetime, timedelta

import pytest

from nudges import metrics
from nudges.metrics import OURS, THEIRS, Message

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)


def msg(side, hours, body="", contact="dana@x.example"):
    return Message(side=side, at=T0 + timedelta(hours=hours), body=body, contact=contact)


@pytest.mark.parametrize(
    "thread, theirs, ours, waiting",
    [
        ([], [], [], None),
        ([msg(OURS, 0)], [], [], 0),
        ([msg(THEIRS, 0)], [], [], None),
        ([msg(OURS, 0), msg(THEIRS, 5)], [5], [], None),
        ([msg(OURS, 0), msg(THEIRS, 5), msg(OURS, 6), msg(THEIRS, 30)], [5, 24], [1], None),
        # two follow-ups, then a reply: answered 2 h after our latest email
        ([msg(OURS, 0), msg(OURS, 48), msg(THEIRS, 50)], [2], [], None),
        # ... but silence runs from the first unanswered one
        ([msg(THEIRS, 0), msg(OURS, 5), msg(OURS, 48)], [], [5], 5),
        # they wrote, we answered, then silence: waiting since our answer
        ([msg(THEIRS, 0), msg(OURS, 3), msg(OURS, 10)], [], [3], 3),
    ],
)
def test_reply_gaps(thread, theirs, ours, waiting):
    got_theirs, got_ours, got_waiting = metrics.reply_gaps(thread)
    assert got_theirs == theirs
    assert got_ours == ours
    assert got_waiting == (None if waiting is None else T0 + timedelta(hours=waiting))


def test_out_of_order_timestamps_give_the_same_signals():
    ordered = [msg(OURS, 0), msg(THEIRS, 5), msg(OURS, 6), msg(THEIRS, 30)]
    shuffled = [ordered[2], ordered[0], ordered[3], ordered[1]]
    assert metrics.thread_signals(shuffled) == metrics.thread_signals(ordered)


@pytest.mark.parametrize(
    "thread, last_from, median",
    [
        ([], None, None),
        ([msg(OURS, 0)], OURS, None),
        ([msg(OURS, 0), msg(THEIRS, 2), msg(OURS, 3), msg(THEIRS, 13), msg(OURS, 14), msg(THEIRS, 17)], THEIRS, 3),
        ([msg(OURS, 0), msg(THEIRS, 2), msg(OURS, 3), msg(THEIRS, 13)], THEIRS, 6),
    ],
)
def test_thread_signals_median_and_who_wrote_last(thread, last_from, median):
    signals = metrics.thread_signals(thread)
    assert signals.messages == len(thread)
    assert signals.last_from == last_from
    assert signals.their_median_hours == median


def test_contact_reply_hours_pool_every_thread_of_the_contact():
    a = [msg(OURS, 0), msg(THEIRS, 2, contact="Dana@X.example")]
    b = [msg(OURS, 100), msg(THEIRS, 110)]
    c = [msg(OURS, 0, contact="sam@y.example"), msg(THEIRS, 40, contact="sam@y.example")]
    assert metrics.contact_reply_hours([a, b, c, []]) == {"dana@x.example": 6, "sam@y.example": 40}


@pytest.mark.parametrize(
    "bodies, tone",
    [
        (["Dear Dana,\n\nPlease find the proposal attached.\n\nKind regards, Alex"], "formal"),
        (["Hi Dana! Quick one: did the pricing land? Cheers, Alex"], "casual"),
        (["Hey, thx!", "Dear Sam, kind regards"], "casual"),
        ([""], "formal"),
        ([], "formal"),
        (["Following up on our proposal..."], "formal"),
    ],
)
def test_classify_tone(bodies, tone):
    assert metrics.classify_tone(bodies) == tone


@pytest.mark.parametrize(
    "waiting_h, usual, factor, min_h, ghosted",
    [
        (None, 10, 3, 0, False),
        (31, 10, 3, 0, True),
        (29, 10, 3, 0, False),
        (31, 10, 3, 48, False),
        (31, None, 3, 0, False),
    ],
)
def test_ghosted(waiting_h, usual, factor, min_h, ghosted):
    now = T0 + timedelta(hours=100)
    waiting = None if waiting_h is None else now - timedelta(hours=waiting_h)
    verdict = metrics.ghosted(waiting_since=waiting, usual_hours=usual, now=now, factor=factor, min_hours=min_h)
    assert verdict.ghosted is ghosted
    assert verdict.reason


def test_the_lower_case_tone_scan_of_ascii_text_counts_what_the_case_insensitive_one_counts():
    import random

    rng = random.Random(7)
    words = ["Dear", "kind REGARDS", "Good Morning", "thank you for", "I WOULD", "Hey", "hi", "Cheers", "THANKS!",
             "btw", "Cool", "quick one", "No Worries", "lol", "!", ":)", "regardless", "highway", "x", "sincerely"]  # fmt: skip
    for _ in range(500):
        text = "".join(
            rng.choice(words) + rng.choice([" ", "", ", ", "\n", "-", "_"]) for _ in range(rng.randint(1, 15))
        )
        low = text.lower()
        assert len(metrics._FORMAL_LOWER.findall(low)) == len(metrics._FORMAL.findall(text)), text
        assert len(metrics._CASUAL_LOWER.findall(low)) == len(metrics._CASUAL.findall(text)), text
