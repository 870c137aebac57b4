"""`scoped_by`: every call made while a workflow runs carries the workflow's scope, a call's own
scope wins, and the scope is gone when the workflow returns or raises (a worker's next task must
not inherit it)."""

import pytest

from llm import ask, offline_writer
from llm.models import LLMCall
from llm.scopes import current_scope, scoped_by

pytestmark = pytest.mark.django_db


@offline_writer("test.workflow")
def _offline(inputs):
    return f"note {inputs.get('n', 0)}"


@scoped_by(lambda *, team, **_: team)
def workflow(*, team, own_scope=None, fail=False):
    ask(feature="test.workflow", system="s", prompt="p", inputs={"n": 1}, ttl=0)
    ask(feature="test.workflow", system="s", prompt="p", inputs={"n": 2}, ttl=0, scope=own_scope)
    if fail:
        raise RuntimeError("boom")


def test_calls_inside_a_scoped_workflow_carry_its_scope_unless_they_pass_their_own():
    workflow(team=7, own_scope=9)
    assert sorted(LLMCall.objects.values_list("scope", flat=True)) == [7, 9]


def test_the_scope_is_reset_after_the_workflow_returns_or_raises():
    workflow(team=3)
    assert current_scope() is None
    with pytest.raises(RuntimeError):
        workflow(team=4, fail=True)
    assert current_scope() is None
    ask(feature="test.workflow", system="s", prompt="p", inputs={"n": 5}, ttl=0)
    assert LLMCall.objects.order_by("-id").first().scope is None
