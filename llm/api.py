"""REST endpoints for the AI usage ledger (users with `llm.view_usage`; anyone else gets 404), each
user's rows limited to the scopes they may see (a manager: their teams).

GET /api/llm/usage/?since=&until=&feature=  the per-day, per-feature summary (as the settings page)
GET /api/llm/calls/?feature=&outcome=...    the ledger itself, newest first, cursor-paginated
"""

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from llm import usage
from llm.models import VIEW_USAGE, LLMCall
from llm.serializers import LLMCallSerializer, UsageQuerySerializer, UsageSummarySerializer


class CanViewUsageOr404(permissions.BasePermission):
    """`llm.view_usage`, granted to roles by the app that defines them (crm: managers, admins)."""

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return False  # 401/403 from DRF's authentication, as everywhere in the API
        if not request.user.has_perm(VIEW_USAGE):
            raise NotFound()
        return True


class UsageView(APIView):
    permission_classes = [permissions.IsAuthenticated, CanViewUsageOr404]

    @extend_schema(parameters=[UsageQuerySerializer], responses=UsageSummarySerializer)
    def get(self, request):
        """Calls, cache hits, tokens, cost, failures, fallbacks and latency per day and feature."""
        query = UsageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        summary = usage.summarize(
            since=data["since"],
            until=data["until"],
            features=[data["feature"]] if data.get("feature") else None,
            queryset=LLMCall.objects.visible_to(request.user),
        )
        return Response(summary.as_dict())


class LLMCallViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The usage ledger: one row per gateway call (no prompt or reply text is stored)."""

    serializer_class = LLMCallSerializer
    permission_classes = [permissions.IsAuthenticated, CanViewUsageOr404]
    filterset_fields = {
        "feature": ["exact"],
        "provider": ["exact"],
        "outcome": ["exact"],
        "cache_hit": ["exact"],
        "error_kind": ["exact"],
        "created_at": ["gte", "lt"],
    }

    def get_queryset(self):
        return LLMCall.objects.visible_to(self.request.user).select_related("content_type")

    @extend_schema(parameters=[OpenApiParameter("limit", int, description="Page size (max 200).")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


urlpatterns = [path("llm/usage/", UsageView.as_view(), name="llm-usage")]


def register(router) -> None:
    router.register("llm/calls", LLMCallViewSet, basename="llm-call")
