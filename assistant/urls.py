from django.urls import path

from assistant import views

app_name = "assistant"
urlpatterns = [
    path("", views.index, name="index"),
    path("ask/", views.ask, name="ask"),
    path("c/<int:pk>/", views.conversation_view, name="conversation"),
    path("c/<int:pk>/ask/", views.ask, name="ask_in"),
    path("answers/<int:pk>/stream/", views.answer_stream, name="stream"),
    path("answers/<int:pk>/rate/", views.rate, name="rate"),
    path("cache/", views.cache_stats, name="cache_stats"),
    path("playbook/", views.playbook_list, name="playbook_list"),
    path("playbook/<int:pk>/", views.playbook_detail, name="playbook_detail"),
]
