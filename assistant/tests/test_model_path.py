"""The co-pilot through the real anthropic SDK against a fake transport: the model routes, answers,
the checker rejects an uncited claim, the answer is retried with the checker's feedback."""

import json

import pytest

from assistant import services
from llm import use_provider
from llm.tests.conftest import FakeAnthropicAPI, message

pytestmark = pytest.mark.django_db

SEED_SPEND = "How much has TechGiant spent so far?"


def _tool(feature, data):
    return message(tool=data, tool_name="record_" + feature.replace(".", "_"))


def _looked_up_techgiant(*replies):
    """The model routes to the client lookup, needs nothing more, then gives these replies."""
    return FakeAnthropicAPI().add(
        _tool("assistant.route", {"calls": [{"tool": "lookup_client", "name": "TechGiant"}]}),
        _tool("assistant.route", {"calls": []}),
        *replies,
    )


def test_uncited_claim_is_retried_with_the_checkers_feedback(agent, world):
    spend = f"A{world['techgiant'].pk}.total_spend"
    api = _looked_up_techgiant(
        _tool(
            "assistant.answer",
            {
                "sentences": [{"text": "TechGiant has spent $120,000 so far this year.", "citations": []}],
                "support_missing": False,
            },
        ),
        _tool("assistant.check", {"ok": True, "problems": [], "unsupported": []}),
        _tool(
            "assistant.answer",
            {
                "sentences": [{"text": "TechGiant has spent $120,000 so far this year.", "citations": [spend]}],
                "support_missing": False,
            },
        ),
        _tool("assistant.check", {"ok": True, "problems": [], "unsupported": []}),
    )
    with use_provider(api.provider()):
        m = services.ask(user=agent, question=SEED_SPEND)
    assert m.offline is False and m.provider == "anthropic"
    assert m.verdict["ok"] and m.retries == 1
    assert [s["kind"] for s in m.steps] == ["tool", "check", "retry", "check"]
    assert "without a citation" in m.steps[2]["text"]
    assert m.citations[0]["id"] == spend
    # The second answer request carried the checker's feedback; the sources went as data.
    answer_requests = [b for b in api.bodies() if b["tool_choice"]["name"] == "record_assistant_answer"]
    assert "Sentence 1 states a fact without a citation." in json.dumps(answer_requests[1])
    assert "Sentence 1 states a fact without a citation." not in json.dumps(answer_requests[0])


def test_a_claim_still_unsupported_after_the_retries_is_removed_and_said(agent, world, settings):
    settings.ASSISTANT_MAX_RETRIES = 1
    wrong = {
        "sentences": [
            {
                "text": "TechGiant has spent $999,000 so far this year.",
                "citations": [f"A{world['techgiant'].pk}.total_spend"],
            }
        ],
        "support_missing": False,
    }
    api = _looked_up_techgiant(
        _tool("assistant.answer", wrong),
        _tool("assistant.check", {"ok": True, "problems": [], "unsupported": []}),
        _tool(
            "assistant.answer",
            {**wrong, "sentences": [{**wrong["sentences"][0], "text": "TechGiant has spent $998,000 so far."}]},
        ),
        _tool("assistant.check", {"ok": True, "problems": [], "unsupported": []}),
    )
    with use_provider(api.provider()):
        m = services.ask(user=agent, question=SEED_SPEND)
    assert "999,000" not in m.text and "998,000" not in m.text
    assert m.support_missing and not m.verdict["ok"]
    assert "I left out 1 statement(s)" in m.text
    assert len(m.attempts) == 2


def test_the_model_check_can_reject_what_the_rules_accept(agent, world, settings):
    settings.ASSISTANT_MAX_RETRIES = 0
    spend = f"A{world['techgiant'].pk}.total_spend"
    api = _looked_up_techgiant(
        _tool(
            "assistant.answer",
            {
                "sentences": [
                    {"text": "TechGiant has spent $120,000 so far this year.", "citations": [spend]},
                    {"text": "With $120,000 spent, TechGiant is our happiest customer.", "citations": [spend]},
                ],
                "support_missing": False,
            },
        ),
        _tool(
            "assistant.check",
            {"ok": False, "problems": ["Sentence 2 is an opinion no source holds."], "unsupported": [1]},
        ),
    )
    with use_provider(api.provider()):
        m = services.ask(user=agent, question=SEED_SPEND)
    assert "happiest" not in m.text
    assert "TechGiant has spent $120,000 so far this year." in m.text
    # The rules alone accept both sentences: only the model's review caught the opinion.
    assert not [p for p in m.verdict["problems"] if p.startswith("Sentence") and "opinion" not in p]
    assert "Sentence 2 is an opinion no source holds." in m.verdict["problems"]
