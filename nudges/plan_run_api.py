"""REST endpoints of "Plan my pipeline" runs: start one (202, poll it), read it, list, its deals.

Runs are scoped to your teams (another team's run is a 404, as one that does not exist); a second
start while the team's run is active is a 409 naming the running run.
"""

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from nudges import plan_runs
from nudges.models import PlanRun


class PlanRunSerializer(serializers.ModelSerializer):
    started_by = serializers.CharField(source="started_by.username", default=None, allow_null=True, read_only=True)
    console_url = serializers.SerializerMethodField()

    class Meta:
        model = PlanRun
        fields = [
            "id", "team", "status", "mode", "filters", "campaign_context", "deals", "lanes", "done", "written", "cached",
            "in_flight", "submitted", "failed", "model_calls", "error", "started_by", "created_at", "started_at",
            "finished_at", "console_url",
        ]  # fmt: skip

    def get_console_url(self, obj) -> str:
        return obj.get_absolute_url()


class PlanRunRequestSerializer(serializers.Serializer):
    team = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False, help_text="Default: your first team."
    )
    stage = serializers.CharField(
        max_length=50, required=False, allow_blank=True, default="", help_text="Slug or name."
    )
    owner = serializers.CharField(
        max_length=254, required=False, allow_blank=True, default="",
        help_text="A team member's email or username; a rep (not a manager) always plans their own deals.",
    )  # fmt: skip
    stale_only = serializers.BooleanField(required=False, default=False, help_text="Only deals with an open nudge.")
    campaign_context = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    limit = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False, allow_null=True, default=None)
    mode = serializers.ChoiceField(choices=PlanRun.Mode.choices, required=False, default=PlanRun.Mode.AUTO)


RESULT_ROW = inline_serializer(
    "PlanRunResult",
    fields={
        "deal": serializers.IntegerField(),
        "deal_name": serializers.CharField(),
        "account": serializers.CharField(),
        "outcome": serializers.ChoiceField(choices=["written", "cached", "pending", "none"]),
        "recommendation_id": serializers.CharField(allow_null=True),
    },
)
RESULTS = inline_serializer(
    "PlanRunResults",
    fields={
        "count": serializers.IntegerField(),
        "offset": serializers.IntegerField(),
        "limit": serializers.IntegerField(),
        "results": serializers.ListField(child=RESULT_ROW),
    },
)


class ResultsQuery(serializers.Serializer):
    offset = serializers.IntegerField(min_value=0, max_value=10_000_000, required=False, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=200, required=False, default=50)


class PlanRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Runs of "Plan my pipeline" in your teams, newest first."""

    serializer_class = PlanRunSerializer
    filterset_fields = ["status", "team"]

    def get_queryset(self):
        return PlanRun.objects.visible_to(self.request.user).select_related("started_by").defer("deal_ids")

    @extend_schema(
        request=PlanRunRequestSerializer,
        responses={
            202: OpenApiResponse(PlanRunSerializer, description="Queued: poll `GET /api/plans/runs/{id}/`."),
            409: OpenApiResponse(description="The team already has a run queued or running."),
        },
    )
    def create(self, request):
        """Start a run for the open deals of a team you can see, filtered by stage, owner and stale
        only (a rep: their own deals), with an optional campaign context."""
        from nudges.plan_api import _team

        payload = PlanRunRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        d = payload.validated_data
        team = _team(request, d.get("team"))
        choice = plan_runs.Choice(
            stage=plan_runs.resolve_stage(d["stage"]),
            owner=plan_runs.resolve_owner(d["owner"], team),
            stale_only=d["stale_only"],
            limit=d["limit"],
        )
        run = plan_runs.start_run(
            team=team, actor=request.user, choice=choice, campaign_context=d["campaign_context"], mode=d["mode"]
        )
        body = PlanRunSerializer(self.get_queryset().get(pk=run.pk)).data
        location = reverse("plan-run-detail", args=[run.pk])
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": location})

    @extend_schema(
        parameters=[OpenApiParameter("offset", int), OpenApiParameter("limit", int, description="1–200, default 50")],
        responses=RESULTS,
    )
    @action(detail=True, methods=["get"])
    def results(self, request, pk=None):
        """The run's deals in order, each with its plan for the run's campaign: written by this run,
        served from the cache, pending (a model batch) or none yet."""
        run = self.get_object()
        query = ResultsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        offset, limit = query.validated_data["offset"], query.validated_data["limit"]
        run = PlanRun.objects.get(pk=run.pk)  # with its deal ids
        rows = plan_runs.results(run, offset=offset, limit=limit)
        return Response(
            {
                "count": run.deals,
                "offset": offset,
                "limit": limit,
                "results": [
                    {
                        "deal": r.deal.pk,
                        "deal_name": r.deal.name,
                        "account": r.deal.account.name,
                        "outcome": r.outcome,
                        "recommendation_id": r.plan.public_id if r.plan else None,
                    }
                    for r in rows
                ],
            }
        )
