from django.urls import path

from assistant import views

# Mounted at the site root (config/urls.py): spell full paths (/assistant/..., /settings/assistant/).
app_name = "assistant"
urlpatterns = [
    path("assistant/", views.index, name="index"),
    path("assistant/ask/", views.ask, name="ask"),
    path("assistant/c/<int:pk>/", views.conversation_view, name="conversation"),
    path("assistant/c/<int:pk>/ask/", views.ask, name="ask_in"),
    path("assistant/answers/<int:pk>/stream/", views.answer_stream, name="stream"),
    path("assistant/answers/<int:pk>/rate/", views.rate, name="rate"),
    path("assistant/cache/", views.cache_stats, name="cache_stats"),
    path("settings/assistant/", views.playbook_list, name="playbook_list"),
    path("assistant/playbook/<int:pk>/", views.playbook_detail, name="playbook_detail"),
]
