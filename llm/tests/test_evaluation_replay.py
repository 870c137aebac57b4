"""Record a run against a fake Messages API on 127.0.0.1 through the real SDK, replay it with no
server and no key; the model-as-judge metric offline, answering, and unavailable."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import CommandError, call_command

from llm.evaluation import Suite, register, run_suite
from llm.evaluation.judge import judge
from llm.evaluation.models import EvalRun
from llm.evaluation.registry import unregister
from llm.models import LLMCall
from llm.tests.conftest import api_error, message
from llm.tests.test_evaluation import FEATURE, ask_subject, mentions_expected, prefixed, write_jsonl

pytestmark = pytest.mark.django_db


class FakeMessagesAPI:
    """POST /v1/messages on an ephemeral loopback port. Answers the tool the request forces with a
    subject made from the request's own text, so every reply depends on what was sent."""

    def __init__(self):
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                api.requests.append(body)
                api.headers.append(dict(self.headers))
                content = body["messages"][0]["content"]
                subject = content.split("<subject>")[1].split("</subject>")[0] if "<subject>" in content else "?"
                tool = body["tool_choice"]["name"]
                payload = {
                    "id": f"msg_{len(api.requests)}",
                    "type": "message",
                    "role": "assistant",
                    "model": body["model"],
                    "content": [
                        {
                            "type": "tool_use",
                            "id": "toolu_1",
                            "name": tool,
                            "input": {"subject": f"Re: {subject}"[:80], "priority": "low"},
                        }
                    ],
                    "stop_reason": "tool_use",
                    "stop_sequence": None,
                    "usage": {"input_tokens": 100, "output_tokens": 10},
                }
                raw = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def messages_api():
    api = FakeMessagesAPI()
    yield api
    api.close()


@pytest.fixture
def suite(tmp_path):
    rows = [
        {"id": "refund", "inputs": {"subject": "Refund please"}, "expected": {"word": "Refund"}},
        {"id": "late", "inputs": {"subject": "Late parcel"}, "expected": {"word": "parcel"}},
        {"id": "miss", "inputs": {"subject": "Hello"}, "expected": {"word": "Goodbye"}},
    ]
    s = register(
        Suite(
            feature=FEATURE,
            dataset=write_jsonl(tmp_path / "cases.jsonl", rows),
            run=ask_subject,
            metrics=[prefixed, mentions_expected],
        )
    )
    yield s
    unregister(FEATURE)


@pytest.fixture
def anthropic_configured(settings, monkeypatch, messages_api):
    settings.LLM_PROVIDER = "anthropic"
    settings.ANTHROPIC_API_KEY = "sk-ant-test-recording-key"
    settings.LLM_MODEL = "claude-sonnet-4-6"
    monkeypatch.setenv("ANTHROPIC_BASE_URL", messages_api.url)
    return messages_api


def test_record_then_replay_with_no_server_gives_the_same_scores(suite, anthropic_configured, tmp_path, settings):
    recordings = tmp_path / "recordings"
    call_command("evaluate_ai", "--feature", FEATURE, "--record", str(recordings))

    recorded = EvalRun.objects.get()
    assert (recorded.mode, recorded.provider, recorded.model) == ("record", "anthropic-record", "claude-sonnet-4-6")
    assert len(anthropic_configured.requests) == 3
    lines = [json.loads(x) for x in (recordings / "test.eval.jsonl").read_text().splitlines()]
    assert [x["case"] for x in lines] == ["refund", "late", "miss"]
    assert lines[0]["response"]["body"]["content"][0]["input"] == {"subject": "Re: Refund please", "priority": "low"}
    assert "sk-ant-test-recording-key" not in (recordings / "test.eval.jsonl").read_text()

    anthropic_configured.close()  # nothing answers any more
    settings.LLM_PROVIDER, settings.ANTHROPIC_API_KEY = "offline", ""
    call_command("evaluate_ai", "--replay", str(recordings))

    replayed = EvalRun.objects.order_by("-id").first()
    assert (replayed.mode, replayed.provider, replayed.model) == ("replay", "anthropic-replay", "claude-sonnet-4-6")
    assert replayed.scores == recorded.scores == {"prefixed": 1.0, "mentions_expected": 0.6667}
    assert replayed.results.get(case_id="late").output["data"] == {"subject": "Re: Late parcel", "priority": "low"}
    assert not replayed.results.get(case_id="late").output["offline"]
    assert LLMCall.objects.filter(provider="anthropic-replay", outcome="ok").count() == 3


