"""REST endpoints under /api/notifications/ (the seed's endpoints, team-scoped).

Every endpoint takes `?team=SLUG` (default: the first of your teams holding customers); a team you
cannot see, and any object in it, is a 404.
"""

from django.db.models import Avg, Count, F, Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, parser_classes
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from crm.drf import StrictPageSize
from crm.models import Activity, ImportRun, Team, is_manager
from notifications import importing, risk, runs, services
from notifications.errors import ServiceError
from notifications.models import AnalysisRun, CustomerRecord, Notification, NotificationSettings
from notifications.segments import VALUE_SEEKERS
from notifications.serializers import (
    CustomerSerializer,
    ImportRunSerializer,
    ImportSerializer,
    NotificationSerializer,
    RefreshSerializer,
    SendSerializer,
)


class Pages(StrictPageSize, PageNumberPagination):
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and not (raw.isascii() and raw.isdigit() and int(raw) >= 1):
            # DRF reads an empty or unreadable page as page 1; the schema says a page number.
            raise ValidationError({self.page_query_param: ["A page number, from 1."]})
        return super().get_page_number(request, paginator)


# The query parameters these endpoints read, documented (an undocumented one is refused: crm.drf).
TEAM = OpenApiParameter("team", str, description="A team's slug; default: your first team with customers.")
SEGMENT = OpenApiParameter("segment", str, description="A segment's name; customers: default the focus segment.")
PAGES = [
    OpenApiParameter("page", int, description="Page number, from 1."),
    OpenApiParameter("limit", int, description="Rows a page, 1–200 (default 50)."),
]
QUEUE_FILTERS = [
    OpenApiParameter("priority", str, description="Critical, Important or Routine."),
    OpenApiParameter("status", str, description="A notification's status (draft, approved, sent...)."),
]


def _team(request) -> Team:
    teams = Team.objects.visible_to(request.user)
    slug = request.query_params.get("team")
    if slug:
        return get_object_or_404(teams, slug=slug)
    team = teams.filter(pk__in=CustomerRecord.objects.values("team_id")).first() or teams.first()
    if team is None:
        raise Http404("No team")
    return team


def _paged(name, serializer):
    """The schema of a `_page` answer: PageNumberPagination's envelope around the rows."""
    return inline_serializer(
        name,
        {
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer(many=True),
        },
    )


def _get(operation_id, name, fields=None, *, rows=None, params=(TEAM,)):
    """A GET endpoint whose answer is an inline serializer: `fields` for a plain object, or `rows`
    (a serializer class) for a `_page` envelope with its page parameters. The one place the schema
    shape is written."""
    responses = _paged(name, rows) if rows is not None else inline_serializer(name, fields)
    parameters = [*params, *(PAGES if rows is not None else [])]

    def wrap(view):
        return extend_schema(operation_id=operation_id, responses=responses, parameters=parameters)(
            api_view(["GET"])(view)
        )

    return wrap


def _page(request, qs, serializer):
    pager = Pages()
    items = pager.paginate_queryset(qs, request)
    return pager.get_paginated_response(serializer(items, many=True).data)


@_get("notifications_customers_list", "PaginatedCustomerList", rows=CustomerSerializer, params=(TEAM, SEGMENT))
def customers(request):
    """Customers of the focus segment (or `?segment=`) with their profiles, riskiest first."""
    team = _team(request)
    segment = request.query_params.get("segment") or NotificationSettings.for_team(team).focus_segment
    qs = CustomerRecord.objects.visible_to(request.user).filter(team=team, segment=segment).select_related("account")
    return _page(request, qs.order_by("-risk_score", "-risk_raw", "pk"), CustomerSerializer)


@_get(
    "notifications_segments_retrieve",
    "NotificationSegmentStats",
    {
        "team": serializers.CharField(),
        "focus_segment": serializers.CharField(),
        "segments": serializers.ListField(child=serializers.DictField()),
        "risk_check": serializers.DictField(),
    },
)
def segment_stats(request):
    """Per (effective) segment: customers, average risk, how many are high, medium and low priority, and
    how many the AI refinement moved there from another rule segment."""
    team = _team(request)
    rows = (
        CustomerRecord.objects.visible_to(request.user)
        .filter(team=team)
        .values("segment")
        .annotate(
            customers=Count("pk"),
            average_risk=Avg("risk_score"),
            high=Count("pk", filter=Q(priority="High")),
            medium=Count("pk", filter=Q(priority="Medium")),
            low=Count("pk", filter=Q(priority="Low")),
            reassigned_by_ai=Count("pk", filter=Q(segment_source="ai") & ~Q(rule_segment=F("segment"))),
        )
        .order_by("segment")
    )
    conf = NotificationSettings.for_team(team)
    return Response(
        {
            "team": team.slug,
            "focus_segment": conf.focus_segment,
            "segments": [{**r, "average_risk": round(r["average_risk"] or 0, 2)} for r in rows],
            "risk_check": conf.risk_check,
        }
    )


