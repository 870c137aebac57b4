"""REST endpoints for nudges: list (filters warning, owner, stage, status), act, scan, imports,
and the SSE stream at /api/nudges/stream/ (session or token auth)."""

import django_filters
from django import forms
from django.contrib.auth.decorators import login_not_required
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from accounts_security.tokens import auser_for_token
from crm.drf import SafeFilterSet, sse_event_schema
from nudges import importers, plan_api, services, stream, tasks
from nudges.models import Nudge, Warning
from nudges.serializers import (
    ImportReportSerializer,
    ImportSerializer,
    NudgeActionSerializer,
    NudgeSerializer,
    ScanResultSerializer,
    ScanSerializer,
)
from nudges.views import _stream_response, api_unauthorized


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": 2**63 - 1})
class IdFilter(django_filters.NumberFilter):
    """A whole, positive id that fits a bigint: anything else is a 400, not a database error."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class NudgeFilter(SafeFilterSet):
    warning = django_filters.ChoiceFilter(choices=Warning.choices, method="filter_warning")
    owner = IdFilter(field_name="deal__owner_id")
    stage = django_filters.CharFilter(field_name="deal__stage__slug")
    status = django_filters.ChoiceFilter(choices=Nudge.Status.choices)
    deal = IdFilter(field_name="deal_id")

    class Meta:
        model = Nudge
        fields = ["warning", "owner", "stage", "status", "deal"]

    def filter_warning(self, queryset, name, value):
        return queryset.with_warning(value)


class NudgeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Nudges in your teams, newest first. `?status=open` for the open ones."""

    serializer_class = NudgeSerializer
    filterset_class = NudgeFilter

    def get_queryset(self):
        return Nudge.objects.visible_to(self.request.user).select_related("deal", "deal__stage")

    @extend_schema(request=NudgeActionSerializer, responses=NudgeSerializer)
    @action(detail=True, methods=["post"])
    def act(self, request, pk=None):
        """Done (logs a touch), snooze until a date with a reason, or dismiss with a reason."""
        nudge = self.get_object()
        payload = NudgeActionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        # A refusal (crm.errors.ServiceError) becomes a 400 naming the field in the exception handler.
        nudge = services.act_on_nudge(
            nudge=nudge,
            actor=request.user,
            action=data["action"],
            reason=data["reason"],
            until=data["until"],
            kind=data["kind"],
            note=data["note"],
            via="api",
        )
        return Response(NudgeSerializer(self.get_queryset().get(pk=nudge.pk)).data)

    @extend_schema(request=ScanSerializer, responses={202: ScanResultSerializer})
    @action(detail=False, methods=["post"])
    def scan(self, request):
        """Start a scan of your teams' open deals (or one team), fanned out in chunks."""
        payload = ScanSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        team = payload.validated_data.get("team")
        team_ids = [team.pk] if team else stream.team_ids_for(request.user)
        chunks = tasks.scan_nudges(team_ids=team_ids)
        return Response({"chunks": chunks}, status=status.HTTP_202_ACCEPTED)

    def _import(self, request, importer):
        payload = ImportSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        report = importer(
            data["file"].read(),
            team=data["team"],
            actor=request.user,
            file_name=data["file"].name,
            dry_run=data["dry_run"],
            strict=data["strict"],
        )
        code = status.HTTP_400_BAD_REQUEST if report.failed else status.HTTP_200_OK
        return Response(report.as_dict(), status=code)

    @extend_schema(request={"multipart/form-data": ImportSerializer}, responses=ImportReportSerializer)
    @action(detail=False, methods=["post"], url_path="import/crm-events", parser_classes=[MultiPartParser])
    def import_crm_events(self, request):
        """Import the seed's crm_events.csv into a team; a row-level report of what was skipped."""
        return self._import(request, importers.import_crm_events)

    @extend_schema(request={"multipart/form-data": ImportSerializer}, responses=ImportReportSerializer)
    @action(detail=False, methods=["post"], url_path="import/emails", parser_classes=[MultiPartParser])
    def import_emails(self, request):
        """Import the seed's emails.json threads onto already-imported deals."""
        return self._import(request, importers.import_emails)


@extend_schema(
    parameters=[OpenApiParameter("last_event_id", int, required=False)],
    responses={(200, "text/event-stream"): sse_event_schema("nudge")},
)
@login_not_required
async def stream_api(request):
    """Server-Sent Events of new open nudges in your teams; honours Last-Event-ID."""
    user = await request.auser()
    if not user.is_authenticated:
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() == "token" and key.strip():
            user = await auser_for_token(key.strip()) or user
    if not user.is_authenticated:
        return api_unauthorized()
    return await _stream_response(request, user)


urlpatterns = [path("nudges/stream/", stream_api, name="nudges-stream"), *plan_api.urlpatterns()]


def register(router) -> None:
    router.register("nudges", NudgeViewSet, basename="nudge")
    plan_api.register(router)
