"""Sign-in throttling: too many failed sign-ins for one username, or from one address, lock
further attempts for a while, whatever the password.

Both doors (the console login form and POST /api/token/) go through Django's `authenticate`,
so the check lives in the authentication backend (`backends.ThrottledModelBackend`); the doors
ask `lockout_for` first only to answer with a clear message (and a 429 for the API).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts_security.models import LoginLockout

Scope = LoginLockout.Scope


@dataclass(frozen=True)
class Lockout:
    scope: str
    until: datetime

    def retry_after_seconds(self, now: datetime) -> int:
        return max(1, int((self.until - now).total_seconds()) + 1)

    @property
    def message(self) -> str:
        whom = "this username" if self.scope == Scope.USERNAME else "your network address"
        minutes = max(1, round(settings.LOGIN_LOCKOUT_MINUTES))
        return (
            f"Too many failed sign-ins for {whom}. Sign-in is locked for up to {minutes} minutes; "
            "an administrator can unlock it sooner."
        )


def client_address(request) -> str:
    # REMOTE_ADDR only: behind a proxy, uvicorn's --proxy-headers (trusted hosts) rewrites it;
    # reading X-Forwarded-For here would let a guesser pick a fresh address per attempt.
    return (request.META.get("REMOTE_ADDR") or "unknown")[:150] if request is not None else "unknown"


def _keys(username: str | None, address: str) -> list[tuple[str, str, int]]:
    keys = [(Scope.ADDRESS, address, settings.LOGIN_MAX_FAILURES_PER_ADDRESS)]
    if username:
        # Usernames compare case-sensitively in Django, but a guesser varying case is the same attack.
        keys.insert(0, (Scope.USERNAME, username.replace("\x00", "").lower()[:150], settings.LOGIN_MAX_FAILURES))
    return keys


def lockout_for(username: str | None, address: str, *, now: datetime | None = None) -> Lockout | None:
    """The lock in force for this username or address, if any (the username's first)."""
    now = now or timezone.now()
    for scope, value, _limit in _keys(username, address):
        row = LoginLockout.objects.filter(scope=scope, value=value, locked_until__gt=now).first()
        if row is not None:
            return Lockout(scope=scope, until=row.locked_until)
    return None


def record_failure(username: str | None, address: str, *, now: datetime | None = None) -> None:
    """Count one failed sign-in for the username and the address; lock whichever reached its limit.

    Failures older than the window start a fresh count, so a user who mistypes now and then is
    never locked out."""
    now = now or timezone.now()
    window_start = now - timedelta(minutes=settings.LOGIN_FAILURE_WINDOW_MINUTES)
    lock_until = now + timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
    for scope, value, limit in _keys(username, address):
        with transaction.atomic():
            # Row lock: parallel guesses are counted one by one, none lost.
            row, _ = LoginLockout.objects.select_for_update().get_or_create(
                scope=scope, value=value, defaults={"first_failure_at": now, "last_failure_at": now}
            )
            if row.first_failure_at < window_start and not row.is_locked(now):
                row.failures, row.first_failure_at = 0, now
            row.failures += 1
            row.last_failure_at = now
            if row.failures >= limit and not row.is_locked(now):
                row.locked_until = lock_until
            row.save()


def record_success(username: str, address: str) -> None:
    """A right password (while not locked) forgets the username's earlier failures; the address
    keeps its count, so one good account does not launder guesses at others."""
    now = timezone.now()
    LoginLockout.objects.filter(scope=Scope.USERNAME, value=username.lower()[:150]).filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=now)
    ).delete()


def unlock(*, username: str | None = None, address: str | None = None) -> int:
    """Admin unlock: forget the failures of a username and/or an address. Returns rows removed."""
    removed = 0
    if username:
        removed += LoginLockout.objects.filter(scope=Scope.USERNAME, value=username.lower()[:150]).delete()[0]
    if address:
        removed += LoginLockout.objects.filter(scope=Scope.ADDRESS, value=address[:150]).delete()[0]
    return removed
