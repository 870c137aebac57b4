"""No Docker engine runs on CI machines, so the compose stack is checked for shape, not started."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_stack_has_every_service_with_health_checks_and_a_database_volume():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"web", "worker", "beat", "db", "redis"}
    for name in ("web", "worker", "db", "redis"):
        assert "healthcheck" in services[name], name
    assert "uvicorn config.asgi:application" in services["web"]["command"]
    assert services["worker"]["command"].startswith("celery -A config worker")
    assert services["beat"]["command"].startswith("celery -A config beat")
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]
    assert services["web"]["depends_on"]["db"]["condition"] == "service_healthy"


def test_env_example_names_only_variables_the_settings_read():
    settings_text = (ROOT / "config" / "settings.py").read_text()
    lines = (line.removeprefix("# ") for line in (ROOT / ".env.example").read_text().splitlines())
    names = [m.group(1) for m in map(re.compile(r"^([A-Z][A-Z0-9_]+)=").match, lines) if m]
    assert names
    for name in names:
        assert f'"{name}"' in settings_text, name
