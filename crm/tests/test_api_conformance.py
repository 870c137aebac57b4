"""Schemathesis with every check (issue 10, step 3): the API does what its schema says.

Status codes, accepted and rejected inputs and response bodies must match the OpenAPI schema;
the checks skipped are listed (and explained) in docs/api.md. PostgreSQL only (CI's second leg):
SQLite accepts values PostgreSQL refuses, so the schema is only proven true on the real database.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from accounts_security import tokens

ROOT = Path(__file__).resolve().parents[2]
MAX_SECONDS = os.environ.get("FUZZ_SECONDS", "120")
# Each exclusion is explained in docs/api.md ("Remaining schemathesis exceptions").
# positive_data_acceptance: ids must name rows you can see, cursors must come from a page, pairs
# must be unique, credentials must be right: rules OpenAPI cannot express, answered with a 400.
EXCLUDED_CHECKS: list[str] = ["positive_data_acceptance"]
# Operations whose schema their owners are still making true (docs/api.md lists why, per operation).
EXCLUDED_OPERATIONS: list[str] = []


@pytest.mark.slow
@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql", reason="PostgreSQL only"
)
@pytest.mark.django_db(transaction=True)
def test_schemathesis_with_every_check_finds_no_failure(live_server):
    from io import StringIO

    from django.core.management import call_command

    from config.celery import app

    app.loader.import_default_modules()  # every app's tasks registered, as in a worker
    call_command("load_demo", stdout=StringIO())
    token, _ = tokens.issue_token(get_user_model().objects.get(username="demo"))
    st = Path(sys.executable).with_name("st")
    args = [
        str(st),
        "run",
        f"{live_server.url}/api/schema/",
        "--header",
        f"Authorization: Token {token.key}",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-time",
        MAX_SECONDS,
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--suppress-health-check",
        "all",
        "--report",
        os.environ.get("SCHEMATHESIS_REPORTS", "junit"),
        "--report-dir",
        str(ROOT / "schemathesis-report"),
    ]
    if EXCLUDED_CHECKS:
        args += ["--exclude-checks", ",".join(EXCLUDED_CHECKS)]
    for operation in EXCLUDED_OPERATIONS:
        args += ["--exclude-name", operation]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=int(MAX_SECONDS) * 3 + 180)
    report = ROOT / "schemathesis-report"
    report.mkdir(exist_ok=True)
    (report / "all-checks.txt").write_text(result.stdout + result.stderr)  # the full story, for CI artefacts
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-2000:]