@_get(
    "notifications_notifications_list",
    "PaginatedNotificationList",
    rows=NotificationSerializer,
    params=(TEAM, SEGMENT, *QUEUE_FILTERS),
)
def notifications(request):
    """The review queue, prioritised (Critical first, then risk). Filters: priority, segment, status."""
    team = _team(request)
    qs = Notification.objects.visible_to(request.user).filter(team=team).select_related("record")
    qs = services.matching(
        qs, priority=request.query_params.get("priority", ""), segment=request.query_params.get("segment", "")
    )
    if request.query_params.get("status"):
        qs = qs.filter(status=request.query_params["status"])
    return _page(request, qs.order_by("priority_rank", "-risk_score", "-risk_raw", "pk"), NotificationSerializer)


@extend_schema(responses=NotificationSerializer)
@api_view(["GET"])
def notification_detail(request, pk):
    n = get_object_or_404(Notification.objects.visible_to(request.user).select_related("record"), pk=pk)
    return Response(NotificationSerializer(n).data)


@_get(
    "notifications_billing_issues_retrieve",
    "NotificationBillingIssues",
    {
        "team": serializers.CharField(),
        "count": serializers.IntegerField(),
        "customers": serializers.ListField(child=serializers.DictField()),
    },
)
def billing_issues(request):
    """Customers with billing-related interactions, with those interactions."""
    team = _team(request)
    activities = (
        Activity.objects.visible_to(request.user)
        .filter(account__team=team, kind=Activity.Kind.SERVICE)
        .filter(
            Q(subject__icontains="bill")
            | Q(subject__icontains="payment")
            | Q(subject__icontains="direct debit")
            | Q(subject__icontains="refund")
        )
        .select_related("account")
        .order_by("account__external_id", "-occurred_at")
    )
    out: dict[str, dict] = {}
    for a in activities[:5000]:
        entry = out.setdefault(
            a.account.external_id, {"customer_id": a.account.external_id, "name": a.account.name, "interactions": []}
        )
        entry["interactions"].append(
            {
                "interaction_id": a.external_id,
                "date": a.occurred_at.date(),
                "category": a.subject,
                "summary": a.body.split("\n\n")[0],
                "sentiment": a.sentiment,
            }
        )
    return Response({"team": team.slug, "count": len(out), "customers": list(out.values())})


@_get(
    "notifications_value_seekers_retrieve",
    "NotificationValueSeekers",
    {
        "team": serializers.CharField(),
        "customers": serializers.IntegerField(),
        "share_of_customers": serializers.FloatField(),
        "average_risk": serializers.FloatField(),
        "average_monthly_spend": serializers.FloatField(),
        "priorities": serializers.DictField(child=serializers.IntegerField()),
        "tariffs": serializers.ListField(child=serializers.DictField()),
        "top_risk_factors": serializers.ListField(child=serializers.DictField()),
        "urgency": serializers.DictField(),
    },
)
def value_seekers(request):
    """Value Seekers in detail: size, risk, priorities, tariffs, the commonest risk factors."""
    team = _team(request)
    qs = CustomerRecord.objects.visible_to(request.user).filter(team=team, segment=VALUE_SEEKERS)
    summary = qs.aggregate(customers=Count("pk"), average_risk=Avg("risk_score"), average_spend=Avg("monthly_spend"))
    factors: dict[str, int] = {}
    for row in qs.values_list("risk_factors", flat=True):
        for f in row:
            if f["delta"] > 0:
                key = f["label"].split(" (")[0].split(" on ")[0].split(" since ")[0]
                factors[key] = factors.get(key, 0) + 1
    return Response(
        {
            "team": team.slug,
            "customers": summary["customers"],
            "share_of_customers": round(
                summary["customers"] / (CustomerRecord.objects.filter(team=team).count() or 1), 3
            ),
            "average_risk": round(summary["average_risk"] or 0, 2),
            "average_monthly_spend": round(float(summary["average_spend"] or 0), 2),
            "priorities": {p: qs.filter(priority=p).count() for p in ("High", "Medium", "Low")},
            "tariffs": list(qs.values("tariff").annotate(customers=Count("pk")).order_by("-customers")),
            "top_risk_factors": sorted(
                ({"factor": k, "customers": v} for k, v in factors.items()), key=lambda x: -x["customers"]
            )[:10],
            "urgency": risk.URGENCY,
        }
    )


@extend_schema(request=SendSerializer, responses=NotificationSerializer)
@api_view(["POST"])
def send(request, pk):
    """Send the (optionally edited) message. Idempotent: a second call returns the same notification."""
    n = get_object_or_404(Notification.objects.visible_to(request.user), pk=pk)
    payload = SendSerializer(data=request.data)
    payload.is_valid(raise_exception=True)
    try:
        n = services.send(
            notification=n,
            actor=request.user,
            subject=payload.validated_data.get("subject"),
            message=payload.validated_data.get("message"),
        )
    except ServiceError as exc:
        code = status.HTTP_409_CONFLICT if exc.code == "conflict" else status.HTTP_400_BAD_REQUEST
        n.refresh_from_db()
        return Response({exc.field or "non_field_errors": [str(exc)], "failed_checks": n.failed_checks}, status=code)
    return Response(NotificationSerializer(Notification.objects.select_related("record").get(pk=n.pk)).data)


