from django.urls import path

from outbound import views

# Mounted at the site root (config/urls.py): spell full paths.
app_name = "outbound"
urlpatterns = [
    path("deliveries/", views.delivery_list, name="list"),
    path("deliveries/<int:pk>/retry/", views.retry, name="retry"),
    path("deliveries/<int:pk>/confirm/", views.confirm, name="confirm"),
]
