from django.urls import path

from notifications import views

# Mounted at the site root (config/urls.py): spell full paths (/notifications/..., /settings/notifications/).
app_name = "notifications"
urlpatterns = [
    path("notifications/", views.index, name="index"),
]
