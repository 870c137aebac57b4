from django.contrib import admin

from nudges.models import Nudge, NudgeSettings


@admin.register(Nudge)
class NudgeAdmin(admin.ModelAdmin):
    list_display = ["deal", "status", "urgency", "idle_days", "warning_codes", "offline", "created_at"]
    list_filter = ["status", "offline", "team"]
    search_fields = ["deal__name", "text"]
    raw_id_fields = ["deal", "acted_by"]


@admin.register(NudgeSettings)
class NudgeSettingsAdmin(admin.ModelAdmin):
    list_display = ["team", "min_idle_days", "min_urgency", "ghost_factor", "updated_at"]
