from django.contrib import admin
from django.db import transaction

from crm import audit, services
from crm.models import Account, Activity, AuditEvent, Contact, Deal, ImportRun, Membership, Order, Stage, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "joined_at"]
    list_filter = ["team"]
    search_fields = ["user__username", "team__name"]
    autocomplete_fields = ["user", "team"]


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0
    fields = ["name", "email", "phone", "preferred_channel", "opted_out"]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "kind", "industry", "segment", "lifetime_value", "churn_risk", "is_vip"]
    list_filter = ["team", "kind", "is_vip", "segment"]
    search_fields = ["name", "external_id", "industry"]
    autocomplete_fields = ["team", "account_manager"]
    inlines = [ContactInline]

    @transaction.atomic
    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            audit.record(actor=request.user, action=AuditEvent.Action.CREATE, obj=obj, before={}, via="admin")
            return
        # As an API edit does: through the one account service, audited, hooks run (tickets rescores).
        fields = {f.name for f in Account._meta.concrete_fields}
        changes = {name: getattr(obj, name) for name in form.changed_data if name in fields}
        stored = Account.objects.get(pk=obj.pk)
        services.update_account(actor=request.user, account=stored, changes=changes, via="admin")


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["name", "account", "email", "phone", "preferred_channel", "language", "opted_out"]
    list_filter = ["preferred_channel", "opted_out", "language"]
    search_fields = ["name", "email", "phone", "account__name"]
    autocomplete_fields = ["account"]


@admin.register(Stage)
class StageAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "order", "win_probability", "stale_after_days"]
    list_editable = ["order", "win_probability", "stale_after_days"]
    search_fields = ["name"]


@admin.register(Deal)
class DealAdmin(admin.ModelAdmin):
    list_display = ["name", "account", "team", "stage", "amount", "currency", "status", "owner", "last_activity_at"]
    list_filter = ["status", "stage", "team"]
    search_fields = ["name", "external_id", "account__name"]
    autocomplete_fields = ["team", "account", "owner", "stage"]
    raw_id_fields = ["primary_contact"]
    date_hierarchy = "last_activity_at"


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "kind", "direction", "account", "deal", "subject"]
    list_filter = ["kind", "direction"]
    search_fields = ["subject", "thread_id", "from_addr", "to_addr", "account__name"]
    raw_id_fields = ["account", "contact", "deal", "actor"]
    date_hierarchy = "occurred_at"
    list_select_related = ["account", "deal"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["number", "account", "amount", "currency", "status", "tracking_status", "placed_at"]
    list_filter = ["status"]
    search_fields = ["number", "account__name"]
    raw_id_fields = ["account"]
    list_select_related = ["account"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit trail is append-only."""

    list_display = ["at", "actor", "action", "content_type", "object_repr", "via", "team"]
    list_filter = ["action", "via", "content_type", "team"]
    search_fields = ["object_repr", "object_id"]
    date_hierarchy = "at"
    list_select_related = ["actor", "content_type", "team"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    """Read-only: a run is the record of what an import did."""

    list_display = [
        "started_at",
        "kind",
        "team",
        "actor",
        "status",
        "dry_run",
        "rows",
        "created",
        "updated",
        "rejected",
    ]
    list_filter = ["status", "kind", "dry_run", "strict", "team"]
    search_fields = ["kind", "label", "actor__username"]
    date_hierarchy = "started_at"
    list_select_related = ["team", "actor"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