def test_replay_that_lacks_a_recorded_request_names_the_case(suite, anthropic_configured, tmp_path, settings):
    recordings = tmp_path / "recordings"
    call_command("evaluate_ai", "--feature", FEATURE, "--record", str(recordings))
    settings.LLM_PROVIDER = "offline"
    with open(suite.dataset, "a") as fh:
        fh.write(json.dumps({"id": "new-case", "inputs": {"subject": "Never recorded"}}) + "\n")

    with pytest.raises(CommandError, match="lacks a recorded request for test.eval case 'new-case'"):
        call_command("evaluate_ai", "--replay", str(recordings))
    assert EvalRun.objects.filter(mode="replay").count() == 0  # a stopped run is not stored


def test_replay_directory_without_the_features_recording_is_a_clear_error(suite, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CommandError, match="holds no recording of a registered feature"):
        call_command("evaluate_ai", "--replay", str(tmp_path / "empty"))
    with pytest.raises(CommandError, match="has no recording test.eval.jsonl"):
        call_command("evaluate_ai", "--feature", FEATURE, "--replay", str(tmp_path / "empty"))


def test_record_needs_the_anthropic_provider(suite, tmp_path):
    with pytest.raises(CommandError, match="--record needs the Anthropic provider"):
        call_command("evaluate_ai", "--feature", FEATURE, "--record", str(tmp_path / "rec"))


# --- the judge -----------------------------------------------------------------------------------


@pytest.fixture
def judged(tmp_path):
    rows = [{"id": "one", "inputs": {"question": "Where is order 1042?"}, "reference": "It is out for delivery."}]
    s = register(
        Suite(
            feature="test.judged",
            dataset=write_jsonl(tmp_path / "judged.jsonl", rows),
            run=lambda case: {"text": "Your order 1042 is out for delivery."},
            metrics=[judge("answers_the_question", "The reply answers the customer's question.", output_field="text")],
        )
    )
    yield s
    unregister("test.judged")


def test_offline_runs_skip_the_judge_and_say_why(judged):
    report = run_suite(judged)
    assert report.run.scores == {}
    assert report.run.skipped == {"answers_the_question": "offline provider: no model to judge"}


def test_the_judge_grades_through_the_gateway_with_its_rubric(judged, fake_anthropic):
    fake_anthropic.add(message(tool={"score": 4, "reasons": ["does not say when"]}, tool_name="record_llm_judge"))
    from llm import use_provider

    with use_provider(fake_anthropic.provider()):
        report = run_suite(judged)

    assert report.run.scores == {"answers_the_question": 0.75}
    assert report.run.results.get().reasons == {"answers_the_question": ["does not say when"]}
    body = fake_anthropic.bodies()[0]
    assert "The reply answers the customer's question." in body["messages"][0]["content"]
    assert "Your order 1042 is out for delivery." in body["messages"][0]["content"]
    assert LLMCall.objects.filter(feature="llm.judge", outcome="ok").count() == 1  # in the ledger
    with use_provider(fake_anthropic.provider()):  # cached: no second request, same verdict
        again = run_suite(judged)
    assert again.run.scores == {"answers_the_question": 0.75} and len(fake_anthropic.requests) == 1


def test_an_unavailable_judge_is_skipped_with_the_reason_never_scored(judged, fake_anthropic):
    fake_anthropic.add(api_error(401, "authentication_error", "invalid x-api-key"))
    from llm import use_provider

    with use_provider(fake_anthropic.provider()):
        report = run_suite(judged)

    assert report.run.scores == {}
    assert report.run.skipped["answers_the_question"].startswith("judge unavailable: ")
    assert "401" in report.run.skipped["answers_the_question"]
