from pathlib import Path

import pytest

from notifications import importing

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def sample_files() -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(SAMPLE.glob("*.csv"))]


@pytest.fixture
def imported(team, manager):
    """The shipped sample imported into the agent's team."""
    run = importing.import_customers(sample_files(), team=team, actor=manager)
    assert run.status == "imported", run.report
    return run
