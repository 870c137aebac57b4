"""The whole DRF surface. Each app's api.py exposes `register(router)` and extra `urlpatterns`."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from accounts_security.views import ObtainTokenView
from assistant import api as assistant_api
from crm import api as crm_api
from llm import api as llm_api
from notifications import api as notifications_api
from nudges import api as nudges_api
from outbound import api as outbound_api
from tickets import api as tickets_api

APPS = [crm_api, llm_api, outbound_api, tickets_api, nudges_api, notifications_api, assistant_api]

router = DefaultRouter(trailing_slash="/?")
for app_api in APPS:
    app_api.register(router)

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("token/", ObtainTokenView.as_view(), name="api-token"),
    *[p for app_api in APPS for p in app_api.urlpatterns],
    path("", include(router.urls)),
]
