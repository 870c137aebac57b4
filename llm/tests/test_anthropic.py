"""The real anthropic SDK against a mock transport: request shape, parsing, error translation."""

import httpx2
import pytest

from llm import ask, use_provider
from llm.models import ErrorKind, LLMCall, Outcome
from llm.tests.conftest import SCHEMA, api_error, message

pytestmark = pytest.mark.django_db

SYSTEM = "You draft polite support replies for NextTouch."
CONTEXT = "Company context: we sell energy plans. " * 20


def ask_structured(**kw):
    args = {
        "feature": "test.structured",
        "system": SYSTEM,
        "prompt": "Write a subject line for the ticket.\n{subject}",
        "inputs": {"subject": "Refund for order 1042", "body": "Please refund order 1042."},
        "schema": SCHEMA,
        "max_tokens": 300,
        "ttl": 0,
    }
    args.update(kw)
    return ask(**args)


def test_request_shape_has_model_system_cache_control_tools_and_max_tokens(fake_anthropic):
    fake_anthropic.add(message(tool={"subject": "Your refund", "priority": "high"}))
    with use_provider(fake_anthropic.provider(model="claude-haiku-4-5")):
        ask_structured(context=CONTEXT)

    request = fake_anthropic.requests[0]
    body = fake_anthropic.bodies()[0]
    assert request.url.path == "/v1/messages"
    assert "sk-ant-test-fake" in (request.headers.get("x-api-key") or request.headers["authorization"])
    assert request.headers["x-stainless-retry-count"] == "0"  # the SDK does not retry on its own
    assert body["model"] == "claude-haiku-4-5"
    assert body["max_tokens"] == 300
    assert [b["text"].split("\n")[0] for b in body["system"]] == [SYSTEM, CONTEXT.split("\n")[0]]
    assert "cache_control" not in body["system"][0]
    assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
    assert body["tools"] == [
        {
            "name": "record_test_structured",
            "description": body["tools"][0]["description"],
            "input_schema": SCHEMA,
        }
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "record_test_structured"}
    user = body["messages"][0]
    assert user["role"] == "user"
    assert "<subject>Refund for order 1042</subject>" in user["content"]
    assert "<data>\n<body>Please refund order 1042.</body>\n</data>" in user["content"]


def test_tool_use_reply_is_parsed_into_data_with_provenance(fake_anthropic):
    fake_anthropic.add(
        message(
            tool={"subject": "Your refund", "priority": "high"},
            usage={"input_tokens": 50, "output_tokens": 12, "cache_read_input_tokens": 2048},
        )
    )
    with use_provider(fake_anthropic.provider()):
        result = ask_structured()

    assert result.data == {"subject": "Your refund", "priority": "high"}
    assert not result.offline and result.provider == "anthropic" and result.model == "claude-sonnet-4-6"
    assert (result.input_tokens, result.output_tokens, result.cache_read_tokens) == (50, 12, 2048)
    row = LLMCall.objects.get(pk=result.call_id)
    assert row.outcome == Outcome.OK and row.cache_read_tokens == 2048 and row.attempts == 1
    # 50 in x $3 + 12 out x $15 + 2048 cache-read x $0.30, per million tokens.
    assert str(row.cost_usd) == "0.000944"


def test_plain_text_reply_without_schema(fake_anthropic):
    fake_anthropic.add(message(text="Hello Dana, your refund for order 1042 is on its way."))
    with use_provider(fake_anthropic.provider()):
        result = ask(
            feature="test.draft",
            system=SYSTEM,
            prompt="Reply to {customer}.",
            inputs={"customer": "Dana", "order": 1042},
        )
    assert result.text == "Hello Dana, your refund for order 1042 is on its way."
    assert result.data is None and result.flags == []
    assert "tools" not in fake_anthropic.bodies()[0]


def test_429_waits_for_retry_after_then_succeeds(fake_anthropic, sleeps):
    fake_anthropic.add(
        api_error(429, "rate_limit_error", "Slow down", headers={"retry-after": "7"}),
        message(tool={"subject": "Refund", "priority": "normal"}),
    )
    with use_provider(fake_anthropic.provider()):
        result = ask_structured()
    assert sleeps == [7.0]
    assert result.data["subject"] == "Refund" and result.attempts == 2


def test_429_asking_for_a_longer_wait_than_allowed_falls_back(fake_anthropic, sleeps, settings):
    settings.LLM_RETRY_AFTER_MAX_SECONDS = 30
    fake_anthropic.add(api_error(429, "rate_limit_error", "Slow down", headers={"retry-after": "600"}))
    with use_provider(fake_anthropic.provider()):
        result = ask_structured()
    assert sleeps == []
    assert result.offline and "retry after 600" in result.fallback_reason
    assert result.data == {"subject": "Re: Refund for order 1042", "priority": "normal"}


def test_529_overloaded_is_retried_with_backoff_then_falls_back(fake_anthropic, sleeps, settings):
    settings.LLM_MAX_RETRIES = 2
    fake_anthropic.add(*[api_error(529, "overloaded_error", "Overloaded") for _ in range(3)])
    with use_provider(fake_anthropic.provider()):
        result = ask_structured()
    assert len(fake_anthropic.requests) == 3  # 1 + LLM_MAX_RETRIES, and no hidden SDK retries
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0
    assert result.offline and result.error_kind == ErrorKind.TEMPORARY
    assert "model unavailable: Anthropic 529: Overloaded" == result.fallback_reason
    row = LLMCall.objects.get(pk=result.call_id)
    assert (row.outcome, row.error_kind, row.attempts, row.provider) == (Outcome.FALLBACK, "temporary", 3, "anthropic")


