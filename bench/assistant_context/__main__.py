"""Whole playbook against retrieval: what the co-pilot's answer call sends the model, per question.

    .venv/bin/python -m bench.assistant_context
    BENCH_MODEL=claude-haiku-4-5 .venv/bin/python -m bench.assistant_context

Uses DATABASE_URL (default postgres://postgres@127.0.0.1:5432/nt_bench_assistant_context; the name
must contain "bench"); everything it creates is rolled back. No model is called: answer quality
cannot be measured without one, so this measures what each ASSISTANT_PLAYBOOK_MODE puts in front of
the model, on two evaluation sets:

  1. the 47-case assistant.answer dataset, each question run through the offline loop in its
     evaluation world (the sample playbook, 11 passages, plus the planted field notes): the sources
     the tools retrieved are what `retrieve` sends; `whole` sends them too, plus every passage;
  2. the 60-question assistant.retrieval dataset over the 83-passage handbook, searched as the
     `search_playbook` tool does (top 4; fused with semantic search where it is installed).

Per mode: the share of the expected passages in the prompt (whole: all, when the playbook fits the
budget; retrieve: recall@4 of the product's own search), the answer call's input tokens (estimated,
assistant/context_cost.py), and its input cost per question at BENCH_MODEL's prices from
settings.LLM_PRICES with prompt caching (the first question writes the cacheable prefix, later ones
read it). Output tokens are the same in both modes and left out. Then the playbook size at which
`auto` stops sending the playbook whole (ASSISTANT_PLAYBOOK_WHOLE_MAX_CHARS).
"""

from __future__ import annotations

import json
import os
import statistics

from bench.common import setup_django

MODEL = os.environ.get("BENCH_MODEL", "claude-sonnet-4-6")
# Anthropic caches nothing shorter than 2,048 tokens on Haiku, 1,024 on Sonnet and Opus.
MIN_CACHEABLE = 2048 if "haiku" in MODEL else 1024
os.environ.pop("REDIS_URL", None)  # the tool cache in local memory: nothing shared with other runs
setup_django("postgres://postgres@127.0.0.1:5432/nt_bench_assistant_context")

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from assistant import context_cost, evaluation, prompts, services, tools  # noqa: E402
from assistant import retrieval_quality as rq  # noqa: E402
from assistant.models import Passage  # noqa: E402
from assistant.playbook import import_playbook  # noqa: E402
from crm.models import Team  # noqa: E402
from crm.visibility import visible_team_ids  # noqa: E402
from llm import prompting  # noqa: E402
from llm.config import price_for  # noqa: E402
from llm.evaluation import load_dataset  # noqa: E402

# The constant part of every answer call, in the order Anthropic caches it: the tool definition the
# gateway forces (the answer schema), then the system prompt with the gateway's data rule.
TOOL = json.dumps({"name": "record_assistant_answer", "input_schema": prompts.ANSWER_SCHEMA})
SYSTEM = f"{prompts.ANSWER_SYSTEM}\n\n{prompting.DATA_RULE}"


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def request(question: str, sources: list[dict], context: str) -> context_cost.Request:
    values = {
        k: prompting.serialize(v)
        for k, v in {"question": question, "sources": sources, "feedback": "", "history": ""}.items()
    }
    prefix = "\n".join(part for part in (TOOL, SYSTEM, context) if part)
    return context_cost.Request(prefix=prefix, variable=prompting.render_user(prompts.ANSWER_PROMPT, values))


def whole_text(team_ids) -> str:
    with override_settings(ASSISTANT_PLAYBOOK_MODE="whole"):
        return services.whole_playbook(team_ids)


class Rollback(Exception):
    pass


def answer_set() -> list[dict]:
    """Per case of assistant.answer: question, expected passage headings, retrieved sources."""
    cases = load_dataset(evaluation.SUITE.dataset).cases
    rows = []
    try:
        with transaction.atomic():
            world = evaluation._build_world()
            team_ids = visible_team_ids(world["rep"])
            for case in cases:
                sources: list[dict] = []
                services.ask(
                    user=world["rep"],
                    question=case.inputs["question"],
                    emit=lambda e, sources=sources: (
                        sources.extend(e["sources"]) if e.get("event") == "sources" else None
                    ),
                )
                rows.append(
                    {
                        "question": case.inputs["question"],
                        "expected": case.expected.get("contexts", []),
                        "sources": sources,
                        "present": {s["value"] for s in sources if s["kind"] == "passage"},
                    }
                )
            whole = whole_text(team_ids)
            passages = list(Passage.objects.filter(document__team_id__in=team_ids).select_related("document"))
            headings = {p.heading for p in passages}
            for row in rows:  # the playbook's contexts; the others are record fields
                row["expected"] = [c for c in row["expected"] if c in headings]
            raise Rollback
    except Rollback:
        pass
    return rows, whole, passages


