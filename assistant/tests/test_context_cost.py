"""What whole-playbook and retrieval prompts cost: token estimate, caching, coverage, switch point."""

from decimal import Decimal

import pytest

from assistant import context_cost as cc
from llm.config import DEFAULT_PRICES

SONNET = DEFAULT_PRICES["claude-sonnet"]  # $3 input, $3.75 cache write, $0.30 cache read per million


def test_tokens_are_estimated_at_four_characters_rounded_up():
    assert cc.estimate_tokens("") == 0
    assert cc.estimate_tokens("abcd") == 1
    assert cc.estimate_tokens("abcde") == 2


def test_a_long_prefix_is_written_once_then_read_and_the_question_is_plain_input():
    prefix, question = "p" * 4000 * 4, "q" * 100 * 4  # 4,000 and 100 tokens
    costs = cc.input_costs([cc.Request(prefix, question)] * 3, SONNET)
    write = (4000 * Decimal("3.75") + 100 * 3) / cc.MILLION
    read = (4000 * Decimal("0.30") + 100 * 3) / cc.MILLION
    assert costs == [write, read, read]


def test_a_prefix_under_the_cacheable_minimum_is_plain_input_every_time():
    short = cc.Request("p" * 1000 * 4, "q" * 40)  # 1,000 tokens < 1,024
    costs = cc.input_costs([short, short], SONNET)
    assert costs[0] == costs[1] == (1010 * Decimal(3)) / cc.MILLION


def test_each_distinct_prefix_is_written_once():
    a, b = cc.Request("a" * 8000, "q"), cc.Request("b" * 8000, "q")
    costs = cc.input_costs([a, b, a, b], SONNET)
    assert costs[0] == costs[1] > costs[2] == costs[3]


def test_coverage_counts_expected_passages_in_the_prompt():
    assert cc.coverage(["A", "B"], {"A", "C"}) == 0.5
    assert cc.coverage(["A"], {"A"}) == 1.0
    with pytest.raises(ValueError):
        cc.coverage([], {"A"})


def test_switch_point_is_the_passage_count_that_first_overflows_the_budget():
    assert cc.switch_point([100] * 10, 1000) is None
    assert cc.switch_point([100] * 11, 1000) == 10
    assert cc.switch_point([600, 600], 1000) == 1
