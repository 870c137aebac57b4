from django.urls import path

from tickets import views

app_name = "tickets"
urlpatterns = [
    path("", views.inbox_view, name="inbox"),
    path("new/", views.ticket_new, name="new"),
    path("alerts/", views.alert_set, name="alert_set"),
    path("alerts/clear/", views.alert_clear, name="alert_clear"),
    path("weights/", views.weights, name="weights"),
    path("notices/", views.notices, name="notices"),
    path("deliveries/<int:pk>/retry/", views.retry_delivery, name="retry_delivery"),
    path("<int:pk>/", views.ticket_detail, name="detail"),
    path("<int:pk>/draft/", views.draft_panel, name="draft"),
    path("<int:pk>/reply/", views.reply, name="reply"),
    path("<int:pk>/triage/", views.triage_edit, name="triage"),
    path("<int:pk>/follow-up/", views.follow_up, name="follow_up"),
    path("<int:pk>/escalate/", views.escalate, name="escalate"),
    path("<int:pk>/update/", views.update, name="update"),
]
