from django.urls import path

from outbound import views

app_name = "outbound"
urlpatterns = [
    path("", views.delivery_list, name="list"),
    path("<int:pk>/retry/", views.retry, name="retry"),
    path("<int:pk>/confirm/", views.confirm, name="confirm"),
]
