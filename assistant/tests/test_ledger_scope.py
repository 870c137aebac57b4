"""The co-pilot's AI calls land on the asker's team's usage page (issue 10, item 5): they carried
no scope, so only admins saw them; now a manager of the asker's team sees them and another team's
manager does not."""

import pytest

from assistant import services
from conftest import _user
from crm.models import MANAGER_GROUP
from llm.models import LLMCall

pytestmark = pytest.mark.django_db


def test_co_pilot_calls_carry_the_askers_team_scope(agent, team, other_team, world):
    services.ask(user=agent, question="How much has TechGiant spent so far?")
    scopes = set(LLMCall.objects.filter(feature__startswith="assistant.").values_list("scope", flat=True))
    assert scopes == {team.pk}
    mine = _user("blueboss", team, MANAGER_GROUP)
    theirs = _user("redboss", other_team, MANAGER_GROUP)
    assert LLMCall.objects.visible_to(mine).filter(feature__startswith="assistant.").exists()
    assert not LLMCall.objects.visible_to(theirs).filter(feature__startswith="assistant.").exists()
