"""LLM_PROVIDER=bedrock: the real anthropic SDK's AnthropicBedrock client, signing with botocore
from the environment as boto users set it, against a fake Bedrock runtime on 127.0.0.1."""

import json

import pytest
from django.core.exceptions import ImproperlyConfigured

from llm import ask, use_provider
from llm.config import check_provider, profile_region
from llm.models import LLMCall, Outcome
from llm.providers import BedrockProvider
from llm.registry import get_provider

from .conftest import SCHEMA, FakeModelServer

MODEL = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
AWS_VARS = (
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_BEARER_TOKEN_BEDROCK",
    "ANTHROPIC_BEDROCK_BASE_URL",
)


def invoke_reply(*, text="", tool=None, model=MODEL):
    """What Bedrock's InvokeModel returns for Claude: the Messages API's response body."""
    content = [{"type": "text", "text": text}] if text else []
    if tool is not None:
        content.append({"type": "tool_use", "id": "toolu_b1", "name": "record_test_structured", "input": tool})
    return {
        "id": "msg_bdrk_01",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if tool is not None else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 210,
            "output_tokens": 40,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        },
    }


@pytest.fixture
def aws(monkeypatch, tmp_path):
    """A clean AWS environment: no host credentials or config files, no instance metadata."""
    from anthropic.lib.aws import _auth

    for name in AWS_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    _auth._get_session.cache_clear()  # the SDK memoises boto3 sessions per argument set
    yield tmp_path
    _auth._get_session.cache_clear()


@pytest.fixture
def bedrock():
    server = FakeModelServer()
    server.base = f"http://127.0.0.1:{server.httpd.server_address[1]}"
    yield server
    server.close()


def keys(monkeypatch, region="eu-west-2", sts="session-token-xyz"):
    monkeypatch.setenv("AWS_REGION", region)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLEBEDROCK")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    if sts:
        monkeypatch.setenv("AWS_SESSION_TOKEN", sts)


@pytest.mark.django_db
def test_ask_reaches_bedrock_invoke_signed_with_the_environments_credentials(aws, bedrock, monkeypatch):
    keys(monkeypatch)
    bedrock.add((200, invoke_reply(text="Hello Dana, your order 1042 ships today."), {}))
    with use_provider(BedrockProvider(model=MODEL, base_url=bedrock.base)):
        result = ask(
            feature="test.draft",
            system="You write replies.",
            prompt="Reply to {customer} about {subject}.",
            inputs={"customer": "Dana", "subject": "order 1042"},
        )
    assert result.text == "Hello Dana, your order 1042 ships today." and result.provider == "bedrock"
    assert (result.input_tokens, result.output_tokens) == (210, 40) and not result.fallback_reason
    request, headers = bedrock.requests[0], {k.lower(): v for k, v in bedrock.headers[0].items()}
    assert request["path"] == f"/model/{MODEL}/invoke"
    body = request["body"]
    assert body["anthropic_version"] and "model" not in body  # Bedrock takes the model from the path
    assert body["messages"][0]["role"] == "user" and "Dana" in body["messages"][0]["content"]
    assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}  # prompt caching kept
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLEBEDROCK/")
    assert "/eu-west-2/bedrock/aws4_request" in headers["authorization"]
    assert headers["x-amz-security-token"] == "session-token-xyz"
    row = LLMCall.objects.get()
    assert (row.provider, row.model, row.outcome) == ("bedrock", MODEL, Outcome.OK)
    assert row.cost_usd > 0  # priced by its Claude name (claude-sonnet-...)


@pytest.mark.django_db
def test_structured_output_through_bedrock_uses_the_tool(aws, bedrock, monkeypatch):
    keys(monkeypatch, sts="")
    bedrock.add((200, invoke_reply(tool={"subject": "Re: refund", "priority": "high"}), {}))
    with use_provider(BedrockProvider(model=MODEL, base_url=bedrock.base)):
        result = ask(
            feature="test.structured",
            system="s",
            prompt="Triage {subject}",
            inputs={"subject": "refund"},
            schema=SCHEMA,
        )
    assert result.data == {"subject": "Re: refund", "priority": "high"}
    assert bedrock.requests[0]["body"]["tool_choice"] == {"type": "tool", "name": "record_test_structured"}
    assert "x-amz-security-token" not in {k.lower() for k in bedrock.headers[0]}


