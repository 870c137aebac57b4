"""The seed-compatible `GET /nudges` SSE stream at the site root (config/urls.py includes this)."""

from django.urls import path

from nudges import views

urlpatterns = [path("", views.stream_view, name="nudges-stream-root")]
