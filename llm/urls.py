from django.urls import path

from llm import views

app_name = "llm"
urlpatterns = [
    path("", views.usage, name="usage"),
]
