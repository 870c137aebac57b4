"""PostgreSQL connections are pooled: a burst of requests under ASGI leaves at most the pool's size open."""

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.conf import settings
from django.db import connection

from accounts_security import tokens

pytestmark = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql", reason="PostgreSQL only"
)


def _open_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


@pytest.fixture
def asgi_server():
    """uvicorn serving config.asgi.application (as in production) on 127.0.0.1, port 0."""
    import uvicorn

    from config.asgi import application

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(application, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)


@pytest.mark.django_db(transaction=True)
def test_two_hundred_asgi_requests_leave_at_most_the_pools_size_open(asgi_server, agent, account):
    pool = settings.DATABASES["default"]["OPTIONS"].get("pool")
    assert pool, "PostgreSQL runs pooled by default (DB_POOL)"
    assert settings.DATABASES["default"]["CONN_MAX_AGE"] == 0
    token, _ = tokens.issue_token(agent)

    def call(_):
        with httpx.Client(base_url=asgi_server, timeout=30) as client:
            return client.get("/api/accounts/", headers={"Authorization": f"Token {token.key}"}).status_code

    with ThreadPoolExecutor(max_workers=20) as executor:
        statuses = list(executor.map(call, range(200)))
    assert statuses == [200] * 200
    # Every connection of this database counts, this test's own included: all come from one pool.
    assert _open_connections() <= pool["max_size"]
