from django.contrib import admin
from django.core.exceptions import PermissionDenied

from crm.models import Team, is_admin
from nudges.models import Nudge, NudgeSettings


@admin.register(Nudge)
class NudgeAdmin(admin.ModelAdmin):
    list_display = ["deal", "status", "urgency", "idle_days", "warning_codes", "offline", "created_at"]
    list_filter = ["status", "offline", "team"]
    search_fields = ["deal__name", "text"]
    raw_id_fields = ["deal", "acted_by"]


@admin.register(NudgeSettings)
class NudgeSettingsAdmin(admin.ModelAdmin):
    """The row without a team is the global default: an admin's alone. A team's row: only someone
    who sees that team (its managers, admins)."""

    list_display = ["__str__", "min_idle_days", "min_urgency", "ghost_factor", "updated_at"]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if is_admin(request.user) else qs.visible_to(request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "team":
            kwargs["queryset"] = Team.objects.visible_to(request.user)
            kwargs["required"] = not is_admin(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.team_id is None and not is_admin(request.user):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.team_id is None and not is_admin(request.user):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if obj.team_id is None and not is_admin(request.user):
            raise PermissionDenied("Only admins change the global default warning settings.")
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


# --- action plans ---------------------------------------------------------------------------

from django.contrib import messages  # noqa: E402

from nudges import plans as plan_services  # noqa: E402
from nudges.models import ContextVersion, Learning, Plan, PlanFeedback, PlanItem, PlanRun, PromptTemplate  # noqa: E402


class PlanItemInline(admin.TabularInline):
    model = PlanItem
    extra = 0
    fields = ["priority", "channel", "action_type", "title", "contact_name", "timing", "use", "edit_distance"]
    readonly_fields = fields
    can_delete = False


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["public_id", "deal", "team", "status", "in_cache", "generated_at", "expires_at", "context_version"]
    list_filter = ["status", "in_cache", "team"]
    search_fields = ["public_id", "deal__name", "campaign_context"]
    raw_id_fields = ["deal", "created_by", "context_version", "template"]
    inlines = [PlanItemInline]

    def changelist_view(self, request, extra_context=None):
        """The seed's cache-info above the list."""
        s = plan_services.cache_stats()
        messages.info(
            request,
            f"Plan cache: {s['total']} cached ({s['fresh']} fresh, {s['expired']} expired); "
            f"{s['feedback_logged']} feedback logged; {s['context_updates']} context updates; TTL {s['ttl_minutes']} minutes.",
        )
        return super().changelist_view(request, extra_context)


@admin.register(ContextVersion)
class ContextVersionAdmin(admin.ModelAdmin):
    list_display = ["team", "version", "source", "note", "created_by", "created_at"]
    list_filter = ["team", "source"]
    raw_id_fields = ["feedback", "rolled_back_to", "created_by"]

    def has_change_permission(self, request, obj=None):
        return False  # versions are the audit log: change the context in Settings → Action plans


@admin.register(PromptTemplate)
class PromptTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "is_active", "updated_at"]
    list_filter = ["team", "is_active"]


@admin.register(PlanFeedback)
class PlanFeedbackAdmin(admin.ModelAdmin):
    list_display = ["plan", "kind", "type", "priority", "channel", "edit_distance", "created_by", "created_at"]
    list_filter = ["kind", "type", "channel", "team"]
    raw_id_fields = ["plan", "item", "created_by"]


@admin.register(Learning)
class LearningAdmin(admin.ModelAdmin):
    list_display = ["text", "section", "status", "team", "created_at", "decided_by"]
    list_filter = ["status", "team", "section"]
    raw_id_fields = ["feedback", "base_version", "result_version", "decided_by"]


@admin.register(PlanRun)
class PlanRunAdmin(admin.ModelAdmin):
    """Runs are written by the run itself; admin reads them (and may delete old ones)."""

    list_display = [
        "pk",
        "team",
        "status",
        "mode",
        "deals",
        "lanes",
        "done",
        "written",
        "cached",
        "started_by",
        "created_at",
    ]
    list_filter = ["status", "mode", "team"]
    exclude = ["deal_ids"]
    raw_id_fields = ["started_by"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
