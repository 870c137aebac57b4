from django.contrib import admin, messages
from django.utils import timezone
from rest_framework.authtoken.admin import TokenAdmin as DrfTokenAdmin
from rest_framework.authtoken.models import TokenProxy

from accounts_security import tokens
from accounts_security.models import LoginLockout


@admin.register(LoginLockout)
class LoginLockoutAdmin(admin.ModelAdmin):
    """Failed sign-ins per username and address. "Unlock" forgets them at once."""

    list_display = ["scope", "value", "failures", "last_failure_at", "locked_until", "locked"]
    list_filter = ["scope"]
    search_fields = ["value"]
    readonly_fields = ["scope", "value", "failures", "first_failure_at", "last_failure_at", "locked_until"]
    actions = ["unlock"]

    @admin.display(boolean=True)
    def locked(self, obj):
        return obj.is_locked()

    @admin.action(description="Unlock: forget the failed sign-ins")
    def unlock(self, request, queryset):
        count = queryset.delete()[0]
        self.message_user(request, f"Unlocked {count} username(s)/address(es).", messages.SUCCESS)

    def has_add_permission(self, request):
        return False


admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class ExpiringTokenAdmin(DrfTokenAdmin):
    """DRF's token admin with each token's expiry; "Revoke" deletes tokens (401 from then on)."""

    list_display = ["key", "user", "created", "expires", "expired"]
    actions = ["revoke"]

    @admin.display(description="expires at")
    def expires(self, obj):
        return tokens.expires_at(obj)

    @admin.display(boolean=True)
    def expired(self, obj):
        return tokens.expires_at(obj) <= timezone.now()

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        count = tokens.revoke(queryset)
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)
