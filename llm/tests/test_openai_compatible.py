"""The openai-compatible path against a real HTTP server on 127.0.0.1."""

import pytest

from llm import ask, use_provider
from llm.errors import PermanentLLMError, TemporaryLLMError
from llm.providers import ModelRequest
from llm.tests.conftest import SCHEMA, chat

pytestmark = pytest.mark.django_db


def ask_structured(**kw):
    args = {
        "feature": "test.structured",
        "system": "You triage tickets.",
        "prompt": "Subject line for: {subject}",
        "inputs": {"subject": "Refund for order 1042"},
        "schema": SCHEMA,
        "max_tokens": 200,
        "ttl": 0,
    }
    args.update(kw)
    return ask(**args)


def test_request_shape_json_mode_and_bearer_key(model_server):
    model_server.add((200, chat('{"subject": "Refund", "priority": "high"}'), {}))
    with use_provider(model_server.provider()):
        result = ask_structured(context="Playbook: be brief.")
    sent = model_server.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    body = sent["body"]
    assert body["model"] == "local-llama" and body["max_tokens"] == 200
    assert body["response_format"] == {"type": "json_object"}
    assert body["messages"][0]["role"] == "system"
    assert "Playbook: be brief." in body["messages"][0]["content"] and '"enum"' in body["messages"][0]["content"]
    assert "<subject>Refund for order 1042</subject>" in body["messages"][1]["content"]
    assert model_server.headers[0]["Authorization"] == "Bearer local-key"
    assert result.data == {"subject": "Refund", "priority": "high"}
    assert (result.provider, result.input_tokens, result.output_tokens) == ("openai-compatible", 90, 25)


def test_json_schema_mode_sends_the_schema(model_server):
    model_server.add((200, chat('{"subject": "Refund", "priority": "low"}'), {}))
    with use_provider(model_server.provider(json_mode="json_schema")):
        ask_structured()
    fmt = model_server.requests[0]["body"]["response_format"]
    assert fmt == {"type": "json_schema", "json_schema": {"name": "record_test_structured", "schema": SCHEMA}}


def test_cached_prompt_tokens_are_recorded(model_server):
    usage = {"prompt_tokens": 1000, "completion_tokens": 10, "prompt_tokens_details": {"cached_tokens": 800}}
    model_server.add((200, chat("Hello there, Dana.", usage=usage), {}))
    with use_provider(model_server.provider()):
        result = ask(feature="test.draft", system="s", prompt="Greet {customer}", inputs={"customer": "Dana"})
    assert (result.input_tokens, result.cache_read_tokens, result.output_tokens) == (200, 800, 10)


def test_429_with_retry_after_then_success(model_server, sleeps):
    model_server.add(
        (429, {"error": {"message": "busy"}}, {"Retry-After": "3"}),
        (200, chat('{"subject": "Refund", "priority": "normal"}'), {}),
    )
    with use_provider(model_server.provider()):
        result = ask_structured()
    assert sleeps == [3.0] and result.data["priority"] == "normal"


def test_503_then_timeout_then_fallback(model_server, sleeps, settings):
    settings.LLM_MAX_RETRIES = 1
    model_server.add((503, {"error": {"message": "loading model"}}, {}), (503, {"error": {"message": "still"}}, {}))
    with use_provider(model_server.provider()):
        result = ask_structured()
    assert result.offline and result.error_kind == "temporary" and "model server 503: still" in result.fallback_reason


def test_timeout_is_a_temporary_error(model_server):
    model_server.add(("sleep", 5))
    provider = model_server.provider()
    request = ModelRequest(model="local-llama", system="s", user="u", max_tokens=5, timeout=0.3)
    with pytest.raises(TemporaryLLMError, match="did not answer in time"):
        provider.complete(request)


def test_invalid_json_is_retried_once_then_falls_back(model_server):
    model_server.add((200, chat("Sure! Here is the JSON: {subject: Refund}"), {}), (200, chat("```json\n{}\n```"), {}))
    with use_provider(model_server.provider()):
        result = ask_structured()
    repair = model_server.requests[1]["body"]["messages"]
    assert repair[-2] == {"role": "assistant", "content": "Sure! Here is the JSON: {subject: Refund}"}
    assert "not valid JSON" in repair[-1]["content"]
    assert (
        result.offline
        and result.error_kind == "schema"
        and "'subject' is a required property" in result.fallback_reason
    )


def test_auth_error_is_permanent(model_server, sleeps):
    model_server.add((401, {"error": {"message": "bad key"}}, {}))
    provider = model_server.provider()
    with pytest.raises(PermanentLLMError, match="model server 401: bad key"):
        provider.complete(ModelRequest(model="m", system="", user="u", max_tokens=5))
    model_server.add((401, {"error": {"message": "bad key"}}, {}))
    with use_provider(provider):
        result = ask_structured()
    assert result.error_kind == "permanent" and sleeps == []


def test_reply_that_is_not_a_chat_completion_is_permanent(model_server):
    model_server.add((200, {"unexpected": True}, {}))
    with pytest.raises(PermanentLLMError):
        model_server.provider().complete(ModelRequest(model="m", system="", user="u", max_tokens=5))


def test_unreachable_server_is_temporary():
    from llm.providers import OpenAICompatibleProvider

    provider = OpenAICompatibleProvider(base_url="http://127.0.0.1:9/v1", model="m")
    with pytest.raises(TemporaryLLMError, match="could not reach"):
        provider.complete(ModelRequest(model="m", system="", user="u", max_tokens=5, timeout=2))
