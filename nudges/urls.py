from django.urls import path

from nudges import views

app_name = "nudges"
urlpatterns = [
    path("", views.index, name="index"),
    path("nudges/<int:pk>/act/", views.act, name="act"),
    path("scan/", views.scan, name="scan"),
    path("stream/", views.stream_view, name="stream"),
    path("import/", views.import_files, name="import"),
    path("settings/", views.settings_view, name="settings"),
]
