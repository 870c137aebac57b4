from django.contrib import admin

from outbound.models import Delivery


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["key", "team", "channel", "recipient", "status", "attempts", "source", "created_at", "sent_at"]
    list_filter = ["status", "channel", "source", "team"]
    search_fields = ["key", "recipient"]
    raw_id_fields = ["contact", "created_by", "resolved_by"]
    # The ledger is written by the send path only: an edit here could send twice or hide a send.
    readonly_fields = [f.name for f in Delivery._meta.fields]

    def has_add_permission(self, request):
        return False
