from django.urls import path

from assistant import views

# Mounted at the site root (config/urls.py): spell full paths (/assistant/..., /settings/assistant/).
app_name = "assistant"
urlpatterns = [
    path("assistant/", views.index, name="index"),
]
