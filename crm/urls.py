from django.urls import path

from crm import import_views, views

# Mounted at the site root (config/urls.py): each app spells its full console paths, by product noun.
app_name = "crm"
urlpatterns = [
    path("accounts/", views.account_list, name="account_list"),
    path("accounts/<int:pk>/", views.account_detail, name="account_detail"),
    path("accounts/<int:pk>/timeline/", views.account_timeline, name="account_timeline"),
    path("accounts/<int:pk>/activities/", views.account_log_activity, name="account_log_activity"),
    path("deals/", views.deal_list, name="deal_list"),
    path("deals/<int:pk>/", views.deal_detail, name="deal_detail"),
    path("deals/<int:pk>/stage/", views.deal_change_stage, name="deal_change_stage"),
    path("settings/imports/", import_views.import_run_list, name="import_run_list"),
    path("settings/imports/<int:pk>/", import_views.import_run_detail, name="import_run_detail"),
    path("settings/imports/<int:pk>/rejected.csv", import_views.import_run_rejected, name="import_run_rejected"),
    path("settings/imports/<int:pk>/undo/", import_views.import_run_undo, name="import_run_undo"),
]
