from django.urls import path

from llm import views
from llm.evaluation import views as evaluation_views

app_name = "llm"
urlpatterns = [
    path("", views.usage, name="usage"),
    path("quality/", evaluation_views.quality, name="quality"),
]
