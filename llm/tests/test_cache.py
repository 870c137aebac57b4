"""The reply cache: keyed on everything that shapes a reply, shared through the database."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from llm import ask, use_provider
from llm.models import CachedReply, LLMCall, Outcome
from llm.testing import FakeProvider, reply

pytestmark = pytest.mark.django_db

BASE = {
    "feature": "test.draft",
    "system": "You write follow-ups.",
    "prompt": "Follow up on {deal}.",
    "inputs": {"deal": "TechGiant renewal", "summary": "Asked for pricing.", "campaign": ""},
    "ttl": timedelta(hours=1),
}


def asked(fake, **changes):
    args = {**BASE, **changes}
    with use_provider(fake):
        return ask(**args)


@pytest.fixture
def fake():
    return FakeProvider([reply("Following up on the TechGiant renewal pricing.")])


def test_identical_inputs_hit_the_cache(fake):
    first = asked(fake)
    second = asked(fake)
    assert len(fake.requests) == 1
    assert not first.cached and second.cached and second.text == first.text
    outcomes = list(LLMCall.objects.order_by("id").values_list("outcome", "cache_hit", "input_tokens"))
    assert outcomes == [(Outcome.OK, False, 100), (Outcome.CACHE_HIT, True, 0)]


@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "Follow up politely on {deal}."},
        {"system": "You write short follow-ups."},
        {"context": "Company context v2"},
        {"inputs": {**BASE["inputs"], "deal": "TechGiant expansion"}},
        {"inputs": {**BASE["inputs"], "summary": "Asked for pricing again."}},
        {"inputs": {**BASE["inputs"], "extra": "new key"}},
        {"schema": {"type": "object", "properties": {"text": {"type": "string"}}}},
        {"max_tokens": 100},
        {"feature": "test.structured"},
    ],
    ids=["template", "system", "context", "input-value", "other-input", "new-input", "schema", "max-tokens", "feature"],
)
def test_changing_any_one_part_misses(fake, change):
    fake.script = [reply("Following up.", data={"text": "x"})] if "schema" in change else fake.script
    asked(fake)
    result = asked(fake, **change)
    assert not result.cached and len(fake.requests) == 2


def test_model_and_provider_are_part_of_the_key(fake, settings):
    asked(fake)
    settings.LLM_MODELS = {"test.draft": "claude-haiku-4-5"}
    assert not asked(fake).cached
    other = FakeProvider([reply("From the local model.")], name="openai-compatible")
    assert not asked(other).cached


def test_ttl_expiry_misses(fake):
    asked(fake)
    CachedReply.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert not asked(fake).cached and len(fake.requests) == 2


def test_per_feature_ttl_from_settings(fake, settings):
    settings.LLM_CACHE_TTLS = {"test.draft": 120}
    asked(fake, ttl=None)
    entry = CachedReply.objects.get()
    assert 110 <= (entry.expires_at - entry.created_at).total_seconds() <= 120


def test_ttl_zero_never_stores(fake):
    asked(fake, ttl=0)
    asked(fake, ttl=0)
    assert CachedReply.objects.count() == 0 and len(fake.requests) == 2


def test_force_refresh_calls_the_model_and_replaces_the_entry(fake):
    asked(fake)
    fake.script = [reply("A fresher follow-up.")]
    refreshed = asked(fake, force_refresh=True)
    assert not refreshed.cached and refreshed.text == "A fresher follow-up."
    assert asked(fake).text == "A fresher follow-up."
    assert CachedReply.objects.count() == 1


def test_fallbacks_are_not_cached(settings):
    from llm.errors import PermanentLLMError

    failing = FakeProvider([PermanentLLMError("bad key", status=401)])
    first = asked(failing)
    assert first.offline and CachedReply.objects.count() == 0
    assert asked(FakeProvider([reply("Now it works.")])).text == "Now it works."


def test_purge_task_drops_expired_rows_and_is_idempotent(fake):
    from llm.tasks import purge_expired_cache_task

    asked(fake)
    asked(fake, prompt="Another {deal}")
    CachedReply.objects.filter(pk=CachedReply.objects.first().pk).update(expires_at=timezone.now())
    assert purge_expired_cache_task() == 1
    assert purge_expired_cache_task() == 0
    assert CachedReply.objects.count() == 1


# Seed 2 kept five hashes per recommendation: enriched CRM data, the deal summary, the prompt
# template, the company context file and the campaign context. Each maps onto one part of the key:
FIVE_HASHES = {
    "enriched_data_hash": {"inputs": {**BASE["inputs"], "deal": "TechGiant renewal (stage: negotiation)"}},
    "summary_hash": {"inputs": {**BASE["inputs"], "summary": "Asked for pricing; legal review pending."}},
    "prompt_hash": {"prompt": "Follow up, citing the last email, on {deal}."},
    "company_context_hash": {"context": "Company context, version 1.1 (learned: keep emails short)"},
    "campaign_context_hash": {"inputs": {**BASE["inputs"], "campaign": "Q4 product launch"}},
}


@pytest.mark.parametrize("name", FIVE_HASHES)
def test_seed_2_five_hash_invalidation(fake, name):
    baseline = {"context": "Company context, version 1.0"}
    asked(fake, **baseline)
    assert asked(fake, **baseline).cached  # nothing changed: the seed's cache hit
    changed = {**baseline, **FIVE_HASHES[name]}
    assert not asked(fake, **changed).cached  # one of the five changed: regenerate
    assert asked(fake, **changed).cached


class GatedProvider(FakeProvider):
    """A provider whose first answer waits for `gate`: a model call that is still in flight."""

    def __init__(self, script):
        super().__init__(script)
        self.gate, self.entered = threading.Event(), threading.Event()

    def complete(self, request, *, repair=None):
        self.entered.set()
        assert self.gate.wait(10), "the test never opened the gate"
        return super().complete(request, repair=repair)


@pytest.mark.django_db(transaction=True)
def test_identical_misses_at_the_same_moment_call_the_model_once(clean_cache, monkeypatch):
    """The waiter's clock is the test's: it polls the reply cache only once the first caller has
    stored its reply and ended, so the two threads never use the database at the same moment.

    With real sleeps they could, and that made this test flaky: on SQLite the test database is
    in-memory with a shared cache, whose table locks fail at once with "database table is locked"
    (the 20 s busy timeout and WAL apply to the file database only), so the waiter's poll, a SELECT
    on llm_cachedreply, failed whenever it met the first caller's write to that table."""
    from django.db import connection

    from llm import clock, reply_cache

    gated = GatedProvider([reply("Following up on the TechGiant renewal pricing.")])
    results, waits = {}, []
    waiting, first_ended = threading.Event(), threading.Event()

    def test_clock_sleep(seconds):  # only the waiter sleeps: the fake provider never fails
        waits.append(seconds)
        waiting.set()
        assert first_ended.wait(10), "the test never let the waiter poll"

    monkeypatch.setattr(clock, "sleep", test_clock_sleep)

    def caller(name):
        try:
            results[name] = ask(**BASE)
        finally:
            connection.close()

    with use_provider(gated):
        first = threading.Thread(target=caller, args=("first",))
        first.start()
        assert gated.entered.wait(10)  # the first caller is now asking the model
        second = threading.Thread(target=caller, args=("second",))
        second.start()
        assert waiting.wait(10)  # the second caller waits for the first one's reply...
        assert len(gated.requests) == 0  # ...instead of asking the model itself
        gated.gate.set()
        first.join(10)
        assert not first.is_alive() and "first" in results
        first_ended.set()
        second.join(10)
        assert not second.is_alive()
    assert len(gated.requests) == 1
    assert waits == [reply_cache.PEER_POLL_SECONDS]  # one poll found the stored reply
    assert not results["first"].cached and results["second"].cached
    assert results["second"].text == results["first"].text
    assert sorted(LLMCall.objects.values_list("outcome", flat=True)) == sorted([Outcome.OK, Outcome.CACHE_HIT])