@pytest.mark.django_db
def test_llm_provider_bedrock_with_an_aws_profile_is_one_setting(aws, bedrock, monkeypatch, settings):
    (aws / "credentials").write_text(
        "[retention]\naws_access_key_id = AKIDPROFILEKEY\naws_secret_access_key = profile-secret\n"
    )
    (aws / "config").write_text("[profile retention]\nregion = eu-central-1\n")
    monkeypatch.setenv("AWS_PROFILE", "retention")
    assert profile_region("retention") == "eu-central-1"
    settings.LLM_PROVIDER = "bedrock"
    settings.LLM_MODEL = MODEL
    settings.LLM_BEDROCK_REGION = profile_region("retention")  # what config/settings.py does
    settings.LLM_BEDROCK_BASE_URL = bedrock.base
    bedrock.add((200, invoke_reply(text="Hi Dana."), {}))
    assert get_provider().name == "bedrock"
    result = ask(feature="test.draft", system="s", prompt="Hi {customer}", inputs={"customer": "Dana"}, ttl=0)
    assert result.text == "Hi Dana." and result.provider == "bedrock"
    authorization = bedrock.headers[0]["Authorization"]
    assert (
        authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDPROFILEKEY/")
        and "/eu-central-1/bedrock/" in authorization
    )


@pytest.mark.django_db
def test_throttling_is_retried_and_a_refusal_falls_back_offline(aws, bedrock, monkeypatch, sleeps):
    keys(monkeypatch)
    bedrock.add(
        (429, {"message": "Too many requests, please wait before trying again."}, {"retry-after": "2"}),
        (200, invoke_reply(text="Hello Dana."), {}),
        (400, {"message": "Malformed input request: messages: field required"}, {}),
    )
    provider = BedrockProvider(model=MODEL, base_url=bedrock.base)
    with use_provider(provider):
        first = ask(feature="test.draft", system="s", prompt="Hi {customer}", inputs={"customer": "Dana"}, ttl=0)
        second = ask(feature="test.draft", system="s", prompt="Hi {customer}", inputs={"customer": "Dana"}, ttl=0)
    assert first.text == "Hello Dana." and first.attempts == 2 and sleeps == [2.0]
    assert second.offline and second.fallback_reason.startswith(
        "model refused the request: Bedrock 400: Malformed input"
    )


def test_bedrock_needs_a_region():
    with pytest.raises(ImproperlyConfigured, match="AWS_REGION"):
        check_provider(provider="bedrock", anthropic_key="", base_url="", model=MODEL, aws_region="")
    check_provider(provider="bedrock", anthropic_key="", base_url="", model=MODEL, aws_region="eu-west-2")


def test_unknown_profile_is_a_clear_configuration_error(aws):
    with pytest.raises(ImproperlyConfigured, match="AWS_PROFILE='nope'"):
        profile_region("nope")


def test_bedrock_does_not_offer_message_batches(aws, monkeypatch):
    keys(monkeypatch)
    assert BedrockProvider(model=MODEL, base_url="http://127.0.0.1:9").supports_batches is False


def test_request_body_is_the_messages_api_body(aws, bedrock, monkeypatch):
    """Sanity check on the fake: it decodes what the SDK sent as JSON."""
    keys(monkeypatch)
    bedrock.add((200, invoke_reply(text="ok"), {}))
    from llm.providers import ModelRequest

    reply = BedrockProvider(model=MODEL, base_url=bedrock.base).complete(
        ModelRequest(model=MODEL, system="s", user="u", max_tokens=64, timeout=5)
    )
    assert reply.text == "ok" and json.dumps(bedrock.requests[0]["body"])
