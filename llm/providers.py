"""Model providers: one small client per vendor, each translating its errors into our two kinds.

Retries live in llm.gateway only: the Anthropic SDK is built with max_retries=0, and the
openai-compatible client is plain httpx with no retry transport. Every request carries an explicit
timeout chosen by the gateway (LLM_TIMEOUT_SECONDS, shortened to what is left of LLM_DEADLINE_SECONDS).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from llm.errors import PermanentLLMError, TemporaryLLMError, is_temporary_status, parse_retry_after


@dataclass
class ModelRequest:
    model: str
    system: str
    user: str
    max_tokens: int
    context: str = ""  # stable prefix after the system prompt (company context, playbook excerpts)
    schema: dict | None = None
    tool_name: str = "record_answer"
    timeout: float = 60.0


@dataclass
class ModelReply:
    text: str = ""
    data: Any = None
    parse_error: str = ""  # schema requested but no parseable object came back
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    stop_reason: str = ""
    model: str = ""
    tool_use_id: str = ""


@dataclass
class Repair:
    """The previous reply and what was wrong with it, for the one schema retry."""

    reply: ModelReply
    error: str


@dataclass
class BatchOutcome:
    custom_id: str
    reply: ModelReply | None = None
    error: str = ""
    extra: dict = field(default_factory=dict)


class Provider:
    name = "base"
    default_model = ""
    supports_batches = False

    def complete(self, request: ModelRequest, *, repair: Repair | None = None) -> ModelReply:
        raise NotImplementedError


class OfflineProvider(Provider):
    """No model at all: the gateway answers with each feature's registered offline writer."""

    name = "offline"
    default_model = "offline"


def schema_instructions(schema: dict, tool_name: str) -> str:
    return (
        f"Answer with one JSON object only (no prose, no code fences) for `{tool_name}`, matching this "
        f"JSON schema:\n{json.dumps(schema, sort_keys=True)}"
    )


_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def parse_json_object(text: str) -> tuple[Any, str]:
    """(object, "") or (None, error). Tolerates a ```json fence, nothing else."""
    fenced = _FENCE.match(text or "")
    raw = fenced.group(1) if fenced else (text or "").strip()
    if not raw:
        return None, "the reply was empty; a JSON object was required"
    try:
        return json.loads(raw), ""
    except json.JSONDecodeError as exc:
        return None, f"the reply was not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"


# --- Anthropic -------------------------------------------------------------------------------


