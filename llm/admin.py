from django.contrib import admin

from llm import usage
from llm.models import CachedReply, LLMBatch, LLMBatchItem, LLMCall


class ReadOnlyAdmin(admin.ModelAdmin):
    """Ledger and cache rows are written by the gateway only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(LLMCall)
class LLMCallAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "feature",
        "provider",
        "model",
        "outcome",
        "cache_hit",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cost_usd",
        "latency_ms",
        "error_kind",
    ]
    list_filter = ["feature", "provider", "outcome", "cache_hit", "batched", "error_kind", "created_at"]
    search_fields = ["feature", "model", "fallback_reason", "object_id"]
    date_hierarchy = "created_at"
    list_select_related = ["content_type"]

    def get_queryset(self, request):
        # Staff managers reach the admin too: the same scoping as the usage page and API.
        return super().get_queryset(request).visible_to(request.user)

    def changelist_view(self, request, extra_context=None):
        """The same per-day, per-feature summary as Settings -> AI usage, over the filtered rows."""
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and "cl" in context:
            rows = context["cl"].queryset
            first, last = rows.order_by("created_at").first(), rows.order_by("created_at").last()
            if first and last:
                context["usage_summary"] = usage.summarize(
                    since=first.created_at.date(), until=last.created_at.date(), queryset=rows.order_by()
                )
        return response


@admin.register(CachedReply)
class CachedReplyAdmin(ReadOnlyAdmin):
    list_display = ["key", "feature", "provider", "model", "created_at", "expires_at"]
    list_filter = ["feature", "provider"]
    search_fields = ["key", "feature"]


class LLMBatchItemInline(admin.TabularInline):
    model = LLMBatchItem
    fields = ["item_key", "status", "cache_key", "trimmed_chars", "flags"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(LLMBatch)
class LLMBatchAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "feature", "model", "provider_batch_id", "status", "collected_at", "error"]
    list_filter = ["status", "feature"]
    inlines = [LLMBatchItemInline]


# Evaluation runs (llm/evaluation/admin.py registers them).
from llm.evaluation import admin as evaluation_admin  # noqa: E402, F401
