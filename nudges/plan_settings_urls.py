"""Settings → Action plans (/settings/plans/), mounted at the site root like every console urls.py."""

from django.urls import path

from nudges import plan_settings_views as views

app_name = "plans"
urlpatterns = [
    path("settings/plans/", views.index, name="index"),
    path("settings/plans/context/", views.context_save, name="context_save"),
    path("settings/plans/context/import/", views.context_import, name="context_import"),
    path("settings/plans/context/export/", views.context_export, name="context_export"),
    path("settings/plans/context/rollback/<int:ordinal>/", views.context_rollback, name="context_rollback"),
    path("settings/plans/learnings/<int:pk>/preview/", views.learning_preview, name="learning_preview"),
    path("settings/plans/learnings/<int:pk>/decide/", views.learning_decide, name="learning_decide"),
    path("settings/plans/templates/new/", views.template_edit, name="template_new"),
    path("settings/plans/templates/<int:pk>/", views.template_edit, name="template_edit"),
    path("settings/plans/cache/clear/", views.cache_clear, name="cache_clear"),
]