def test_timeout_is_temporary_and_retried(fake_anthropic, sleeps, settings):
    settings.LLM_MAX_RETRIES = 1
    fake_anthropic.add(httpx2.ReadTimeout("timed out"), message(tool={"subject": "Refund", "priority": "low"}))
    with use_provider(fake_anthropic.provider()):
        result = ask_structured()
    assert result.data["priority"] == "low" and len(sleeps) == 1


def test_request_carries_the_configured_timeout(fake_anthropic, settings):
    settings.LLM_TIMEOUT_SECONDS = 42
    fake_anthropic.add(message(tool={"subject": "Refund", "priority": "low"}))
    with use_provider(fake_anthropic.provider()):
        ask_structured()
    assert float(fake_anthropic.requests[0].headers["x-stainless-read-timeout"]) == 42.0


def test_invalid_reply_is_retried_once_with_the_error_then_falls_back(fake_anthropic, sleeps):
    fake_anthropic.add(
        message(tool={"subject": "Refund", "priority": "ASAP"}),
        message(tool={"subject": "Refund"}),
    )
    with use_provider(fake_anthropic.provider()):
        result = ask_structured()

    bodies = fake_anthropic.bodies()
    assert len(bodies) == 2 and sleeps == []
    repair = bodies[1]["messages"]
    assert repair[1]["content"][0]["type"] == "tool_use"
    assert repair[2]["content"][0]["type"] == "tool_result" and repair[2]["content"][0]["is_error"] is True
    assert "'ASAP' is not one of" in repair[2]["content"][0]["content"]
    assert result.offline and result.error_kind == ErrorKind.SCHEMA
    assert "still invalid after one repair" in result.fallback_reason
    assert result.data == {"subject": "Re: Refund for order 1042", "priority": "normal"}
    row = LLMCall.objects.get(pk=result.call_id)
    assert row.error_kind == "schema" and row.input_tokens == 240  # both attempts were paid for


def test_text_instead_of_tool_call_with_broken_json_is_repaired(fake_anthropic):
    fake_anthropic.add(
        message(text='{"subject": "Refund", "priority": '),
        message(tool={"subject": "Refund", "priority": "normal"}),
    )
    with use_provider(fake_anthropic.provider()):
        result = ask_structured()
    assert not result.offline and result.data == {"subject": "Refund", "priority": "normal"}
    repair = fake_anthropic.bodies()[1]["messages"]
    assert "not valid JSON" in repair[2]["content"]


def test_permanent_auth_error_is_not_retried(fake_anthropic, sleeps):
    fake_anthropic.add(api_error(401, "authentication_error", "invalid x-api-key"))
    with use_provider(fake_anthropic.provider()):
        result = ask_structured()
    assert len(fake_anthropic.requests) == 1 and sleeps == []
    assert result.offline and result.error_kind == ErrorKind.PERMANENT
    assert result.fallback_reason == "model refused the request: Anthropic 401: invalid x-api-key"


def test_bad_request_is_permanent(fake_anthropic):
    fake_anthropic.add(api_error(400, "invalid_request_error", "Your credit balance is too low"))
    with use_provider(fake_anthropic.provider()):
        result = ask_structured()
    assert result.error_kind == "permanent" and "credit balance" in result.fallback_reason


def test_schema_that_is_not_an_object_is_wrapped_for_tool_use(fake_anthropic):
    fake_anthropic.add(message(tool={"result": ["call", "email"]}, tool_name="record_test_structured"))
    with use_provider(fake_anthropic.provider()):
        result = ask_structured(schema={"type": "array", "items": {"type": "string"}})
    body = fake_anthropic.bodies()[0]
    assert body["tools"][0]["input_schema"]["properties"]["result"] == {"type": "array", "items": {"type": "string"}}
    assert result.data == ["call", "email"]


def test_malformed_schema_ends_offline_not_in_an_exception(fake_anthropic):
    with use_provider(fake_anthropic.provider()):
        result = ask_structured(schema={"type": "object", "properties": {"x": {"type": "nonsense"}}})
    assert fake_anthropic.requests == []
    assert result.offline and result.fallback_reason.startswith("invalid schema")


def test_retries_stop_at_the_deadline(fake_anthropic, monkeypatch, settings):
    clock = {"now": 1000.0}
    monkeypatch.setattr("llm.clock.monotonic", lambda: clock["now"])
    monkeypatch.setattr("llm.clock.sleep", lambda s: clock.__setitem__("now", clock["now"] + s))
    settings.LLM_DEADLINE_SECONDS = 10
    settings.LLM_MAX_RETRIES = 5

    def slow_failure(request):
        clock["now"] += 4  # each attempt "takes" 4 s before the server says it is overloaded
        return api_error(529, "overloaded_error", "Overloaded")

    fake_anthropic.add(*[slow_failure] * 6)
    with use_provider(fake_anthropic.provider()):
        result = ask_structured()
    assert result.offline and len(fake_anthropic.requests) < 6
    assert clock["now"] - 1000.0 <= 10 + 4  # never starts an attempt past the deadline
    timeouts = [float(r.headers["x-stainless-read-timeout"]) for r in fake_anthropic.requests]
    assert timeouts[0] == 10 and all(t <= 10 for t in timeouts)  # each attempt's timeout fits what is left
