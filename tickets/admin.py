from django.contrib import admin

from tickets import matches
from tickets.models import (
    Draft,
    EscalationNotice,
    InboundMessage,
    Message,
    Ticket,
    TicketEvent,
    TopicAlert,
    WeightSet,
)


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["direction", "author", "body", "created_at", "flagged_injection"]
    readonly_fields = fields


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ["id", "subject", "team", "account", "channel", "status", "priority", "score", "sla_breached"]
    list_filter = ["team", "status", "channel", "priority", "sla_breached", "needs_review"]
    search_fields = ["subject", "account__name", "contact__email"]
    raw_id_fields = ["account", "contact", "assignee", "escalated_by"]
    readonly_fields = [*Ticket.SCORE_FIELDS, "waiting_since_ts"]
    inlines = [MessageInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change:
            matches.copy_columns(obj)  # an admin edit of status or assignee reaches the alert matches


@admin.register(Draft)
class DraftAdmin(admin.ModelAdmin):
    list_display = ["id", "ticket", "channel", "status", "offline", "edit_distance", "created_at"]
    list_filter = ["status", "channel", "offline"]
    raw_id_fields = ["ticket", "previous", "sent_message", "requested_by"]


@admin.register(WeightSet)
class WeightSetAdmin(admin.ModelAdmin):
    list_display = ["version", *WeightSet.FIELDS, "created_by", "created_at"]

    def has_change_permission(self, request, obj=None):
        return False  # versions are immutable: add a new one in Settings > Inbox scoring


admin.site.register(TopicAlert)
admin.site.register(TicketEvent)
admin.site.register(EscalationNotice)
admin.site.register(InboundMessage)
