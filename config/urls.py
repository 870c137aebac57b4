from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts_security.views import ThrottledLoginView
from crm import views as crm_views
from notifications import views as notification_views

urlpatterns = [
    path("", crm_views.home, name="home"),
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", crm_views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include("config.api_urls")),
    path("crm/", include("crm.urls")),
    path("deals/", include("nudges.urls")),
    path("nudges", include("nudges.root_urls")),  # the seed's GET /nudges SSE stream
    path("inbox/", include("tickets.urls")),
    path("deliveries/", include("outbound.urls")),
    path("notifications/", include("notifications.urls")),
    path("assistant/", include("assistant.urls")),
    path("settings/", crm_views.settings_index, name="settings"),
    path("settings/ai/", include("llm.urls")),
    path("settings/plans/", include("nudges.plan_settings_urls")),
    path("settings/notifications/", notification_views.settings_view, name="notifications-settings"),
]