@extend_schema(
    request=RefreshSerializer,
    parameters=[TEAM],
    responses={
        200: OpenApiResponse(description="`recompute`: how many customers changed segment."),
        202: OpenApiResponse(description="`analyse`: the analysis run is queued (poll its run)."),
    },
)
@api_view(["POST"])
def refresh(request):
    """`analyse` (default): start a background analysis of the focus segment (or `segment`);
    `recompute`: segments and risk again from the stored data."""
    team = _team(request)
    payload = RefreshSerializer(data=request.data)
    payload.is_valid(raise_exception=True)
    data = payload.validated_data
    if data["action"] == "recompute":
        changed = services.recompute_segments(team)
        return Response({"recomputed": changed})
    segment = data.get("segment") or NotificationSettings.for_team(team).focus_segment
    run = runs.start_analysis(team=team, segment=segment, actor=request.user, force_refresh=data["force_refresh"])
    return Response(
        {"run": run.pk, "status": run.status, "segment": run.segment, "total": run.total},
        status=status.HTTP_202_ACCEPTED,
    )


@_get(
    "notifications_runs_retrieve",
    "NotificationAnalysisRun",
    {
        "run": serializers.IntegerField(),
        "status": serializers.CharField(),
        "segment": serializers.CharField(),
        "total": serializers.IntegerField(),
        "done": serializers.IntegerField(),
        "error": serializers.CharField(),
        "batch": serializers.BooleanField(help_text="Sent through the Message Batches API."),
        "waiting": serializers.IntegerField(help_text="Batch answers still to come."),
        "stats": serializers.DictField(
            help_text="customers, unchanged (nothing asked), asked, cached, batched, calls_saved"
        ),
    },
    params=(),
)
def run_detail(request, pk):
    run = get_object_or_404(AnalysisRun.objects.visible_to(request.user), pk=pk)
    return Response(
        {
            "run": run.pk,
            "status": run.status,
            "segment": run.segment,
            "total": run.total,
            "done": run.done,
            "error": run.error,
            "batch": run.batch,
            "waiting": run.waiting,
            "stats": run.stats,
        }
    )


@extend_schema(request={"multipart/form-data": ImportSerializer}, responses=ImportRunSerializer, parameters=[TEAM])
@api_view(["POST"])
@parser_classes([MultiPartParser])  # files: multipart only (a JSON body cannot carry them)
def import_files(request):
    """Managers: the five files (multipart `files`), `dry_run`, `strict`. 201 imported, 200 dry run,
    422 refused; the body is the row-level report either way."""
    team = _team(request)
    if not is_manager(request.user):
        raise Http404("Managers only")
    payload = ImportSerializer(data=request.data)
    payload.is_valid(raise_exception=True)
    data = payload.validated_data
    run = importing.import_customers(
        [(f.name, f.read()) for f in data["files"]],
        team=team,
        actor=request.user,
        dry_run=data["dry_run"],
        strict=data["strict"],
    )
    code = 422 if run.status in ("refused", "rejected", "failed") else 200 if run.dry_run else 201
    return Response(ImportRunSerializer(run).data, status=code)


@extend_schema(responses=ImportRunSerializer)
@api_view(["GET"])
def import_detail(request, pk):
    if not is_manager(request.user):
        raise Http404("Managers only")
    run = get_object_or_404(ImportRun.objects.visible_to(request.user).filter(kind=importing.KIND), pk=pk)
    return Response(ImportRunSerializer(run).data)


urlpatterns = [
    path("notifications/customers/", customers, name="notifications-api-customers"),
    path("notifications/segments/", segment_stats, name="notifications-api-segments"),
    path("notifications/notifications/", notifications, name="notifications-api-list"),
    path("notifications/notifications/<int:pk>/", notification_detail, name="notifications-api-detail"),
    path("notifications/notifications/<int:pk>/send/", send, name="notifications-api-send"),
    path("notifications/billing-issues/", billing_issues, name="notifications-api-billing"),
    path("notifications/value-seekers/", value_seekers, name="notifications-api-value-seekers"),
    path("notifications/refresh/", refresh, name="notifications-api-refresh"),
    path("notifications/runs/<int:pk>/", run_detail, name="notifications-api-run"),
    path("notifications/import/", import_files, name="notifications-api-import"),
    path("notifications/imports/<int:pk>/", import_detail, name="notifications-api-import-detail"),
]


def register(router) -> None:
    """Plain paths only (urlpatterns)."""
