"""Expiring API tokens: DRF's Token plus an expiry row (`TokenExpiry`).

A token is accepted until its `expires_at`; after that the API answers 401 "Token has expired"
and the holder asks POST /api/token/ for a new one. Revoking is deleting the token (admin,
`manage.py api_tokens revoke`)."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from accounts_security.models import TokenExpiry


def default_lifetime() -> timedelta:
    return timedelta(days=settings.API_TOKEN_LIFETIME_DAYS)


def expires_at(token: Token) -> datetime:
    try:
        return token.expiry.expires_at
    except TokenExpiry.DoesNotExist:
        return token.created + default_lifetime()


def is_expired(token: Token, now: datetime | None = None) -> bool:
    return expires_at(token) <= (now or timezone.now())


@transaction.atomic
def issue_token(user, *, lifetime: timedelta | None = None, now: datetime | None = None) -> tuple[Token, datetime]:
    """The user's current token, or a fresh one when there is none or it has expired.

    DRF keeps one token per user, so a live token is handed out again (with its own expiry)
    rather than cutting off the scripts already using it."""
    now = now or timezone.now()
    token = Token.objects.select_for_update().filter(user=user).first()
    if token is not None and is_expired(token, now):
        token.delete()
        token = None
    if token is None:
        token = Token.objects.create(user=user)
        TokenExpiry.objects.create(token=token, expires_at=now + (lifetime or default_lifetime()))
    return token, expires_at(token)


def revoke(tokens) -> int:
    """Delete tokens (a queryset); their holders get 401 from the next call on."""
    return tokens.delete()[1].get(Token._meta.label, 0)


class ExpiringTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`; an expired token is a 401 that says so.

    Listed first in DEFAULT_AUTHENTICATION_CLASSES: DRF takes the WWW-Authenticate header of the
    first class, so anonymous calls get 401 + `WWW-Authenticate: Token` instead of 403."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if is_expired(token):
            raise exceptions.AuthenticationFailed("Token has expired; request a new one at /api/token/.")
        return user, token


async def auser_for_token(key: str):
    """The active user a token key belongs to, or None (unknown, expired, inactive): for async
    views that cannot use DRF's authentication classes (the nudge stream)."""
    token = await Token.objects.select_related("user", "expiry").filter(key=key).afirst()
    if token is None or not token.user.is_active or is_expired(token):
        return None
    return token.user
