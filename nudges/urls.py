from django.urls import path

from nudges import plan_run_views, plan_views, views

# Mounted at the site root (config/urls.py): the nudge board lives under Deals, its settings under
# Settings, and the seed's `GET /nudges` stream keeps its path.
app_name = "nudges"
urlpatterns = [
    path("deals/nudges/", views.index, name="index"),
    path("deals/nudges/<int:pk>/act/", views.act, name="act"),
    path("deals/nudges/scan/", views.scan, name="scan"),
    path("deals/nudges/stream/", views.stream_view, name="stream"),
    path("deals/nudges/import/", views.import_files, name="import"),
    path("settings/nudges/", views.settings_view, name="settings"),
    path("nudges", views.stream_view, name="stream_root"),  # the seed's path, no trailing slash
    path("deals/<int:deal_pk>/plan/", plan_views.plan_create, name="plan_create"),
    path("deals/<int:deal_pk>/plan/panel/", plan_views.plan_panel, name="plan_panel"),
    # Before plans/<public_id>/, which would take "runs" for a recommendation id.
    path("deals/plans/runs/", plan_run_views.run_list, name="plan_runs"),
    path("deals/plans/runs/start/", plan_run_views.run_start, name="plan_run_start"),
    path("deals/plans/runs/<int:pk>/", plan_run_views.run_detail, name="plan_run_detail"),
    path("deals/plans/<str:public_id>/", plan_views.plan_detail, name="plan_detail"),
    path("deals/plans/<str:public_id>/feedback/", plan_views.plan_feedback, name="plan_feedback"),
    path("deals/plans/items/<int:pk>/expand/", plan_views.item_expand, name="plan_item_expand"),
    path("deals/plans/items/<int:pk>/use/", plan_views.item_use, name="plan_item_use"),
]
