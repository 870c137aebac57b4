from django.urls import path

from notifications import views

app_name = "notifications"
urlpatterns = [
    path("", views.index, name="index"),
    path("analyse/", views.analyse, name="analyse"),
    path("runs/<int:pk>/", views.run_panel, name="run"),
    path("approve/", views.approve, name="approve"),
    path("export.csv", views.export, name="export"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/save/", views.save, name="save"),
    path("<int:pk>/send/", views.send, name="send"),
    path("records/<str:kind>/<path:ref>/", views.record, name="record"),
    path("import/", views.import_files, name="import"),
    path("import/<int:pk>/", views.import_detail, name="import_detail"),
    path("import/<int:pk>/rejected.csv", views.import_rejected, name="import_rejected"),
    path("import/<int:pk>/undo/", views.import_undo, name="import_undo"),
]
