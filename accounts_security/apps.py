from django.apps import AppConfig


class AccountsSecurityConfig(AppConfig):
    """Doors: sign-in throttling with lockouts, expiring API tokens, the Content-Security-Policy.

    It sits beside `crm` at the bottom of the layers and imports no feature app."""

    name = "accounts_security"
    verbose_name = "Sign-in security"
