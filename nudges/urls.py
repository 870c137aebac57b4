from django.urls import path

from nudges import views

# Mounted at the site root (config/urls.py): the nudge board lives under Deals, its settings under
# Settings, and the seed's `GET /nudges` stream keeps its path.
app_name = "nudges"
urlpatterns = [
    path("deals/nudges/", views.index, name="index"),
    path("deals/nudges/<int:pk>/act/", views.act, name="act"),
    path("deals/nudges/scan/", views.scan, name="scan"),
    path("deals/nudges/stream/", views.stream_view, name="stream"),
    path("deals/nudges/import/", views.import_files, name="import"),
    path("settings/nudges/", views.settings_view, name="settings"),
    path("nudges", views.stream_view, name="stream_root"),  # the seed's path, no trailing slash
]
