from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from llm import ask, use_provider
from llm.config import parse_budgets
from llm.errors import TemporaryLLMError
from llm.models import ErrorKind, LLMCall, Outcome
from llm.testing import FakeProvider, reply

pytestmark = pytest.mark.django_db


def draft(fake, **kw):
    args = {"feature": "test.draft", "system": "s", "prompt": "Reply to {customer}", "ttl": 0}
    args["inputs"] = kw.pop("inputs", {"customer": "Dana", "subject": "refund"})
    args.update(kw)
    with use_provider(fake):
        return ask(**args)


def test_token_budget_exhausted_falls_back_with_a_reason(settings):
    settings.LLM_BUDGETS = parse_budgets("test.draft=250tok")
    fake = FakeProvider([reply("Hello Dana.", input_tokens=100, output_tokens=20)])
    assert not draft(fake).offline
    assert not draft(fake).offline  # 120 used, still under 250
    third = draft(fake)  # 240 used: under the limit, allowed (a budget is checked before a call)
    assert not third.offline
    fourth = draft(fake)
    assert fourth.offline and fourth.error_kind == ErrorKind.BUDGET
    assert fourth.fallback_reason == (
        "daily AI budget for test.draft used up (360 of 250 tokens today); resets at midnight"
    )
    assert fourth.text == "Hello Dana, we have your message about refund."
    assert len(fake.requests) == 3
    row = LLMCall.objects.get(pk=fourth.call_id)
    assert (row.outcome, row.error_kind, row.input_tokens) == (Outcome.FALLBACK, "budget", 0)


def test_cost_budget_and_default_star_budget(settings):
    settings.LLM_BUDGETS = parse_budgets("*=0.01usd")
    LLMCall.objects.create(
        feature="test.draft", provider="anthropic", model="m", outcome=Outcome.OK, cost_usd=Decimal("0.02")
    )
    result = draft(FakeProvider([reply("x")]))
    assert result.offline and "$0.02 of $0.01" in result.fallback_reason


def test_yesterdays_spend_and_cache_hits_do_not_count(settings):
    settings.LLM_BUDGETS = parse_budgets("test.draft=1000tok")
    LLMCall.objects.create(
        feature="test.draft",
        provider="anthropic",
        model="m",
        outcome=Outcome.OK,
        input_tokens=5000,
        created_at=timezone.now() - timedelta(days=1, hours=1),
    )
    LLMCall.objects.create(
        feature="test.draft",
        provider="anthropic",
        model="m",
        outcome=Outcome.CACHE_HIT,
        cache_hit=True,
        input_tokens=5000,
    )
    assert not draft(FakeProvider([reply("Hello Dana.")])).offline


def test_cache_hits_are_served_even_when_the_budget_is_used_up(settings):
    fake = FakeProvider([reply("Hello Dana.", input_tokens=600)])
    draft(fake, ttl=3600)
    settings.LLM_BUDGETS = parse_budgets("test.draft=100tok")
    hit = draft(fake, ttl=3600)
    assert hit.cached and not hit.offline


def test_ledger_row_per_call_with_about_and_totals(account, sleeps):
    fake = FakeProvider([TemporaryLLMError("busy"), reply("Hello Dana.", input_tokens=1000, output_tokens=100)])
    with use_provider(fake):
        ok = ask(
            feature="test.draft", system="s", prompt="p {customer}", inputs={"customer": "Dana"}, about=account, ttl=0
        )
    row = LLMCall.objects.get(pk=ok.call_id)
    assert row.about == account and row.attempts == 2 and row.latency_ms > 0
    assert list(LLMCall.objects.about(account)) == [row]
    # Unknown model "fake-model" has no price: cost 0, tokens still counted.
    assert (row.input_tokens, row.output_tokens, row.cost_usd) == (1000, 100, Decimal("0"))


def test_cost_estimate_uses_price_table_and_batch_discount(settings):
    from llm.config import parse_prices
    from llm.gateway import LLMResult, estimate_cost

    settings.LLM_PRICES = parse_prices("my-model=2/10")
    usage = LLMResult(text="", input_tokens=1_000_000, output_tokens=100_000, cache_read_tokens=1_000_000)
    assert estimate_cost("my-model", usage) == Decimal("3.200000")  # 2 + 1 + 0.2 (cache read 10%)
    assert estimate_cost("my-model", usage, batched=True) == Decimal("1.600000")
    assert estimate_cost("claude-sonnet-4-6", usage) == Decimal("4.800000")  # 3 + 1.5 + 0.3
    assert estimate_cost("unknown", usage) == Decimal("0")


def test_offline_provider_calls_are_ledgered_without_tokens():
    result = ask(feature="test.draft", system="s", prompt="p", inputs={"customer": "Dana"})
    row = LLMCall.objects.get(pk=result.call_id)
    assert result.offline and (row.provider, row.model, row.outcome, row.cost_usd) == (
        "offline",
        "offline",
        Outcome.OFFLINE,
        Decimal("0"),
    )


def test_missing_offline_writer_is_a_clear_programming_error():
    with pytest.raises(LookupError, match="@offline_writer"):
        ask(feature="nobody.registered", system="s", prompt="p", inputs={})


@pytest.mark.parametrize("retention, kept", [(30, {"today", "29 days"}), (0, {"today", "29 days", "31 days", "2y"})])
def test_ledger_rows_past_retention_are_pruned_in_chunks(settings, monkeypatch, retention, kept):
    from llm import tasks

    settings.LLM_LEDGER_RETENTION_DAYS = retention
    monkeypatch.setattr(tasks, "PRUNE_CHUNK", 2)
    now = timezone.now()
    ages = {"today": 0, "29 days": 29, "31 days": 31, "2y": 730}
    for label, days in ages.items():
        for _ in range(3):
            LLMCall.objects.create(
                feature=label,
                provider="offline",
                model="offline",
                outcome=Outcome.OFFLINE,
                created_at=now - timedelta(days=days),
            )
    assert tasks.prune_ledger_task() == 3 * (len(ages) - len(kept))
    assert set(LLMCall.objects.values_list("feature", flat=True)) == kept
    assert tasks.prune_ledger_task() == 0