def handbook_set() -> list[dict]:
    cases = load_dataset(rq.DATASET).cases
    rows = []
    try:
        with transaction.atomic():
            team = Team.objects.create(name="Bench handbook", slug="bench-handbook")
            import_playbook(
                team=team, data=rq.PLAYBOOK.read_bytes(), file_name=rq.PLAYBOOK.name, title="Sales handbook"
            )
            for case in cases:
                result = tools.search_playbook({team.pk}, case.inputs["question"])
                rows.append(
                    {
                        "question": case.inputs["question"],
                        "expected": case.expected["headings"],
                        "sources": [s.as_dict() for s in tools.sources_of("search_playbook", result)],
                        "present": {p["heading"] for p in result["passages"]},
                    }
                )
            whole = whole_text({team.pk})
            passages = list(Passage.objects.filter(document__team=team).select_related("document"))
            raise Rollback
    except Rollback:
        pass
    return rows, whole, passages


def report(name: str, rows: list[dict], whole: str, price) -> None:
    budget = settings.ASSISTANT_PLAYBOOK_WHOLE_MAX_CHARS
    fits = len(whole) - len(whole.split("\n", 1)[0]) <= budget
    # The product sends the playbook only to questions whose tools retrieved a passage.
    retrieve = [request(r["question"], r["sources"], "") for r in rows]
    whole_reqs = [
        request(r["question"], r["sources"], whole if any(s["kind"] == "passage" for s in r["sources"]) else "")
        for r in rows
    ]
    scored = [r for r in rows if r["expected"]]
    shares = {
        "retrieve": statistics.mean(context_cost.coverage(r["expected"], r["present"]) for r in scored),
        "whole": statistics.mean(
            context_cost.coverage(r["expected"], {h for h in r["expected"] if h in whole}) for r in scored
        )
        if fits
        else None,
    }
    print(
        f"\n{name}: {len(rows)} questions, {len(scored)} with expected passages; whole playbook {len(whole):,} chars "
        f"(~{context_cost.estimate_tokens(whole):,} tokens), {'fits' if fits else 'over'} the {budget:,}-char budget"
    )
    print(
        "| mode | expected passages in prompt | input tokens a question (mean, max) "
        "| cost a question, cache cold | cache warm | mean over the set in order |"
    )
    print("|---|---|---|---|---|---|")
    for mode, reqs in (("retrieve", retrieve), ("whole", whole_reqs)):
        share = shares[mode]
        tokens = [r.tokens for r in reqs]
        cold = [context_cost.input_costs([r], price, min_cacheable=MIN_CACHEABLE)[0] for r in reqs]
        warm = [context_cost.input_costs([r, r], price, min_cacheable=MIN_CACHEABLE)[1] for r in reqs]
        print(
            f"| {mode} | {'n/a (over budget)' if share is None else f'{share:.3f}'} "
            f"| {statistics.mean(tokens):,.0f}, {max(tokens):,} | ${statistics.mean(cold):.5f} "
            f"| ${statistics.mean(warm):.5f} | ${statistics.mean(context_cost.input_costs(reqs, price, min_cacheable=MIN_CACHEABLE)):.5f} |"
        )


def main() -> None:
    call_command("migrate", verbosity=0)
    price = price_for(MODEL, settings.LLM_PRICES)
    print(
        f"{MODEL}: input ${price.input}/M, cache write ${price.cache_write}/M, cache read ${price.cache_read}/M; "
        f"tokens estimated at {context_cost.CHARS_PER_TOKEN} chars; prefixes under {MIN_CACHEABLE} tokens are not cached"
    )
    print(f"retrieval: {'hybrid (semantic installed)' if tools.semantic.available() else 'lexical'}; {load()}")
    sizes = {}
    for name, build in (
        ("assistant.answer (sample playbook)", answer_set),
        ("assistant.retrieval (83-passage handbook)", handbook_set),
    ):
        rows, whole, passages = build()
        report(name, rows, whole, price)
        sizes[name] = [len(f"[P{p.pk}] {p.cite_label}: {p.text}") + 1 for p in passages]
    budget = settings.ASSISTANT_PLAYBOOK_WHOLE_MAX_CHARS
    print(
        f"\nauto switches to retrieval above ASSISTANT_PLAYBOOK_WHOLE_MAX_CHARS = {budget:,} chars (~{budget // context_cost.CHARS_PER_TOKEN:,} tokens):"
    )
    for name, chars in sizes.items():
        mean = statistics.mean(chars)
        at = context_cost.switch_point(chars * (budget // sum(chars) + 1), budget)
        print(
            f"  {name}: {len(chars)} passages, {sum(chars):,} chars ({mean:.0f} a passage): switches at {at} passages of that size"
        )
    prefix = context_cost.estimate_tokens(TOOL + SYSTEM) + budget // context_cost.CHARS_PER_TOKEN
    print(
        f"  a playbook at the budget: cacheable prefix ~{prefix:,} tokens: ${prefix * price.cache_write / context_cost.MILLION:.4f} "
        f"to write once, ${prefix * price.cache_read / context_cost.MILLION:.4f} a question to read, "
        f"${prefix * price.input / context_cost.MILLION:.4f} uncached"
    )
    print(load())


if __name__ == "__main__":
    main()
