"""Personas shared by every app's tests: an agent, a teammate, a manager, an admin, and an
outsider on another team who must see nothing."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from crm.models import ADMIN_GROUP, AGENT_GROUP, MANAGER_GROUP, Account, Contact, Deal, Membership, Stage, Team
from crm.roles import ensure_role

PASSWORD = "correct-horse-battery"


def _user(username, team, group):
    user = get_user_model().objects.create_user(
        username=username, password=PASSWORD, email=f"{username}@example.com", first_name=username.title()
    )
    user.groups.add(ensure_role(group))
    if team is not None:
        Membership.objects.create(user=user, team=team)
    return user


@pytest.fixture(scope="session")
def live_server(django_db_setup, live_server, django_db_blocker):
    """pytest-django's live server, started after the test database exists so that it stops before
    the database is dropped; at the end of the session the database sessions its request threads
    left open are ended too (a browser's keep-alive socket keeps a request thread, and with it its
    connection, alive), so PostgreSQL can drop the test database cleanly."""
    yield live_server
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


@pytest.fixture
def team(db):
    return Team.objects.create(name="Blue Team", slug="blue")


@pytest.fixture
def other_team(db):
    return Team.objects.create(name="Red Team", slug="red")


@pytest.fixture
def agent(team):
    return _user("agent", team, AGENT_GROUP)


@pytest.fixture
def teammate(team):
    return _user("teammate", team, AGENT_GROUP)


@pytest.fixture
def manager(team):
    return _user("manager", team, MANAGER_GROUP)


@pytest.fixture
def admin_user(db):
    return _user("boss", None, ADMIN_GROUP)


@pytest.fixture
def outsider(other_team):
    return _user("outsider", other_team, AGENT_GROUP)


@pytest.fixture
def stages(db):
    rows = [("lead", 14), ("proposal", 7), ("negotiation", 5), ("won", None), ("lost", None)]
    return {
        slug: Stage.objects.update_or_create(
            slug=slug, defaults={"name": slug.title(), "order": i, "stale_after_days": days}
        )[0]
        for i, (slug, days) in enumerate(rows)
    }


@pytest.fixture
def account(team):
    return Account.objects.create(
        team=team, name="TechGiant", industry="Electronics", lifetime_value=3500, churn_risk=0.8
    )


@pytest.fixture
def foreign_account(other_team):
    return Account.objects.create(team=other_team, name="Secret Corp")


@pytest.fixture
def contact(account):
    return Contact.objects.create(account=account, name="Dana Smith", email="dana@techgiant.example")


@pytest.fixture
def deal(account, contact, agent, stages):
    return Deal.objects.create(
        team=account.team,
        account=account,
        primary_contact=contact,
        owner=agent,
        name="TechGiant renewal",
        stage=stages["proposal"],
        amount=5000,
    )


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


@pytest.fixture
def outsider_client(client, outsider):
    client.force_login(outsider)
    return client


@pytest.fixture
def api(agent):
    c = APIClient()
    c.force_authenticate(agent)
    return c


@pytest.fixture
def outsider_api(outsider):
    c = APIClient()
    c.force_authenticate(outsider)
    return c


# --- Browser tests -------------------------------------------------------------------------
# Debian's chromium driven by Playwright for Python; never a downloaded browser.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser_page(live_server, monkeypatch):
    """A fresh Chromium page; tests using it need `@pytest.mark.django_db(transaction=True)`.

    It bypasses the Content-Security-Policy because Playwright's own `wait_for_function` polls
    through eval, which the policy forbids; accounts_security/tests/test_browser.py checks the
    pages under the real policy with `strict_csp=True`."""
    yield from _browser_page(live_server, monkeypatch, strict_csp=False)


def _browser_page(live_server, monkeypatch, *, strict_csp):
    import os
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing and REQUIRE_BROWSER is set")
        pytest.skip(f"{CHROMIUM} is not installed")
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test
    # body are still synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(bypass_csp=not strict_csp)
        page = context.new_page()
        page.set_default_timeout(10_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()


def browser_login(page, live_server, user, password=PASSWORD):
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


# --- Real Celery workers -------------------------------------------------------------------


@pytest.fixture
def real_worker():
    """Starts real Celery worker processes on a Redis queue of their own, against this test's
    PostgreSQL database: `start(concurrency=1)` returns (the process, the queue to send to).
    Skipped without Redis and PostgreSQL, failed instead when REQUIRE_WORKER is set (CI). Tests
    using it need `@pytest.mark.django_db(transaction=True)`; every worker is stopped afterwards
    and its output kept in `.output` for assertions' messages."""
    import os
    import subprocess
    import sys
    import uuid
    from pathlib import Path

    from django.conf import settings
    from django.db import connection

    reason = None
    if not settings.REDIS_URL:
        reason = "REDIS_URL is not set"
    elif connection.vendor != "postgresql":
        reason = "the worker needs a database shared across processes (PostgreSQL)"
    if reason:
        if os.environ.get("REQUIRE_WORKER"):
            pytest.fail(f"REQUIRE_WORKER is set but {reason}")
        pytest.skip(reason)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    }
    started = []

    def start(concurrency: int = 1):
        queue = f"test-{uuid.uuid4().hex[:8]}"
        pool = ["--pool=solo"] if concurrency == 1 else ["--pool=prefork", f"--concurrency={concurrency}"]
        worker = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "celery", "-A", "config", "worker", *pool, "-Q", queue,
             "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "warning"],
            cwd=Path(__file__).resolve().parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        worker.output = ""
        started.append(worker)
        return worker, queue

    yield start
    for worker in started:
        worker.terminate()
        try:
            worker.output = worker.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.output = worker.communicate()[0]
