"""Evaluation runs in the admin: read-only (written by `evaluate_ai` only), each with its cases.
Imported by llm/admin.py, which Django's admin autodiscovery loads."""

from django.contrib import admin

from llm.evaluation.models import EvalCaseResult, EvalRun


class EvalCaseResultInline(admin.TabularInline):
    model = EvalCaseResult
    fields = ["case_id", "passed", "scores", "reasons", "error", "output"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(EvalRun)
class EvalRunAdmin(admin.ModelAdmin):
    list_display = ["created_at", "feature", "mode", "provider", "model", "cases", "passed", "cost_usd", "duration_ms"]
    list_filter = ["feature", "mode", "passed", "provider"]
    search_fields = ["feature", "prompt_version", "dataset_hash"]
    readonly_fields = [f.name for f in EvalRun._meta.fields]
    inlines = [EvalCaseResultInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
