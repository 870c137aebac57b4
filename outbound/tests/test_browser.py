"""The Deliveries page in a real browser: htmx retry and confirm with the CSRF header from <body>."""

import pytest
from django.urls import reverse

from conftest import browser_login
from outbound import services
from outbound.models import Delivery

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_agent_retries_a_failure_and_confirms_an_uncertain_send(browser_page, live_server, agent, team, contact):
    page = browser_page
    failed, _ = services.queue_delivery(
        key="b-failed", team=team, channel="email", recipient="", body="Hi", contact=contact
    )
    unsure, _ = services.queue_delivery(
        key="b-unsure", team=team, channel="email", recipient="", body="Yo", contact=contact
    )
    Delivery.objects.filter(pk=failed.pk).update(status="failed", last_error="SMTP 550: mailbox unavailable")
    Delivery.objects.filter(pk=unsure.pk).update(status="uncertain", last_error="The worker stopped while sending")

    browser_login(page, live_server, agent)
    page.goto(live_server.url + reverse("outbound:list") + "?status=attention")
    assert "SMTP 550" in page.locator(f"#delivery-{failed.pk}").inner_text()
    page.click(f"#delivery-{failed.pk} button:has-text('Retry')")
    page.wait_for_selector(f"#delivery-{failed.pk}:not(:has(button))")
    assert page.url.endswith("?status=attention")  # swapped in place, no reload
    page.click(f"#delivery-{unsure.pk} button:has-text('Mark as sent')")
    page.wait_for_selector(f"#delivery-{unsure.pk}:has-text('by agent')")
    assert Delivery.objects.get(pk=unsure.pk).status == "sent"
    assert Delivery.objects.get(pk=failed.pk).status == "sent"
