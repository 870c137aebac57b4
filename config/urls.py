"""The URL tree. Console URLs are named by product noun: /accounts/, /deals/ (with the nudge board at
/deals/nudges/), /inbox/, /notifications/, /assistant/, and every settings page under /settings/.
Each console app is mounted at the root and spells its full paths in its own urls.py, because most
apps own pages in two places (their section and their page under /settings/); the URL names
(`crm:deal_detail`, `nudges:index`, `tickets:weights`, ...) are the stable interface."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from accounts_security.views import ThrottledLoginView
from crm import views as crm_views
from notifications import views as notification_views


def moved(pattern_name):
    """An old console URL: 301 to its new home, keeping the query string."""
    return RedirectView.as_view(pattern_name=pattern_name, permanent=True, query_string=True)


# Console URLs before they were named by product noun (issue 9). Pages and GET fragments only: the
# POST endpoints were only ever reached from rendered pages, which reverse their new paths. The
# old nudge board at /deals/ cannot redirect: /deals/ is now the deal list, which links the board.
old_console_urls = [
    path("crm/accounts/", moved("crm:account_list")),
    path("crm/accounts/<int:pk>/", moved("crm:account_detail")),
    path("crm/accounts/<int:pk>/timeline/", moved("crm:account_timeline")),
    path("crm/deals/", moved("crm:deal_list")),
    path("crm/deals/<int:pk>/", moved("crm:deal_detail")),
    path("deals/stream/", moved("nudges:stream")),
    path("deals/import/", moved("nudges:import")),
    path("deals/settings/", moved("nudges:settings")),
    path("inbox/weights/", moved("tickets:weights")),
    path("imports/", moved("crm:import_run_list")),
    path("imports/<int:pk>/", moved("crm:import_run_detail")),
]

urlpatterns = [
    path("", crm_views.home, name="home"),
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", crm_views.healthz, name="healthz"),
    path("favicon.ico", crm_views.favicon),
    path("admin/", admin.site.urls),
    path("api/", include("config.api_urls")),
    path("settings/", crm_views.settings_index, name="settings"),
    path("", include("crm.urls")),
    path("", include("nudges.urls")),
    path("", include("nudges.plan_settings_urls")),
    path("", include("tickets.urls")),
    path("", include("outbound.urls")),
    path("", include("notifications.urls")),
    path("settings/notifications/", notification_views.settings_view, name="notifications-settings"),
    path("", include("assistant.urls")),
    path("", include("llm.urls")),
    *old_console_urls,
]

# The API answers an unmatched path with JSON, not the HTML page (crm/drf.py).
handler404 = "crm.drf.api_aware_not_found"
