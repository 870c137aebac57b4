import itertools

import pytest
from django.core.cache import cache

from crm.models import Contact
from outbound.tests.conftest import webhook  # noqa: F401 - the signed-webhook receiver, shared with outbound
from tickets import services

_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_ticket(account, django_capture_on_commit_callbacks):
    """Create a ticket through the real service; the work queued on commit (triage, then the
    draft) runs as it would after a real commit, with tasks eager."""

    def make(
        body="Where is my order?", *, channel="email", priority="normal", subject="", acct=None, contact=None, **kw
    ):
        acct = acct or account
        if contact is None:
            n = next(_seq)
            contact = Contact.objects.create(
                account=acct, name=f"Customer {n}", email=f"c{n}@example.com", phone=f"+1 555 {n:04d}"
            )
        with django_capture_on_commit_callbacks(execute=True):
            return services.create_ticket(
                actor=None,
                account=acct,
                contact=contact,
                channel=channel,
                subject=subject or body[:40],
                body=body,
                priority=priority,
                **kw,
            )

    return make


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run callbacks queued with transaction.on_commit (delay_on_commit) at the end of the block."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
