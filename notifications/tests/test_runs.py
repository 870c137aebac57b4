"""Analysis runs through the gateway's batch path: a big run submits one Message Batch per feature,
waits, resumes from the reply cache when the last answer is in; unchanged customers cost nothing."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from llm import use_provider
from llm.models import LLMBatch, LLMCall
from llm.providers import BatchOutcome
from llm.tasks import collect_batches_task
from llm.testing import FakeProvider, reply
from notifications import prompts, runs
from notifications.models import AnalysisRun, Notification

ANALYSIS = {
    "priority": "High",
    "urgency": "Contact within 24 hours",
    "risk_score": 8,
    "segment": "Value Seekers",
    "segment_reason": "Asked about tariffs.",
    "contact_reason": "Asked about tariffs recently.",
    "trigger_factors": [],
    "potential_impact": "May switch supplier.",
    "insights": "Prefers email.",
    "communication_style": "Clear and factual.",
    "conversation_starters": ["May I go through your options?"],
}
MESSAGE = {
    "subject": "Your tariff options",
    "message": "Hello,\n\nWe would like to go through your options.\n\nCustomer Care Team",
}


class BatchProvider(FakeProvider):
    """A provider with Message Batches that end at once; every request answered by its feature."""

    supports_batches = True

    def __init__(self):
        super().__init__([reply(data=MESSAGE)])
        self.batches: dict[str, list[str]] = {}

    def submit_batch(self, requests, *, timeout):
        batch_id = f"fake_batch_{len(self.batches) + 1}"
        self.batches[batch_id] = [custom_id for custom_id, _ in requests]
        return batch_id

    def batch_ended(self, batch_id, *, timeout):
        return True

    def batch_results(self, batch_id, requests, *, timeout):
        for custom_id in self.batches[batch_id]:
            data = ANALYSIS if requests[custom_id].schema == prompts.ANALYSIS_SCHEMA else MESSAGE
            yield BatchOutcome(custom_id, reply=reply(data=data))


def _analyse(team, *args) -> str:
    out = io.StringIO()
    call_command("analyse_customers", "--team", team.slug, "--no-progress", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def batch_provider(settings):
    settings.LLM_BATCH_MIN_ITEMS = 3
    with use_provider(BatchProvider()) as provider:
        yield provider


def test_a_big_run_goes_through_message_batches_and_a_rerun_costs_nothing(
    imported, team, batch_provider, django_capture_on_commit_callbacks
):
    out = _analyse(team, "--limit", "5")
    run = AnalysisRun.objects.get()
    assert run.batch and run.status == AnalysisRun.Status.WAITING and run.waiting == 5
    assert "Submitted 5 requests" in out and Notification.objects.count() == 0
    assert LLMBatch.objects.get().feature == "notifications.analysis"

    with django_capture_on_commit_callbacks(execute=True):  # the last answer queues the run again
        assert collect_batches_task()["items"] == 5
    run.refresh_from_db()
    assert run.status == AnalysisRun.Status.WAITING and run.waiting == 5  # now the messages' batch
    assert list(LLMBatch.objects.order_by("pk").values_list("feature", flat=True)) == [
        "notifications.analysis",
        "notifications.message",
    ]

    with django_capture_on_commit_callbacks(execute=True):
        assert collect_batches_task()["items"] == 5
    run.refresh_from_db()
    assert run.status == AnalysisRun.Status.DONE and run.done == 5
    assert Notification.objects.count() == 5
    n = Notification.objects.first()
    assert n.provenance["provider"] == "anthropic" and n.subject == "Your tariff options"
    assert n.analysis["contact_reason"] == "Asked about tariffs recently."
    assert batch_provider.requests == []  # nothing was asked synchronously
    assert LLMCall.objects.filter(batched=True).count() == 10

    # Nothing changed: a second run asks nothing, submits nothing and says what it saved.
    calls = LLMCall.objects.count()
    out = _analyse(team, "--limit", "5")
    assert "5 unchanged (nothing asked)" in out and "model calls saved: 10" in out
    assert LLMBatch.objects.count() == 2 and LLMCall.objects.count() == calls


def test_a_small_run_answers_as_it_goes(imported, team, batch_provider):
    out = _analyse(team, "--limit", "2")
    run = AnalysisRun.objects.get()
    assert not run.batch and run.status == AnalysisRun.Status.DONE
    assert LLMBatch.objects.count() == 0 and Notification.objects.count() == 2
    assert "Analysed 2 Value Seekers customers" in out


def test_the_console_button_starts_a_batch_run_for_many_customers(imported, team, batch_provider):
    run = runs.start_analysis(team=team, segment="Value Seekers")
    assert run.batch and run.total >= 3


def test_the_panel_of_a_run_waiting_for_its_batch_says_so_and_polls_slowly(
    agent_client, imported, team, batch_provider, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run = runs.start_analysis(team=team, segment="Value Seekers")
    run.refresh_from_db()
    assert run.status == AnalysisRun.Status.WAITING
    panel = agent_client.get(reverse("notifications:run", args=[run.pk])).content.decode()
    assert f"{run.waiting} answers still to come" in panel and 'hx-trigger="every 30s"' in panel
    # A second click while it waits joins the waiting run.
    assert runs.start_analysis(team=team, segment="Value Seekers").pk == run.pk
