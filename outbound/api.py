"""Read access to the send ledger, plus the two actions a person takes on a failed or uncertain row.

GET /api/deliveries/ and /api/deliveries/{id}/ (team-scoped; another team's row is a 404),
POST /api/deliveries/{id}/retry (failed or uncertain: send again),
POST /api/deliveries/{id}/confirm (uncertain: it did arrive, record it as sent).
"""

from __future__ import annotations

from django.urls import re_path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from outbound import services
from outbound.models import Delivery
from outbound.serializers import DeliverySerializer


class DeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = DeliverySerializer
    filterset_fields = {
        "status": ["exact"],
        "channel": ["exact"],
        "source": ["exact"],
        "source_id": ["exact"],
        "contact": ["exact"],
        "team": ["exact"],
    }

    def get_queryset(self):
        return Delivery.objects.visible_to(self.request.user)

    @extend_schema(
        request=None,
        responses={
            202: DeliverySerializer,
            404: OpenApiResponse(description="No such delivery in your teams"),
            409: OpenApiResponse(description="Neither failed nor uncertain"),
        },
        summary="Send a failed or uncertain delivery again",
        operation_id="deliveries_retry",
    )
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        delivery = self.get_object()
        if not services.retry_delivery(actor=request.user, delivery=delivery):
            return Response({"detail": "Only a failed or uncertain delivery can be sent again."}, status=409)
        delivery.refresh_from_db()
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses={
            200: DeliverySerializer,
            404: OpenApiResponse(description="No such delivery in your teams"),
            409: OpenApiResponse(description="Not uncertain"),
        },
        summary="Confirm that an uncertain delivery arrived (recorded as sent, not resent)",
        operation_id="deliveries_confirm",
    )
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        delivery = self.get_object()
        if not services.confirm_sent(actor=request.user, delivery=delivery):
            return Response({"detail": "Only an uncertain delivery can be confirmed."}, status=409)
        delivery.refresh_from_db()
        return Response(DeliverySerializer(delivery).data)


# Plain paths with an optional trailing slash, as the rest of the inbox API (the router's are fixed).
urlpatterns = [
    re_path(r"^deliveries/?$", DeliveryViewSet.as_view({"get": "list"}), name="delivery-list"),
    re_path(r"^deliveries/(?P<pk>\d+)/?$", DeliveryViewSet.as_view({"get": "retrieve"}), name="delivery-detail"),
    re_path(r"^deliveries/(?P<pk>\d+)/retry/?$", DeliveryViewSet.as_view({"post": "retry"}), name="delivery-retry"),
    re_path(
        r"^deliveries/(?P<pk>\d+)/confirm/?$", DeliveryViewSet.as_view({"post": "confirm"}), name="delivery-confirm"
    ),
]


def register(router) -> None:
    """Plain paths only (see urlpatterns)."""
