"""Record a run against a real model, replay it later with no key and no network.

Both sit at the HTTP layer under the real anthropic SDK (an httpx2 transport), so a replay exercises
exactly what production does with the model's words: the SDK's parsing, the gateway's schema check,
repair turn and guardrails, then the feature's own parser.

A recording set is a directory with one `<feature>.jsonl` per suite; each line is one request the
SDK sent and the reply it got: {"case", "key", "request": {"method", "path", "body"}, "response":
{"status", "body"}}. Headers are not stored (the API key travels in one). `key` is the hash of the
request body, so a changed prompt misses its recording and the replay says which case and request.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

from llm.providers import AnthropicProvider

RECORD_PROVIDER = "anthropic-record"
REPLAY_PROVIDER = "anthropic-replay"


def request_key(method: str, path: str, body: dict | None) -> str:
    blob = json.dumps({"method": method, "path": path, "body": body}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _body(request: httpx2.Request):
    try:
        return json.loads(request.content) if request.content else None
    except ValueError:
        return request.content.decode(errors="replace")


def recording_path(directory: str | Path, feature: str) -> Path:
    return Path(directory) / f"{feature}.jsonl"


class _Named(AnthropicProvider):
    """The real Anthropic provider under its own name: ledger rows and cache entries of record and
    replay runs never mix with production's (the cache key includes the provider name)."""

    supports_batches = False  # a recording is one request per call, in order

    def __init__(self, name: str, **kw):
        super().__init__(**kw)
        self.name = name


class RecordingTransport(httpx2.BaseTransport):
    def __init__(self, path: Path, inner: httpx2.BaseTransport | None = None):
        self.path = path
        self.inner = inner or httpx2.HTTPTransport()
        self.case_id = ""
        self.count = 0

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = self.inner.handle_request(request)
        content = response.read()
        try:
            body = json.loads(content) if content else None
        except ValueError:
            body = content.decode(errors="replace")
        sent = _body(request)
        line = {
            "case": self.case_id,
            "key": request_key(request.method, request.url.path, sent),
            "request": {"method": request.method, "path": request.url.path, "body": sent},
            "response": {"status": response.status_code, "body": body},
        }
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
        self.count += 1
        headers = {k: v for k, v in response.headers.items() if k.lower() in ("content-type", "retry-after")}
        return httpx2.Response(response.status_code, headers=headers, content=content)


@dataclass
class Miss:
    case_id: str
    key: str
    path: str
    model: str


class ReplayError(LookupError):
    pass


@dataclass
class ReplayTransport(httpx2.BaseTransport):
    replies: dict[str, dict]
    source: Path
    case_id: str = ""
    misses: list[Miss] = field(default_factory=list)
    used: int = 0

    @classmethod
    def load(cls, path: Path) -> ReplayTransport:
        if not path.is_file():
            raise ReplayError(f"the replay directory {path.parent} has no recording {path.name}")
        replies: dict[str, dict] = {}
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                replies[item["key"]] = item
            except (ValueError, KeyError, TypeError):
                raise ReplayError(f"{path} line {number}: not a recorded request") from None
        return cls(replies, path)

    @property
    def model(self) -> str:
        for item in self.replies.values():
            body = item.get("request", {}).get("body")
            if isinstance(body, dict) and body.get("model"):
                return body["model"]
        return ""

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        sent = _body(request)
        key = request_key(request.method, request.url.path, sent)
        item = self.replies.get(key)
        if item is None:
            model = sent.get("model", "") if isinstance(sent, dict) else ""
            self.misses.append(Miss(self.case_id, key, request.url.path, model))
            # A permanent error: the gateway gives up at once (no retries) and the run is stopped by
            # the checkpoint, which names the case and the request.
            return httpx2.Response(
                400, json={"type": "error", "error": {"type": "invalid_request_error", "message": "not recorded"}}
            )
        self.used += 1
        response = item["response"]
        body = response.get("body")
        if isinstance(body, str):
            return httpx2.Response(response["status"], content=body.encode())
        return httpx2.Response(response["status"], json=body)


def recording_provider(path: Path, *, api_key: str, model: str, inner=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("", encoding="utf-8")  # a recording is one run: start the file afresh
    transport = RecordingTransport(path, inner)
    client = httpx2.Client(transport=transport)
    return _Named(RECORD_PROVIDER, api_key=api_key, model=model, http_client=client), transport


def replay_provider(path: Path):
    transport = ReplayTransport.load(path)
    client = httpx2.Client(transport=transport)
    provider = _Named(REPLAY_PROVIDER, api_key="sk-ant-replay-no-key", model=transport.model, http_client=client)
    return provider, transport
