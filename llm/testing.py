"""Helpers for tests in any app: a scripted provider, so features can test their model path
(parsing, provenance, fallbacks) without network and without the anthropic SDK.

    from llm.testing import FakeProvider, reply
    with use_provider(FakeProvider([reply(data={"subject": "Hi"}), TemporaryLLMError("busy")])) as fake:
        result = draft_reply(ticket)
    assert fake.requests[0].schema == DRAFT_SCHEMA
"""

from __future__ import annotations

from llm.errors import LLMError
from llm.providers import BatchOutcome, ModelReply, ModelRequest, Provider, Repair


def reply(text: str = "", *, data=None, input_tokens: int = 100, output_tokens: int = 20, **kw) -> ModelReply:
    return ModelReply(
        text=text,
        data=data,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        model=kw.pop("model", "fake-model"),
        tool_use_id=kw.pop("tool_use_id", "toolu_fake" if data is not None else ""),
        **kw,
    )


class FakeProvider(Provider):
    """Answers from a script: each item is a ModelReply (returned) or an exception (raised).
    When the script runs out, the last item repeats."""

    name = "anthropic"
    default_model = "fake-model"

    def __init__(self, script, *, name: str = "anthropic"):
        self.script = list(script)
        self.name = name
        self.requests: list[ModelRequest] = []
        self.repairs: list[Repair | None] = []

    def complete(self, request: ModelRequest, *, repair: Repair | None = None) -> ModelReply:
        self.requests.append(request)
        self.repairs.append(repair)
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, BaseException):
            raise step
        return step


class FakeBatchProvider(FakeProvider):
    """A FakeProvider with a Message Batches API: a submitted batch has ended at once and each of its
    requests is answered from the script, as `complete` answers (so `requests` counts them too).
    `batches` holds what was submitted, by batch id."""

    supports_batches = True

    def __init__(self, script, *, name: str = "anthropic"):
        super().__init__(script, name=name)
        self.batches: dict[str, list[tuple[str, ModelRequest]]] = {}

    def submit_batch(self, requests: list[tuple[str, ModelRequest]], *, timeout: float) -> str:
        batch_id = f"fakebatch_{len(self.batches) + 1}"
        self.batches[batch_id] = list(requests)
        return batch_id

    def batch_ended(self, batch_id: str, *, timeout: float) -> bool:
        return True

    def batch_results(self, batch_id: str, requests: dict[str, ModelRequest], *, timeout: float):
        for custom_id, request in self.batches[batch_id]:
            try:
                yield BatchOutcome(custom_id, reply=self.complete(request))
            except LLMError as exc:
                yield BatchOutcome(custom_id, error=str(exc))
