from django.urls import path

from tickets import views

# Mounted at the site root (config/urls.py): the inbox under /inbox/, its scoring weights under Settings.
app_name = "tickets"
urlpatterns = [
    path("inbox/", views.inbox_view, name="inbox"),
    path("inbox/new/", views.ticket_new, name="new"),
    path("inbox/alerts/", views.alert_set, name="alert_set"),
    path("inbox/alerts/clear/", views.alert_clear, name="alert_clear"),
    path("inbox/notices/", views.notices, name="notices"),
    path("inbox/deliveries/<int:pk>/retry/", views.retry_delivery, name="retry_delivery"),
    path("inbox/<int:pk>/", views.ticket_detail, name="detail"),
    path("inbox/<int:pk>/draft/", views.draft_panel, name="draft"),
    path("inbox/<int:pk>/reply/", views.reply, name="reply"),
    path("inbox/<int:pk>/triage/", views.triage_edit, name="triage"),
    path("inbox/<int:pk>/follow-up/", views.follow_up, name="follow_up"),
    path("inbox/<int:pk>/escalate/", views.escalate, name="escalate"),
    path("inbox/<int:pk>/update/", views.update, name="update"),
    path("settings/scoring/", views.weights, name="weights"),
]
