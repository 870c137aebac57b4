"""The co-pilot's loop and its other workflows (rating, preference export).

One question runs as:

    route (model or rules) ─► tools (concurrently, cached) ─► route again with the results
      ─► answer with citations ─► check (rules, plus the model when configured)
      ─► retry with the checker's feedback (at most ASSISTANT_MAX_RETRIES) ─► strip what is
         still unsupported, say so ─► store

Every step is reported to `emit` as it happens (the console streams them) and stored on the
answer's row. No model call runs inside a transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

import llm
from assistant import ai, checking, tools
from assistant.models import Conversation, Message, Passage, Rating
from assistant.routing import ToolCall
from crm.errors import ServiceError
from crm.visibility import ledger_scope, visible_team_ids
from llm.scopes import scoped_by

Emit = Callable[[dict], None]
TOOL_STEP = {
    "lookup_client": "Looked up client “{name}”",
    "account_records": "Read the client's deals, orders and tickets",
    "search_playbook": "Searched the playbook for “{query}”",
}


def clean_question(question: str) -> str:
    question = " ".join((question or "").split())
    if not question:
        raise ServiceError("Ask a question first.", field="question")
    limit = settings.ASSISTANT_MAX_QUESTION_CHARS
    if len(question) > limit:
        raise ServiceError(
            f"Questions are limited to {limit:,} characters (this one has {len(question):,}).", field="question"
        )
    if "\x00" in question:
        raise ServiceError("The question contains a NUL character.", field="question")
    return question


@transaction.atomic
def start_turn(*, user, question: str, conversation: Conversation | None = None) -> Message:
    """Store the question and an answer row in "thinking" state; the loop fills it in."""
    question = clean_question(question)
    now = timezone.now()
    if conversation is None:
        conversation = Conversation.objects.create(user=user, title=question[:200], created_at=now, updated_at=now)
    else:
        Conversation.objects.filter(pk=conversation.pk).update(updated_at=now)
    Message.objects.create(conversation=conversation, role=Message.Role.USER, text=question, created_at=now)
    return Message.objects.create(conversation=conversation, role=Message.Role.ASSISTANT, status=Message.Status.PENDING)


def _previous(conversation: Conversation, before_id: int) -> tuple[list[str], str]:
    """Clients cited in the last answer (for "and their deals?") and a short history for the model."""
    earlier = list(conversation.messages.filter(pk__lt=before_id).order_by("-id")[:4])[::-1]
    clients: list[str] = []
    for m in earlier:
        for c in m.citations:
            name = c["label"].split(" · ")[0]
            if c["id"].startswith("A") and name not in clients:
                clients.append(name)
    history = " | ".join(f"{m.role}: {m.text[:300]}" for m in earlier)
    return clients[-2:], history


def _run_one(call: ToolCall, team_ids) -> dict:
    result, cached = tools.run(call.tool, team_ids, call.args)
    return {"tool": call.tool, "args": call.args, "cached": cached, "result": result}


def _in_thread(call: ToolCall, team_ids) -> dict:
    try:
        return _run_one(call, team_ids)
    finally:
        connections.close_all()  # the thread's own connection, not the request's


def run_tools(calls: list[ToolCall], team_ids) -> list[dict]:
    """Independent calls run concurrently. Inside a transaction (tests, or a caller holding one) other
    threads could not see its rows, so they run one after another there."""
    if len(calls) < 2 or connection.in_atomic_block:
        return [_run_one(c, team_ids) for c in calls]
    with ThreadPoolExecutor(max_workers=min(4, len(calls))) as pool:
        return list(pool.map(lambda c: _in_thread(c, team_ids), calls))


def whole_playbook(team_ids) -> str:
    """The whole playbook as a prompt-cached prefix when it fits the budget (most do): the model then
    sees every passage with its id, and retrieval only ranks what the answer cites first."""
    mode = settings.ASSISTANT_PLAYBOOK_MODE
    if mode == "retrieve":
        return ""
    qs = Passage.objects.select_related("document").order_by("document_id", "ordinal")
    if team_ids is not None:
        qs = qs.filter(document__team_id__in=team_ids)
    parts, size = [], 0
    for p in qs.iterator(chunk_size=500):
        line = f"[P{p.pk}] {p.cite_label}: {p.text}"
        size += len(line)
        if size > settings.ASSISTANT_PLAYBOOK_WHOLE_MAX_CHARS and mode == "auto":
            return ""
        parts.append(line)
    return "Sales playbook passages (cite by id):\n" + "\n".join(parts)


class Recorder:
    def __init__(self, emit: Emit | None):
        self.emit = emit or (lambda event: None)
        self.started = time.perf_counter()
        self.steps: list[dict] = []

    def step(self, kind: str, text: str, **extra) -> None:
        event = {"kind": kind, "text": text, "at_ms": round((time.perf_counter() - self.started) * 1000), **extra}
        self.steps.append(event)
        self.emit({"event": "step", **event})


def _citations(sentences: list[dict], sources: list[dict]) -> tuple[list[dict], list[dict]]:
    """Number the cited sources in order of first use; sentences get `refs` ([1, 2])."""
    by_id = {s["id"]: s for s in sources}
    order: list[str] = []
    out = []
    for s in sentences:
        refs = []
        for cid in s.get("citations", []):
            if cid in by_id:
                if cid not in order:
                    order.append(cid)
                refs.append(order.index(cid) + 1)
        out.append({**s, "refs": refs})
    return out, [{**by_id[cid], "n": i + 1} for i, cid in enumerate(order)]


@scoped_by(lambda *, user, **_: ledger_scope(user))  # its AI calls on the asker's team's usage page
def answer(*, user, message: Message, emit: Emit | None = None) -> Message:
    """Run the loop for a stored question (see the module docstring). Idempotent: a finished answer
    is returned as it is."""
    if message.status != Message.Status.PENDING:
        return message
    rec = Recorder(emit)
    question = message.conversation.messages.filter(role=Message.Role.USER, pk__lt=message.pk).order_by("-id")[0].text
    team_ids = visible_team_ids(user)
    previous_clients, history = _previous(message.conversation, message.pk)
    results: list[dict] = []
    for _round in range(2):
        calls, routed = ai.route(question, results=results, previous_clients=previous_clients)
        if not calls:
            break
        for r in run_tools(calls, team_ids):
            results.append(r)
            args = {k: str(v)[:80] for k, v in r["args"].items()}
            rec.step(
                "tool",
                TOOL_STEP[r["tool"]].format(**args) + (" (from the tool cache)" if r["cached"] else ""),
                tool=r["tool"],
            )
    sources: list[dict] = []
    seen: set[str] = set()
    for r in results:
        for s in tools.sources_of(r["tool"], r["result"]):
            if s.id not in seen:
                seen.add(s.id)
                sources.append(s.as_dict())
    tools_used = [r["tool"] for r in results]
    rec.emit({"event": "sources", "sources": sources})  # everything retrieved (the evaluation's contexts)
    # The whole playbook is for a model to read; the offline composer works from the sources alone.
    wants_playbook = any(s["kind"] == "passage" for s in sources) and llm.provider_name() != "offline"
    context = whole_playbook(team_ids) if wants_playbook else ""
    feedback, attempts, previous = "", [], None
    draft, result, verdict, written = {}, None, checking.Verdict(ok=False), 0
    for attempt in range(settings.ASSISTANT_MAX_RETRIES + 1):
        written += 1
        draft, result = ai.write_answer(question, sources=sources, feedback=feedback, history=history, context=context)
        verdict = checking.check(question, tools_used, draft, sources)
        model_verdict = ai.model_check(question, tools_used=tools_used, answer=draft, sources=sources)
        if model_verdict and not model_verdict.ok:
            verdict.ok = False
            verdict.problems += model_verdict.problems
            verdict.unsupported = sorted(
                set(verdict.unsupported) | {i for i in model_verdict.unsupported if isinstance(i, int)}
            )
        if verdict.ok:
            rec.step("check", "Checked the answer: every statement is supported")
            break
        rec.step("check", f"Checked the answer: {len(verdict.problems)} problem(s)", problems=verdict.problems[:5])
        attempts.append({"answer": draft, "verdict": verdict.as_dict()})
        if draft == previous or attempt == settings.ASSISTANT_MAX_RETRIES:
            break  # the writer gives the same answer again (offline): retrying cannot help
        previous, feedback = draft, verdict.feedback
        rec.step("retry", f"Retrying because {verdict.problems[0][0].lower()}{verdict.problems[0][1:]}")
    sentences = list(draft.get("sentences", []))
    support_missing = bool(draft.get("support_missing"))
    if not verdict.ok and verdict.unsupported:
        kept = [s for i, s in enumerate(sentences) if i not in set(verdict.unsupported)]
        removed = len(sentences) - len(kept)
        sentences = kept + [
            {
                "text": f"I left out {removed} statement(s) the records and the playbook do not support.",
                "citations": [],
                "notice": True,
            }
        ]
        support_missing = True
    sentences, citations = _citations(sentences, sources)
    Message.objects.filter(pk=message.pk, status=Message.Status.PENDING).update(
        status=Message.Status.DONE,
        text=" ".join(s["text"] for s in sentences),
        sentences=sentences,
        citations=citations,
        steps=rec.steps,
        tool_calls=[{k: r[k] for k in ("tool", "args", "cached")} for r in results],
        verdict=verdict.as_dict(),
        attempts=attempts,
        retries=written - 1,
        support_missing=support_missing,
        offline=bool(result and result.offline),
        provider=result.provider if result else "",
    )
    message.refresh_from_db()
    rec.emit({"event": "answer", "message_id": message.pk})
    return message


def fail(message: Message, error: str) -> None:
    Message.objects.filter(pk=message.pk, status=Message.Status.PENDING).update(
        status=Message.Status.FAILED, error=error[:500]
    )


def ask(*, user, question: str, conversation: Conversation | None = None, emit: Emit | None = None) -> Message:
    message = start_turn(user=user, question=question, conversation=conversation)
    return answer(user=user, message=message, emit=emit)


@transaction.atomic
def rate(*, user, message: Message, helpful: bool, reason: str = "") -> Rating:
    if message.role != Message.Role.ASSISTANT or message.status != Message.Status.DONE:
        raise ServiceError("Only a finished answer can be rated.", field="message")
    rating, _ = Rating.objects.update_or_create(
        message=message,
        defaults={"user": user, "helpful": helpful, "reason": (reason or "").strip()[:500], "rated_at": timezone.now()},
    )
    return rating
