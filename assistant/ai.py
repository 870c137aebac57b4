"""The co-pilot's model calls (route, answer, check) through the LLM gateway, with the offline
writers that answer when no model is configured: the router's rules, the template composer and the
checker's rules. Each returns plain data the loop in services.py works with."""

from __future__ import annotations

import json

import llm
from assistant import checking, compose, prompts, routing

ROUTE = "assistant.route"
ANSWER = "assistant.answer"
CHECK = "assistant.check"


def _loads(value):
    return json.loads(value) if isinstance(value, str) else value


@llm.offline_writer(ROUTE)
def route_offline(inputs: dict) -> dict:
    question = inputs["question"]
    results = _loads(inputs.get("results") or [])
    if results:
        calls = routing.follow_up(question, results)
    else:
        calls = routing.first_round(question)
        if not routing.client_names(question):
            for name in _loads(inputs.get("previous_clients") or [])[:1]:
                calls.insert(0, routing.ToolCall("lookup_client", {"name": name}))
    return {"calls": [{"tool": c.tool, **c.args} for c in calls]}


@llm.offline_writer(ANSWER)
def answer_offline(inputs: dict) -> dict:
    return compose.compose(inputs["question"], _loads(inputs["sources"]))


@llm.offline_writer(CHECK)
def check_offline(inputs: dict) -> dict:
    return checking.check(
        inputs["question"], _loads(inputs["tools_used"]), _loads(inputs["answer"]), _loads(inputs["sources"])
    ).as_dict()


_ARG = {"lookup_client": "name", "account_records": "account_id", "search_playbook": "query"}


def route(
    question: str, *, results: list[dict], previous_clients: list[str], scope=None
) -> tuple[list[routing.ToolCall], llm.LLMResult]:
    result = llm.ask(
        feature=ROUTE,
        system=prompts.ROUTE_SYSTEM,
        prompt=prompts.ROUTE_PROMPT,
        inputs={"question": question, "results": results, "previous_clients": previous_clients},
        schema=prompts.ROUTE_SCHEMA,
        max_tokens=300,
        grounding="off",
    )
    calls = []
    for raw in (result.data or {}).get("calls", []):
        arg = _ARG.get(raw.get("tool"))
        if arg and raw.get(arg) not in (None, ""):
            calls.append(routing.ToolCall(raw["tool"], {arg: raw[arg]}))
    return calls, result


def write_answer(
    question: str, *, sources: list[dict], feedback: str, history: str, context: str = ""
) -> tuple[dict, llm.LLMResult]:
    result = llm.ask(
        feature=ANSWER,
        system=prompts.ANSWER_SYSTEM,
        prompt=prompts.ANSWER_PROMPT,
        inputs={"question": question, "sources": sources, "feedback": feedback, "history": history},
        schema=prompts.ANSWER_SCHEMA,
        max_tokens=900,
        context=context,
    )
    return result.data or {"sentences": [], "support_missing": True}, result


def model_check(question: str, *, tools_used: list[str], answer: dict, sources: list[dict]) -> checking.Verdict | None:
    """The model's review on top of the rules; None offline (the rules already ran) or on fallback."""
    if llm.provider_name() == "offline":
        return None
    result = llm.ask(
        feature=CHECK,
        system=prompts.CHECK_SYSTEM,
        prompt=prompts.CHECK_PROMPT,
        inputs={"question": question, "tools_used": tools_used, "answer": answer, "sources": sources},
        schema=prompts.CHECK_SCHEMA,
        max_tokens=400,
        grounding="off",
    )
    if result.offline:
        return None
    data = result.data or {}
    return checking.Verdict(
        ok=bool(data.get("ok")), problems=list(data.get("problems", [])), unsupported=list(data.get("unsupported", []))
    )
