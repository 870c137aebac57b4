"""The Content-Security-Policy in a real browser: key pages work and nothing is blocked."""

import pytest

from conftest import _browser_page, browser_login


@pytest.fixture
def browser_page(live_server, monkeypatch):
    """The root fixture's page, but under the real policy (no CSP bypass)."""
    yield from _browser_page(live_server, monkeypatch, strict_csp=True)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_key_pages_work_under_the_policy_without_a_single_violation(browser_page, live_server, agent, deal):
    page = browser_page
    violations = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    browser_login(page, live_server, agent)
    for path in ["/", "/inbox/", "/deals/", f"/deals/{deal.pk}/", "/accounts/", "/deals/nudges/", "/settings/"]:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
    # htmx (a vendored static file) runs: the deal page's stage form posts through it.
    assert page.evaluate("typeof htmx") == "object"
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .info")  # Swagger UI's script is a separate file, not inline
    assert violations == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_injected_inline_script_is_blocked_by_the_browser(browser_page, live_server, agent):
    page = browser_page
    browser_login(page, live_server, agent)
    page.goto(f"{live_server.url}/")
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.pwned = 1';"
        " document.body.appendChild(s); }"
    )
    assert page.evaluate("window.pwned") is None
