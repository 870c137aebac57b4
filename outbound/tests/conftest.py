import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import override_settings

SECRET = "whsec-outbound-test"


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((dict(self.headers), body))
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b'{"id": "prov-1"}')

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    """A webhook receiver on 127.0.0.1 that answers the queued statuses (then 200)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.received, server.statuses = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/send"
    with override_settings(OUTBOUND_WEBHOOK_URL=url, OUTBOUND_WEBHOOK_SECRET=SECRET):
        yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def queue(team, contact):
    """queue_delivery with defaults for the tests; keys are unique per call unless given."""
    from outbound import services

    counter = iter(range(1, 10_000))

    def make(**kw):
        args = {
            "key": f"test-{next(counter)}",
            "team": team,
            "channel": "email",
            "recipient": "",
            "body": "Your order shipped today.",
            "subject": "Your order",
            "contact": contact,
            "source": "tests.thing",
            "source_id": 1,
        }
        args.update(kw)
        return services.queue_delivery(**args)

    return make
