from django.db import models
from django.utils import timezone
from rest_framework.authtoken.models import Token


class LoginLockout(models.Model):
    """Failed sign-ins counted per username and per client address (one row each).

    Kept in the database rather than a per-process cache so every web process shares one count
    (the default cache is local memory when REDIS_URL is unset). Deleting a row unlocks it.
    """

    class Scope(models.TextChoices):
        USERNAME = "username", "username"
        ADDRESS = "address", "address"

    scope = models.CharField(max_length=10, choices=Scope.choices)
    value = models.CharField(max_length=150)
    failures = models.PositiveIntegerField(default=0)
    first_failure_at = models.DateTimeField()
    last_failure_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "value"], name="login_lockout_scope_value")]
        ordering = ["-last_failure_at"]

    def __str__(self) -> str:
        return f"{self.scope} {self.value}"

    def is_locked(self, now=None) -> bool:
        return self.locked_until is not None and self.locked_until > (now or timezone.now())


class TokenExpiry(models.Model):
    """When an API token stops working. A token without a row expires API_TOKEN_LIFETIME_DAYS
    after it was created, so tokens made elsewhere (tests, fixtures) still expire."""

    token = models.OneToOneField(Token, primary_key=True, on_delete=models.CASCADE, related_name="expiry")
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.token_id[:6]}… until {self.expires_at:%Y-%m-%d %H:%M}"
