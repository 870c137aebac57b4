"""Fakes for the llm tests: the real anthropic SDK over an httpx2 MockTransport, a real HTTP server
on 127.0.0.1 for the openai-compatible path, and a socket guard so any unfaked call fails loudly."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx2
import pytest

from llm import offline_writer
from llm.providers import AnthropicProvider, OpenAICompatibleProvider

SCHEMA = {
    "type": "object",
    "properties": {
        "subject": {"type": "string", "maxLength": 80},
        "priority": {"type": "string", "enum": ["low", "normal", "high"]},
    },
    "required": ["subject", "priority"],
    "additionalProperties": False,
}


@offline_writer("test.draft")
def offline_draft(inputs: dict) -> str:
    return f"Hello {inputs.get('customer', 'there')}, we have your message about {inputs.get('subject', 'it')}."


@offline_writer("test.structured")
def offline_structured(inputs: dict) -> dict:
    return {"subject": f"Re: {inputs.get('subject', '')}"[:80], "priority": "normal"}


LOOPBACK = ("127.0.0.1", "::1", "localhost")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Only loopback is reachable (the fake servers, PostgreSQL and Redis in CI). The SDK and the
    gateway turn a refused connection into an offline fallback, so each attempt is also recorded
    and fails the test at teardown: an unfaked call can never pass silently."""
    attempts: list[str] = []
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def guarded_connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in LOOPBACK and not host.startswith("/"):
            attempts.append(f"connect {address!r}")
            raise ConnectionRefusedError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    def guarded_getaddrinfo(host, *args, **kwargs):
        if isinstance(host, bytes):
            host = host.decode()
        if host not in LOOPBACK and host is not None:
            attempts.append(f"resolve {host}")
            raise socket.gaierror(f"test tried to resolve {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    yield attempts
    assert not attempts, f"unfaked network access: {attempts}"


@pytest.fixture
def sleeps(monkeypatch):
    """Record the gateway's waits instead of sleeping."""
    waited: list[float] = []
    monkeypatch.setattr("llm.clock.sleep", waited.append)
    return waited


# --- Anthropic over a mock transport -------------------------------------------------------------


def message(*, text="", tool=None, tool_name="record_test_structured", stop="end_turn", usage=None, model=None):
    content = []
    if text:
        content.append({"type": "text", "text": text})
    if tool is not None:
        content.append({"type": "tool_use", "id": "toolu_01", "name": tool_name, "input": tool})
        stop = "tool_use"
    return httpx2.Response(
        200,
        json={
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "model": model or "claude-sonnet-4-6",
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {
                "input_tokens": 120,
                "output_tokens": 30,
                "cache_read_input_tokens": 0,
                "cache_creation_input_tokens": 0,
                **(usage or {}),
            },
        },
    )


def api_error(status: int, kind: str, text: str, headers=None):
    return httpx2.Response(
        status, headers=headers or {}, json={"type": "error", "error": {"type": kind, "message": text}}
    )


class FakeAnthropicAPI:
    """Answers requests from a queue; records every request the SDK sends."""

    def __init__(self):
        self.queue: list = []
        self.requests: list[httpx2.Request] = []

    def add(self, *responses):
        self.queue.extend(responses)
        return self

    def handler(self, request: httpx2.Request):
        self.requests.append(request)
        if not self.queue:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        item = self.queue.pop(0)
        if isinstance(item, Exception):
            raise item
        if callable(item):
            return item(request)
        return item

    def bodies(self) -> list[dict]:
        return [json.loads(r.content) if r.content else {} for r in self.requests]

    def provider(self, model: str = "claude-sonnet-4-6") -> AnthropicProvider:
        client = httpx2.Client(transport=httpx2.MockTransport(self.handler))
        return AnthropicProvider(api_key="sk-ant-test-fake", model=model, http_client=client)


@pytest.fixture
def fake_anthropic():
    return FakeAnthropicAPI()


# --- openai-compatible: a real server on 127.0.0.1 ------------------------------------------------


class FakeModelServer:
    """ThreadingHTTPServer on an ephemeral loopback port. Each queued item is (status, json body,
    headers) or ("sleep", seconds) to stall past the client's timeout."""

    def __init__(self):
        self.queue: list = []
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                server.requests.append({"path": self.path, "body": json.loads(self.rfile.read(length) or b"{}")})
                server.headers.append(dict(self.headers))
                item = server.queue.pop(0) if server.queue else (500, {"error": {"message": "no reply queued"}}, {})
                if item[0] == "sleep":
                    server.release.wait(item[1])
                    item = (200, chat("too late"), {})
                status, body, headers = item
                payload = json.dumps(body).encode() if not isinstance(body, bytes) else body
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

        self.release = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def add(self, *items):
        self.queue.extend(items)
        return self

    def provider(self, **kw) -> OpenAICompatibleProvider:
        return OpenAICompatibleProvider(base_url=self.url, model="local-llama", api_key="local-key", **kw)

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def chat(content: str, *, finish="stop", usage=None):
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "local-llama",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
        "usage": usage or {"prompt_tokens": 90, "completion_tokens": 25, "total_tokens": 115},
    }


@pytest.fixture
def model_server():
    server = FakeModelServer()
    yield server
    server.close()
