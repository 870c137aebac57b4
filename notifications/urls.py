from django.urls import path

from notifications import views

# Mounted at the site root (config/urls.py): spell full paths (/notifications/..., /settings/notifications/).
app_name = "notifications"
urlpatterns = [
    path("notifications/", views.index, name="index"),
    path("notifications/analyse/", views.analyse, name="analyse"),
    path("notifications/runs/<int:pk>/", views.run_panel, name="run"),
    path("notifications/approve/", views.approve, name="approve"),
    path("notifications/export.csv", views.export, name="export"),
    path("notifications/<int:pk>/", views.detail, name="detail"),
    path("notifications/<int:pk>/save/", views.save, name="save"),
    path("notifications/<int:pk>/send/", views.send, name="send"),
    path("notifications/records/<str:kind>/<path:ref>/", views.record, name="record"),
    path("notifications/import/", views.import_files, name="import"),
    path("notifications/import/<int:pk>/", views.import_detail, name="import_detail"),
    path("notifications/import/<int:pk>/rejected.csv", views.import_rejected, name="import_rejected"),
    path("notifications/import/<int:pk>/undo/", views.import_undo, name="import_undo"),
]