@pytest.fixture
def clean_cache():
    from django.core.cache import cache

    cache.clear()
    yield cache
    cache.clear()


@pytest.mark.django_db(transaction=True)  # outside a transaction, so SQLite callers wait too
def test_a_peer_that_fell_back_leaves_the_waiter_to_ask_itself(fake, monkeypatch, clean_cache):
    from django.core.cache import cache

    from llm import clock, reply_cache

    asked(fake)  # learn the key from the stored reply, then forget the reply
    prep_key = CachedReply.objects.get().key
    CachedReply.objects.all().delete()
    calls = LLMCall.objects.count()
    cache.add(f"llm:inflight:{prep_key}", 1)  # a peer is asking...
    sleeps = []

    def peer_gives_up(seconds):
        sleeps.append(seconds)
        cache.delete(f"llm:inflight:{prep_key}")  # ...and ends without a reply (a fallback)

    monkeypatch.setattr(clock, "sleep", peer_gives_up)
    result = asked(fake)
    assert sleeps == [reply_cache.PEER_POLL_SECONDS]
    assert len(fake.requests) == 2 and not result.cached and result.text.startswith("Following up")
    assert LLMCall.objects.count() == calls + 1
    assert cache.get(f"llm:inflight:{prep_key}") is None  # released after its own call


def test_on_sqlite_a_caller_inside_a_transaction_does_not_wait(fake, monkeypatch, clean_cache):
    from django.core.cache import cache
    from django.db import connection, transaction

    from llm import clock

    if connection.vendor != "sqlite":
        pytest.skip("the write lock it avoids is SQLite's")
    asked(fake)
    prep_key = CachedReply.objects.get().key
    CachedReply.objects.all().delete()
    cache.add(f"llm:inflight:{prep_key}", 1)  # a peer is asking
    monkeypatch.setattr(clock, "sleep", lambda seconds: pytest.fail("waited while holding the write lock"))
    with transaction.atomic():  # the test's own transaction is one too; this makes the point explicit
        result = asked(fake)
    assert not result.cached and len(fake.requests) == 2
