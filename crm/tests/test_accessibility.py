"""axe-core in Chromium on every console page, as each persona: no critical or serious violation,
and no page asks the server for something it does not have (a 404 in the browser console).

The pages are found, not listed: every route in the URL conf without parameters that answers a GET
with an HTML page for the persona, every link in the nav and on the settings index, one detail page
per object type, and CONSOLE_PAGES below for pages that need an object (extend it when you add one).
The world is built through the console itself (forms and the scan button), so crm's tests import no
upper app. axe-core comes bundled in the axe-playwright-python package (no network) and is injected
with page.evaluate, which the Content-Security-Policy does not block.
"""

from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django.views.generic import RedirectView

from conftest import PASSWORD, browser_login
from crm.models import Contact, Deal

# Pages that need an object: a path with {account}, {deal} or {ticket} placeholders. Add yours.
CONSOLE_PAGES = [
    "/accounts/{account}/",
    "/deals/{deal}/",
    "/inbox/{ticket}/",
]

# Routes a GET may not render as a page of its own: sign-in/out, the API, admin, streams, files.
NOT_PAGES = ("api/", "admin/", "login/", "logout/", "healthz", "favicon.ico", "nudges")

IMPACTS = ("critical", "serious")
PERSONAS = ["agent", "teammate", "manager", "admin_user", "outsider"]
# Pico follows the system's colour scheme; dark mode's contrast is checked for the two personas
# who see the most pages (each run costs about a minute on a shared CI machine).
SCHEMES_DARK = [("agent", "dark"), ("manager", "dark")]


def parameterless_routes(resolver=None, prefix=""):
    """Every route in the URL conf that takes no parameter, as a path."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if "<" in route or "(" in route or route.startswith(NOT_PAGES):
            continue
        if isinstance(pattern, URLResolver):
            yield from parameterless_routes(pattern, route)
        elif isinstance(pattern, URLPattern) and getattr(pattern.callback, "view_class", None) is not RedirectView:
            yield "/" + route.lstrip("^").rstrip("$")


def html_pages(client, candidates):
    """The candidates that answer this client with a whole HTML page (not a fragment or a file)."""
    pages = []
    for path in dict.fromkeys(candidates):
        response = client.get(path)
        if response.streaming:
            response.close()
            continue
        if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
            if b"<html" in response.content[:200]:
                pages.append(path)
    return pages


def hrefs(html):
    import re

    return [h for h in re.findall(r'<a [^>]*href="(/[^"#?]*)', html) if not h.startswith(("/admin/", "/api/"))]


@pytest.fixture
def console_world(client, team, agent, account, contact, stages):
    """A small world with something on every page: a VIP account at churn risk, stale deals that
    the scan turns into nudges, a won deal, and tickets triaged and drafted (offline writer)."""
    from config.celery import app

    app.loader.import_default_modules()  # tasks are enqueued by name: register them as a worker would
    now = timezone.now()
    deals = [
        Deal.objects.create(
            team=team,
            account=account,
            primary_contact=contact,
            owner=agent,
            name=name,
            stage=stages[stage],
            amount=amount,
            last_activity_at=now - timedelta(days=days),
        )
        for name, stage, amount, days in [
            ("Big renewal", "proposal", 40000, 21),
            ("Small pilot", "lead", 3000, 30),
            ("Expansion", "negotiation", 12000, 9),
            ("Closed one", "won", 8000, 2),
        ]
    ]
    other = Contact.objects.create(account=account, name="Sam Lee", email="sam@techgiant.example")
    client.force_login(agent)
    tickets = []
    for subject, body, priority, who in [
        ("Where is my order?", "Order 1042 has not arrived and I am very upset.", "urgent", other),
        ("Invoice question", "Can you resend the invoice for March?", "normal", contact),
    ]:
        response = client.post(
            "/inbox/new/",
            {
                "account": account.pk,
                "contact": who.pk,
                "channel": "email",
                "priority": priority,
                "subject": subject,
                "body": body,
            },
        )
        assert response.status_code == 302, response.content.decode()[:500]
        tickets.append(int(urlparse(response["Location"]).path.strip("/").split("/")[-1]))
    assert client.post("/deals/nudges/scan/").status_code == 302
    client.logout()
    return {"account": account.pk, "deal": deals[0].pk, "ticket": tickets[0]}


@pytest.fixture
def persona_pages(client, request, console_world, persona):
    """(user, pages) for the persona; found through the test client before the browser starts
    (Playwright's event loop in this thread would refuse the client's async views)."""
    user = request.getfixturevalue(persona)
    return user, pages_for(client, user, console_world)


def pages_for(client, user, world):
    client.force_login(user)
    nav = hrefs(client.get("/").content.decode()) + hrefs(client.get("/settings/").content.decode())
    details = [path.format(**world) for path in CONSOLE_PAGES]
    pages = html_pages(client, [*parameterless_routes(), *nav, *details])
    client.logout()
    return pages


def axe_violations(page):
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['impact']} {v['id']} {' '.join(map(str, node['target']))}: {node.get('failureSummary', '')[:160]!r}"
        for v in results.response["violations"]
        if v["impact"] in IMPACTS
        for node in v["nodes"]
    ]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("persona, scheme", [(p, "light") for p in PERSONAS] + SCHEMES_DARK)
def test_every_console_page_has_no_serious_axe_violation_and_no_missing_file(
    persona_pages, console_world, persona, scheme, browser_page, live_server
):
    user, pages = persona_pages
    assert "/" in pages and "/settings/" in pages
    if persona != "outsider":
        assert {"/deals/nudges/", "/inbox/", f"/deals/{console_world['deal']}/"} <= set(pages)
    page = browser_page
    missing, errors = [], []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.emulate_media(color_scheme=scheme)
    browser_login(page, live_server, user, PASSWORD)
    found = {}
    for path in pages:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("load")
        violations = axe_violations(page)
        if violations:
            found[path] = violations
    report = "\n".join(f"{path} {line}" for path, lines in found.items() for line in lines)
    assert found == {}, f"{sum(len(v) for v in found.values())} violating elements on {len(pages)} pages:\n{report}"
    assert missing == [] and errors == [], (missing, errors)