class AnthropicProvider(Provider):
    """Claude through the official SDK (the only `import anthropic` in the project)."""

    name = "anthropic"
    vendor = "Anthropic"  # in error messages
    supports_batches = True

    def __init__(
        self,
        *,
        api_key: str,
        model: str = "",
        base_url: str | None = None,
        connect_timeout: float = 10.0,
        http_client=None,
    ):
        import anthropic

        from llm.config import DEFAULT_ANTHROPIC_MODEL

        self._sdk = anthropic
        self.default_model = model or DEFAULT_ANTHROPIC_MODEL
        self.connect_timeout = connect_timeout
        # max_retries=0: the gateway owns retries (with retry-after and a deadline); the SDK's
        # default of 2 would multiply them.
        self.client = anthropic.Anthropic(api_key=api_key, base_url=base_url, max_retries=0, http_client=http_client)

    def _timeout(self, seconds: float):
        import httpx2

        return httpx2.Timeout(seconds, connect=min(self.connect_timeout, seconds))

    @staticmethod
    def params(request: ModelRequest, repair: Repair | None = None) -> dict:
        """The Messages API body. The stable prefix (system prompt, then context) is one or two
        system blocks and the last carries cache_control, so repeated calls read it from the
        prompt cache (minimum cacheable length applies; shorter prefixes are simply not cached)."""
        system = [{"type": "text", "text": text} for text in (request.system, request.context) if text]
        if system:
            system[-1]["cache_control"] = {"type": "ephemeral"}
        messages: list[dict] = [{"role": "user", "content": request.user}]
        params: dict = {"model": request.model, "max_tokens": request.max_tokens, "messages": messages}
        if system:
            params["system"] = system
        if request.schema is not None:
            params["tools"] = [
                {
                    "name": request.tool_name,
                    "description": "Record the answer. Every field must satisfy the input schema.",
                    "input_schema": request.schema,
                }
            ]
            params["tool_choice"] = {"type": "tool", "name": request.tool_name}
        if repair is not None:
            prev = repair.reply
            fix = (
                f"That answer was rejected: {repair.error}. Call `{request.tool_name}` again with input that "
                "satisfies the schema, using only facts from the data given."
            )
            if prev.tool_use_id:
                messages.append(
                    {
                        "role": "assistant",
                        "content": [
                            {"type": "tool_use", "id": prev.tool_use_id, "name": request.tool_name, "input": prev.data}
                        ],
                    }
                )
                messages.append(
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": prev.tool_use_id, "is_error": True, "content": fix}
                        ],
                    }
                )
            else:
                messages.append({"role": "assistant", "content": prev.text or "(no answer)"})
                messages.append({"role": "user", "content": fix})
        return params

    @staticmethod
    def parse_message(message, request: ModelRequest) -> ModelReply:
        texts, data, tool_use_id = [], None, ""
        for block in message.content:
            kind = getattr(block, "type", "")
            if kind == "text":
                texts.append(block.text)
            elif kind == "tool_use" and block.name == request.tool_name:
                data, tool_use_id = block.input, block.id
        usage = message.usage
        reply = ModelReply(
            text="".join(texts),
            data=data,
            input_tokens=usage.input_tokens or 0,
            output_tokens=usage.output_tokens or 0,
            cache_read_tokens=getattr(usage, "cache_read_input_tokens", 0) or 0,
            cache_write_tokens=getattr(usage, "cache_creation_input_tokens", 0) or 0,
            stop_reason=message.stop_reason or "",
            model=message.model or request.model,
            tool_use_id=tool_use_id,
        )
        if request.schema is not None and data is None:
            reply.data, error = parse_json_object(reply.text)
            reply.parse_error = f"no `{request.tool_name}` tool call: {error}" if error else ""
        return reply

    def translate(self, exc: Exception) -> Exception:
        sdk = self._sdk
        if isinstance(exc, sdk.APITimeoutError):
            return TemporaryLLMError(f"{self.vendor} did not answer in time")
        if isinstance(exc, sdk.APIConnectionError):
            return TemporaryLLMError(f"could not reach {self.vendor} ({exc.__class__.__name__})")
        if isinstance(exc, sdk.APIStatusError):
            status = exc.status_code
            detail = _error_detail(getattr(exc, "body", None)) or exc.__class__.__name__
            message = f"{self.vendor} {status}: {detail}"
            if is_temporary_status(status):
                return TemporaryLLMError(message, status=status, retry_after=parse_retry_after(exc.response.headers))
            return PermanentLLMError(message, status=status)
        return PermanentLLMError(f"{self.vendor} client error: {exc.__class__.__name__}")

    def complete(self, request: ModelRequest, *, repair: Repair | None = None) -> ModelReply:
        try:
            message = self.client.messages.create(
                **self.params(request, repair), timeout=self._timeout(request.timeout)
            )
        except self._sdk.AnthropicError as exc:
            raise self.translate(exc) from exc
        return self.parse_message(message, request)

    # Message Batches: half price, results within 24 hours.
    def submit_batch(self, requests: list[tuple[str, ModelRequest]], *, timeout: float) -> str:
        try:
            batch = self.client.messages.batches.create(
                requests=[{"custom_id": custom_id, "params": self.params(req)} for custom_id, req in requests],
                timeout=self._timeout(timeout),
            )
        except self._sdk.AnthropicError as exc:
            raise self.translate(exc) from exc
        return batch.id

    def batch_ended(self, batch_id: str, *, timeout: float) -> bool:
        try:
            batch = self.client.messages.batches.retrieve(batch_id, timeout=self._timeout(timeout))
        except self._sdk.AnthropicError as exc:
            raise self.translate(exc) from exc
        return batch.processing_status == "ended"

    def batch_results(
        self, batch_id: str, requests: dict[str, ModelRequest], *, timeout: float
    ) -> Iterator[BatchOutcome]:
        try:
            for row in self.client.messages.batches.results(batch_id, timeout=self._timeout(timeout)):
                result = row.result
                request = requests.get(row.custom_id)
                if result.type == "succeeded" and request is not None:
                    yield BatchOutcome(row.custom_id, reply=self.parse_message(result.message, request))
                else:
                    error = getattr(getattr(result, "error", None), "error", None)
                    detail = getattr(error, "message", "") or result.type
                    yield BatchOutcome(row.custom_id, error=f"batch item {result.type}: {detail}")
        except self._sdk.AnthropicError as exc:
            raise self.translate(exc) from exc


