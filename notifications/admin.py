from django.contrib import admin

from notifications.models import (
    AnalysisRun,
    CustomerRecord,
    Notification,
    NotificationSettings,
    PastNotification,
    RecommendedAction,
)


@admin.register(CustomerRecord)
class CustomerRecordAdmin(admin.ModelAdmin):
    list_display = ["customer_id", "team", "segment", "risk_score", "priority", "tariff", "account_status", "outcome"]
    list_filter = ["team", "segment", "priority", "payment_status"]
    search_fields = ["customer_id", "account__name"]
    raw_id_fields = ["account", "import_run"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["pk", "record", "team", "status", "priority", "risk_score", "channel", "subject", "sent_at"]
    list_filter = ["team", "status", "priority", "channel"]
    search_fields = ["record__customer_id", "subject"]
    raw_id_fields = ["account", "record", "run", "edited_by", "approved_by"]


@admin.register(PastNotification)
class PastNotificationAdmin(admin.ModelAdmin):
    list_display = ["external_id", "account", "sent_on", "subject", "opened", "clicked", "responded", "delivery_id"]
    list_filter = ["team", "opened", "responded"]
    raw_id_fields = ["account", "import_run"]


@admin.register(RecommendedAction)
class RecommendedActionAdmin(admin.ModelAdmin):
    list_display = ["external_id", "account", "action", "offer", "priority", "valid_until"]
    list_filter = ["team", "priority"]
    raw_id_fields = ["account", "import_run"]


admin.site.register(NotificationSettings)
admin.site.register(AnalysisRun, list_display=["pk", "team", "segment", "status", "done", "total", "created_at"])
