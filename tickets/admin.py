from django.contrib import admin
from django.db.models import Q

from crm.models import is_admin
from tickets import matches, services
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
    """Versions are immutable: add one in Settings > Inbox scoring (which rescores the tickets it
    governs). Here the global default is an admin's alone, and a team's sets only its managers'."""

    list_display = ["version", "team", *WeightSet.FIELDS, "created_by", "created_at"]
    list_filter = ["team"]
    fields = ["team", *WeightSet.FIELDS, "note"]

    def get_queryset(self, request):
        scope = Q(team__in=services.teams_managed_by(request.user))
        if is_admin(request.user):
            scope |= Q(team__isnull=True)
        return super().get_queryset(request).filter(scope)

    def has_change_permission(self, request, obj=None):
        return False

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "team":
            kwargs["queryset"] = services.teams_managed_by(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        # Through the service: the next version of the scope, the authority check (an empty team,
        # the global default, is an admin's alone), the audit record and the rescore.
        ws = services.create_weight_set(
            actor=request.user,
            team=obj.team,
            values={f: getattr(obj, f) for f in WeightSet.FIELDS},
            note=obj.note,
        )
        obj.pk, obj.version = ws.pk, ws.version

    def has_delete_permission(self, request, obj=None):
        return False  # versions are the history; "reset to the global default" adds one that follows it


admin.site.register(TopicAlert)
admin.site.register(TicketEvent)
admin.site.register(EscalationNotice)
admin.site.register(InboundMessage)