class BedrockProvider(AnthropicProvider):
    """Claude on AWS Bedrock through the SDK's `AnthropicBedrock` client: the same Messages body,
    sent to `/model/{model id}/invoke` and signed with SigV4 by botocore.

    Region and credentials come from where boto users keep them: AWS_REGION / AWS_DEFAULT_REGION
    (or the profile's region), AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN),
    AWS_PROFILE with ~/.aws/credentials and ~/.aws/config, or an instance/task role; or a Bedrock
    API key in AWS_BEARER_TOKEN_BEDROCK. Nothing AWS-specific is stored in our settings."""

    name = "bedrock"
    vendor = "Bedrock"
    supports_batches = False  # the SDK refuses Message Batches on Bedrock; bulk runs go synchronous

    def __init__(
        self,
        *,
        model: str = "",
        region: str | None = None,
        base_url: str | None = None,
        connect_timeout: float = 10.0,
        http_client=None,
    ):
        import anthropic

        from llm.config import DEFAULT_BEDROCK_MODEL

        self._sdk = anthropic
        self.default_model = model or DEFAULT_BEDROCK_MODEL
        self.connect_timeout = connect_timeout
        # max_retries=0 as for Anthropic: the gateway owns retries.
        self.client = anthropic.AnthropicBedrock(
            aws_region=region or None, base_url=base_url or None, max_retries=0, http_client=http_client
        )


def _error_detail(body) -> str:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("message") or error.get("type") or "")[:200]
        return str(error)[:200]
    return ""


# --- OpenAI-compatible (self-hosted model servers) -------------------------------------------


class OpenAICompatibleProvider(Provider):
    """POST {LLM_BASE_URL}/chat/completions with plain httpx (vLLM, llama.cpp, Ollama, TGI...)."""

    name = "openai-compatible"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str = "",
        json_mode: str = "json_object",
        connect_timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.default_model = model
        self.json_mode = json_mode
        self.connect_timeout = connect_timeout
        self.client = httpx.Client(base_url=base_url.rstrip("/") + "/", headers=headers, transport=transport)

    def body(self, request: ModelRequest, repair: Repair | None = None) -> dict:
        system = "\n\n".join(text for text in (request.system, request.context) if text)
        if request.schema is not None:
            system = f"{system}\n\n{schema_instructions(request.schema, request.tool_name)}".strip()
        messages = []
        if system:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": request.user})
        if repair is not None:
            messages.append({"role": "assistant", "content": repair.reply.text or "(no answer)"})
            messages.append(
                {
                    "role": "user",
                    "content": f"That answer was rejected: {repair.error}. Reply again with one JSON object "
                    "that satisfies the schema, using only facts from the data given.",
                }
            )
        body: dict = {"model": request.model, "messages": messages, "max_tokens": request.max_tokens}
        if request.schema is not None:
            if self.json_mode == "json_schema":
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": request.tool_name, "schema": request.schema},
                }
            else:
                body["response_format"] = {"type": "json_object"}
        return body

    def complete(self, request: ModelRequest, *, repair: Repair | None = None) -> ModelReply:
        timeout = httpx.Timeout(request.timeout, connect=min(self.connect_timeout, request.timeout))
        try:
            response = self.client.post("chat/completions", json=self.body(request, repair), timeout=timeout)
        except httpx.TimeoutException as exc:
            raise TemporaryLLMError("the model server did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise TemporaryLLMError(f"could not reach the model server ({exc.__class__.__name__})") from exc
        if response.status_code >= 400:
            try:
                detail = _error_detail(response.json())
            except ValueError:
                detail = response.text[:200]
            message = f"model server {response.status_code}: {detail or response.reason_phrase}"
            if is_temporary_status(response.status_code):
                raise TemporaryLLMError(
                    message, status=response.status_code, retry_after=parse_retry_after(response.headers)
                )
            raise PermanentLLMError(message, status=response.status_code)
        try:
            payload = response.json()
            choice = payload["choices"][0]
            text = choice["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise PermanentLLMError("the model server's reply is not a chat completion") from exc
        usage = payload.get("usage") or {}
        details = usage.get("prompt_tokens_details") or {}
        cached = int(details.get("cached_tokens") or 0)
        reply = ModelReply(
            text=text,
            input_tokens=max(0, int(usage.get("prompt_tokens") or 0) - cached),
            output_tokens=int(usage.get("completion_tokens") or 0),
            cache_read_tokens=cached,
            stop_reason=choice.get("finish_reason") or "",
            model=payload.get("model") or request.model,
        )
        if request.schema is not None:
            reply.data, reply.parse_error = parse_json_object(text)
        return reply
