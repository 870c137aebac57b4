"""Settings → Action plans (/settings/plans/)."""

from django.urls import path

from nudges import plan_settings_views as views

app_name = "plans"
urlpatterns = [
    path("", views.index, name="index"),
    path("context/", views.context_save, name="context_save"),
    path("context/import/", views.context_import, name="context_import"),
    path("context/export/", views.context_export, name="context_export"),
    path("context/rollback/<int:ordinal>/", views.context_rollback, name="context_rollback"),
    path("learnings/<int:pk>/preview/", views.learning_preview, name="learning_preview"),
    path("learnings/<int:pk>/decide/", views.learning_decide, name="learning_decide"),
    path("templates/new/", views.template_edit, name="template_new"),
    path("templates/<int:pk>/", views.template_edit, name="template_edit"),
    path("cache/clear/", views.cache_clear, name="cache_clear"),
]
