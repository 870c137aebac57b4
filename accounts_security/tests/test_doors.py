"""Doors (issue 10, item 6): sign-in lockout, expiring tokens, 401 for anonymous API calls, CSP."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts_security import throttle, tokens
from accounts_security.models import LoginLockout, TokenExpiry
from conftest import PASSWORD

WRONG = "not-the-password"


def _login(client, username, password, address="10.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def _token(username, password, address="10.0.0.1"):
    return APIClient().post(
        "/api/token/", {"username": username, "password": password}, format="json", REMOTE_ADDR=address
    )


@override_settings(LOGIN_MAX_FAILURES=5)
def test_right_password_after_five_wrong_ones_is_refused_at_the_login_form(client, agent):
    for _ in range(5):
        assert _login(client, "agent", WRONG).status_code == 200
    response = _login(client, "agent", PASSWORD)
    assert response.status_code == 200  # the form again, not the redirect of a signed-in user
    assert "Too many failed sign-ins for this username" in response.content.decode()
    assert "_auth_user_id" not in client.session


@override_settings(LOGIN_MAX_FAILURES=5)
def test_right_password_after_five_wrong_ones_is_refused_by_the_token_endpoint(agent):
    for _ in range(4):
        assert _token("agent", WRONG).status_code == 400
    fifth = _token("agent", WRONG)
    assert fifth.status_code == 429
    response = _token("agent", PASSWORD)
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.json()["detail"]
    assert 0 < int(response["Retry-After"]) <= 15 * 60 + 1
    assert not Token.objects.filter(user=agent).exists()


@override_settings(LOGIN_MAX_FAILURES=5)
def test_both_doors_share_one_count_per_username(client, agent):
    for _ in range(3):
        _token("agent", WRONG, address="10.0.0.1")
    for _ in range(2):
        _login(client, "agent", WRONG, address="10.0.0.2")  # another address, same username
    assert _token("agent", PASSWORD, address="10.0.0.3").status_code == 429


@override_settings(LOGIN_MAX_FAILURES=100, LOGIN_MAX_FAILURES_PER_ADDRESS=8)
def test_one_address_spraying_many_usernames_is_locked(agent):
    for i in range(8):
        _token(f"nobody{i}", WRONG, address="203.0.113.9")
    assert _token("agent", PASSWORD, address="203.0.113.9").status_code == 429
    assert _token("agent", PASSWORD, address="198.51.100.1").status_code == 200


@override_settings(LOGIN_MAX_FAILURES=3)
def test_admin_unlock_lets_the_right_password_in_again(client, agent, admin_user):
    for _ in range(3):
        _login(client, "agent", WRONG)
    assert LoginLockout.objects.get(scope="username", value="agent").is_locked()
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    admin = type(client)()
    admin.force_login(admin_user)
    rows = LoginLockout.objects.values_list("pk", flat=True)
    response = admin.post(
        "/admin/accounts_security/loginlockout/",
        {"action": "unlock", "_selected_action": list(rows)},
    )
    assert response.status_code == 302
    assert not LoginLockout.objects.exists()
    assert _login(client, "agent", PASSWORD).status_code == 302


@override_settings(LOGIN_MAX_FAILURES=3, LOGIN_LOCKOUT_MINUTES=15)
def test_lock_ends_by_itself_after_the_lockout_time(agent):
    now = timezone.now()
    for _ in range(3):
        throttle.record_failure("agent", "10.0.0.1", now=now)
    assert throttle.lockout_for("agent", "10.0.0.9", now=now + timedelta(minutes=14)) is not None
    assert throttle.lockout_for("agent", "10.0.0.9", now=now + timedelta(minutes=16)) is None


@override_settings(LOGIN_MAX_FAILURES=3, LOGIN_FAILURE_WINDOW_MINUTES=15)
def test_occasional_typos_spread_over_days_never_lock(agent):
    start = timezone.now()
    for day in range(10):
        throttle.record_failure("agent", "10.0.0.1", now=start + timedelta(days=day))
    assert throttle.lockout_for("agent", "10.0.0.1", now=start + timedelta(days=10)) is None


def test_a_successful_sign_in_forgets_the_usernames_earlier_failures(client, agent):
    _login(client, "agent", WRONG)
    assert _login(client, "agent", PASSWORD).status_code == 302
    assert not LoginLockout.objects.filter(scope="username").exists()


# --- tokens ---------------------------------------------------------------------------------


def test_token_endpoint_returns_the_expiry(agent):
    response = _token("agent", PASSWORD)
    assert response.status_code == 200
    body = response.json()
    token = Token.objects.get(key=body["token"])
    assert TokenExpiry.objects.get(token=token).expires_at > timezone.now() + timedelta(days=29)
    assert body["expires_at"]


def test_an_expired_token_gets_401_and_a_fresh_one_is_issued(agent):
    token, _ = tokens.issue_token(agent)
    TokenExpiry.objects.filter(token=token).update(expires_at=timezone.now() - timedelta(seconds=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.get("/api/accounts/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
    fresh = _token("agent", PASSWORD).json()["token"]
    assert fresh != token.key
    client.credentials(HTTP_AUTHORIZATION=f"Token {fresh}")
    assert client.get("/api/accounts/").status_code == 200


@override_settings(API_TOKEN_LIFETIME_DAYS=1)
def test_a_token_made_without_an_expiry_row_expires_after_the_default_lifetime(agent):
    token = Token.objects.create(user=agent)
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - timedelta(days=2))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/accounts/").status_code == 401


def test_expired_token_is_refused_by_the_nudge_stream(client, agent):
    token, _ = tokens.issue_token(agent)
    TokenExpiry.objects.filter(token=token).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get("/api/nudges/stream/", headers={"Authorization": f"Token {token.key}"})
    assert response.status_code == 401


def test_api_tokens_command_lists_and_revokes(agent, teammate):
    mine, _ = tokens.issue_token(agent)
    theirs, _ = tokens.issue_token(teammate)
    TokenExpiry.objects.filter(token=theirs).update(expires_at=timezone.now() - timedelta(days=1))
    out = StringIO()
    call_command("api_tokens", "list", stdout=out)
    assert "agent" in out.getvalue() and "expired" in out.getvalue() and "2 token(s)" in out.getvalue()
    call_command("api_tokens", "revoke", "--expired", stdout=out)
    assert list(Token.objects.values_list("key", flat=True)) == [mine.key]
    call_command("api_tokens", "revoke", "--user", "agent", stdout=out)
    assert not Token.objects.exists()


def test_admin_revokes_a_token(client, agent, admin_user):
    token, _ = tokens.issue_token(agent)
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    response = client.post("/admin/authtoken/tokenproxy/", {"action": "revoke", "_selected_action": [token.pk]})
    assert response.status_code == 302
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get("/api/accounts/").status_code == 401


# --- anonymous API calls and CSP ------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/accounts/", "/api/deals/", "/api/schema/"])
def test_anonymous_api_call_gets_401_with_a_token_challenge(db, url):
    response = APIClient().get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_session_user_without_csrf_token_is_still_refused(agent):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(agent)
    assert client.post("/api/accounts/", {"name": "X"}, format="json").status_code == 403


@pytest.mark.parametrize("url", ["/login/", "/", "/deals/", "/api/docs/"])
def test_every_page_carries_a_policy_that_forbids_inline_script(agent_client, url):
    response = agent_client.get(url)
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    script_src = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert script_src.split() == ["script-src", "'self'"]
    assert "frame-ancestors 'none'" in policy


@pytest.mark.parametrize(
    "url", ["/login/", "/", "/deals/nudges/", "/deals/", "/inbox/", "/accounts/", "/settings/", "/settings/nudges/"]
)
def test_console_pages_hold_no_inline_script(agent_client, url):
    import re

    html = agent_client.get(url, follow=True).content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
    assert not re.search(r"\son[a-z]+=", html), url
