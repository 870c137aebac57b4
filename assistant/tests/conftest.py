import pytest
from django.core.cache import cache as django_cache

from assistant.demo import SAMPLE_PDF, ensure_techgiant
from assistant.playbook import import_playbook


@pytest.fixture(autouse=True)
def _fresh_tool_cache():
    django_cache.clear()
    yield
    django_cache.clear()


@pytest.fixture
def playbook(team):
    return import_playbook(team=team, data=SAMPLE_PDF.read_bytes(), file_name=SAMPLE_PDF.name, title="Sales playbook")


@pytest.fixture
def techgiant(team, teammate):
    return ensure_techgiant(team, teammate)


@pytest.fixture
def world(playbook, techgiant):
    """The seed's example on a small team: TechGiant and the sample playbook."""
    return {"playbook": playbook, "techgiant": techgiant}
