from django.urls import path

from llm import views
from llm.evaluation import views as evaluation_views

# Mounted at the site root (config/urls.py): every llm page is a Settings → AI page.
app_name = "llm"
urlpatterns = [
    path("settings/ai/", views.usage, name="usage"),
    path("settings/ai/quality/", evaluation_views.quality, name="quality"),
]
