from django.urls import path

from nudges import plan_views, views

app_name = "nudges"
urlpatterns = [
    path("", views.index, name="index"),
    path("nudges/<int:pk>/act/", views.act, name="act"),
    path("scan/", views.scan, name="scan"),
    path("stream/", views.stream_view, name="stream"),
    path("import/", views.import_files, name="import"),
    path("settings/", views.settings_view, name="settings"),
    path("<int:deal_pk>/plan/", plan_views.plan_create, name="plan_create"),
    path("<int:deal_pk>/plan/panel/", plan_views.plan_panel, name="plan_panel"),
    path("plans/<str:public_id>/", plan_views.plan_detail, name="plan_detail"),
    path("plans/<str:public_id>/feedback/", plan_views.plan_feedback, name="plan_feedback"),
    path("plans/items/<int:pk>/expand/", plan_views.item_expand, name="plan_item_expand"),
    path("plans/items/<int:pk>/use/", plan_views.item_use, name="plan_item_use"),
]
