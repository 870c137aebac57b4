"""REST endpoints for action plans (issue 12): plans (create, read, expand, use), feedback, the
company context (read, versions, update, rollback) and cache statistics.

Every queryset starts from `visible_to(request.user)`; an unknown or invisible deal, plan, item or
team is a 404. Refusals are `PlanError` (a crm ServiceError): 400 naming the field, 409 conflicts.
"""

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.drf import EMPTY_PARAMETER, IdOrReferenceField
from crm.models import Team, is_manager
from nudges import context, feedback, plan_pending, plans, tasks
from nudges.models import ContextVersion, Learning, Plan, PlanFeedback, PlanItem


class PlanItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = PlanItem
        fields = [
            "id", "priority", "position", "channel", "action_type", "title", "contact_name", "timing",
            "prerequisites", "content", "outline", "rationale", "expanded_at", "use", "used_text",
            "edit_distance", "delivery_id", "used_at",
        ]  # fmt: skip


class PlanSerializer(serializers.ModelSerializer):
    recommendation_id = serializers.CharField(source="public_id")
    deal = serializers.IntegerField(source="deal_id")
    context_version = serializers.CharField(
        source="context_version.version", default=None, allow_null=True, read_only=True
    )
    items = PlanItemSerializer(many=True)
    cached = serializers.SerializerMethodField()

    class Meta:
        model = Plan
        fields = [
            "recommendation_id", "deal", "status", "campaign_context", "situation", "summary", "items",
            "context_version", "cache_key", "deal_hash", "summary_hash", "prompt_hash", "context_hash",
            "campaign_hash", "provenance", "generated_at", "expires_at", "cached",
        ]  # fmt: skip

    def get_cached(self, obj) -> bool:
        return bool(self.context.get("cached", False))


class PlanRequestSerializer(serializers.Serializer):
    deal = IdOrReferenceField(help_text="Our deal id or the deal's external id.")
    campaign_context = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    force_refresh = serializers.BooleanField(required=False, default=False)
    prompt_template = serializers.CharField(
        required=False, allow_null=True, default=None, max_length=50_000,
        help_text="A one-off template (must contain {{company_context}}); default: the team's.",
    )  # fmt: skip


class ItemRefSerializer(serializers.Serializer):
    item = serializers.IntegerField(min_value=1, max_value=2**63 - 1)


class UseSerializer(ItemRefSerializer):
    action = serializers.ChoiceField(choices=["send", "done", "discard"])
    subject = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    text = serializers.CharField(max_length=20_000, required=False, allow_blank=True, default="")


class LearningSerializer(serializers.ModelSerializer):
    result_version = serializers.CharField(
        source="result_version.version", default=None, allow_null=True, read_only=True
    )

    class Meta:
        model = Learning
        fields = ["id", "section", "text", "status", "reason", "result_version"]


class FeedbackSerializer(serializers.ModelSerializer):
    recommendation_id = serializers.CharField(source="plan.public_id", max_length=20)
    learning = LearningSerializer(read_only=True, default=None)

    class Meta:
        model = PlanFeedback
        fields = [
            "id", "recommendation_id", "item", "kind", "type", "text", "worked", "didnt_work", "improvement",
            "priority", "channel", "edit_distance", "created_at", "learning",
        ]  # fmt: skip
        read_only_fields = ["kind", "edit_distance", "created_at"]
        extra_kwargs = {"item": {"queryset": PlanItem.objects.none(), "required": False, "allow_null": True}}

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None and "item" in fields:
            fields["item"].queryset = PlanItem.objects.filter(plan__in=Plan.objects.visible_to(request.user))
        return fields


class PlanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Action plans ("recommendations") in your teams, newest first; `?deal=` filters one deal."""

    serializer_class = PlanSerializer
    lookup_field = "public_id"
    filterset_fields = ["deal", "status"]

    def get_queryset(self):
        return Plan.objects.visible_to(self.request.user).select_related("context_version").prefetch_related("items")

    @extend_schema(
        request=PlanRequestSerializer,
        responses={
            201: PlanSerializer,
            200: PlanSerializer,
            202: OpenApiResponse(
                PlanSerializer, description="With a model: pending; poll the `Location` (the plan) until ready."
            ),
        },
    )
    def create(self, request):
        """Plan a deal: 201 with a new plan, or 200 with the cached one when none of the five inputs
        changed (unless `force_refresh`). With a model configured a new plan is written by a task:
        202 with the pending plan and its URL in `Location`, never holding the request on the model."""
        payload = PlanRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        deal = plans.resolve_deal(data["deal"], user=request.user)
        plan, cached = plan_pending.request_plan(
            deal=deal,
            actor=request.user,
            campaign_context=data["campaign_context"],
            force_refresh=data["force_refresh"],
            template_text=data["prompt_template"],
        )
        pending = plan.status == Plan.Status.PENDING
        if pending:
            tasks.generate_plan_task.delay_on_commit(plan.pk)
        body = PlanSerializer(self.get_queryset().get(pk=plan.pk), context={"cached": cached}).data
        if pending:
            location = reverse("plan-detail", args=[plan.public_id])
            return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": location})
        return Response(body, status=status.HTTP_200_OK if cached else status.HTTP_201_CREATED)

    def _item(self, plan, item_id) -> PlanItem:
        item = plan.items.filter(pk=item_id).select_related("plan__deal__account", "plan__team").first()
        if item is None:
            raise NotFound("No such action in this plan.")
        return item

    @extend_schema(request=ItemRefSerializer, responses=PlanItemSerializer)
    @action(detail=True, methods=["post"])
    def expand(self, request, public_id=None):
        """Full content for a P1/P2 outline."""
        payload = ItemRefSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        item = plans.expand_item(item=self._item(self.get_object(), payload.validated_data["item"]), actor=request.user)
        return Response(PlanItemSerializer(item).data)

    @extend_schema(request=UseSerializer, responses=PlanItemSerializer)
    @action(detail=True, methods=["post"])
    def use(self, request, public_id=None):
        """Send (email through outbound), mark done or discard an action; once only (409 after)."""
        payload = UseSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        d = payload.validated_data
        item = self._item(self.get_object(), d["item"])
        item = feedback.use_item(
            item=item, actor=request.user, action=d["action"], text=d["text"], subject=d["subject"], via="api"
        )
        return Response(PlanItemSerializer(item).data)


class PlanFeedbackViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Feedback on plans (explicit, and implicit from what reps did); posting extracts a learning."""

    serializer_class = FeedbackSerializer
    filterset_fields = ["type", "kind", "channel", "priority"]

    def get_queryset(self):
        return PlanFeedback.objects.visible_to(self.request.user).select_related("plan", "learning__result_version")

    def create(self, request):
        payload = FeedbackSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        d = payload.validated_data
        plan = Plan.objects.visible_to(request.user).filter(public_id=d["plan"]["public_id"]).first()
        if plan is None:
            raise NotFound(f"Unknown recommendation id {d['plan']['public_id']!r}.")
        fb = feedback.record_feedback(
            plan=plan, actor=request.user, item=d.get("item"), type=d["type"], text=d.get("text", ""),
            worked=d.get("worked", ""), didnt_work=d.get("didnt_work", ""), improvement=d.get("improvement", ""),
            priority=d.get("priority"), channel=d.get("channel"),
        )  # fmt: skip
        return Response(FeedbackSerializer(self.get_queryset().get(pk=fb.pk)).data, status=status.HTTP_201_CREATED)


class ContextVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True, read_only=True)
    rolled_back_to = serializers.CharField(source="rolled_back_to.version", default=None, allow_null=True)
    markdown = serializers.SerializerMethodField()

    class Meta:
        model = ContextVersion
        fields = [
            "ordinal", "version", "title", "sections", "source", "note", "feedback", "rolled_back_to",
            "created_by", "created_at", "markdown",
        ]  # fmt: skip

    def get_markdown(self, obj) -> str:
        return context.as_markdown(obj)


class ContextUpdateSerializer(serializers.Serializer):
    team = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    title = serializers.CharField(max_length=200, required=False)
    sections = serializers.DictField(child=serializers.CharField(allow_blank=True, max_length=20_000), required=False)
    markdown = serializers.CharField(required=False, max_length=200_000, help_text="A whole file, the seed's format.")

    def validate(self, data):
        if not data.get("sections") and not data.get("markdown"):
            raise serializers.ValidationError({"sections": ["Send sections or markdown."]})
        return data


class RollbackSerializer(serializers.Serializer):
    team = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    version = serializers.CharField(max_length=20, help_text="1.0, 1.1, ...")


TEAM_PARAM = OpenApiParameter("team", int, required=False, description="Default: your first team.")


def _team(request, team_id=None) -> Team:
    if team_id is None:
        team_id = request.query_params.get("team")
        if team_id == "":
            raise ValidationError({"team": [EMPTY_PARAMETER]})  # the schema says an integer
    teams = Team.objects.visible_to(request.user)
    if team_id:
        if not str(team_id).isdigit():
            raise NotFound("No such team.")
        team = teams.filter(pk=int(team_id)).first()
    else:
        team = teams.first()
    if team is None:
        raise NotFound("No such team.")
    return team


def _manager(request):
    if not is_manager(request.user):
        raise PermissionDenied("Only managers change the company context.")


class ContextView(APIView):
    @extend_schema(parameters=[TEAM_PARAM], responses=ContextVersionSerializer)
    def get(self, request):
        """The team's current company context."""
        return Response(ContextVersionSerializer(context.current(_team(request).pk, actor=request.user)).data)

    @extend_schema(request=ContextUpdateSerializer, responses=ContextVersionSerializer)
    def put(self, request):
        """Update sections (or replace with a markdown file) as a new version; managers only."""
        payload = ContextUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        d = payload.validated_data
        team = _team(request, d.get("team"))
        _manager(request)
        if d.get("markdown"):
            version = context.import_markdown(team_id=team.pk, text=d["markdown"], actor=request.user)
        else:
            version = context.save_sections(
                team_id=team.pk, sections=d["sections"], actor=request.user, title=d.get("title")
            )
        return Response(ContextVersionSerializer(version).data)


class ContextVersionsView(APIView):
    @extend_schema(parameters=[TEAM_PARAM], responses=ContextVersionSerializer(many=True))
    def get(self, request):
        """Every version, newest first, with who made it, its source and the feedback behind it."""
        team = _team(request)
        versions = (
            ContextVersion.objects.visible_to(request.user)
            .filter(team=team)
            .select_related("created_by", "rolled_back_to")
        )
        return Response(ContextVersionSerializer(versions[:200], many=True).data)


class ContextRollbackView(APIView):
    @extend_schema(request=RollbackSerializer, responses=ContextVersionSerializer)
    def post(self, request):
        """Make an earlier version current again (as a new version); managers only."""
        payload = RollbackSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        team = _team(request, payload.validated_data.get("team"))
        _manager(request)
        target = get_object_or_404(ContextVersion.objects.filter(team=team), version=payload.validated_data["version"])
        return Response(
            ContextVersionSerializer(
                context.rollback(team_id=team.pk, to_ordinal=target.ordinal, actor=request.user)
            ).data
        )


class CacheStatsView(APIView):
    @extend_schema(parameters=[TEAM_PARAM], responses={200: dict})
    def get(self, request):
        """The seed's cache-info: total, fresh, expired, feedback logged, context updates, TTL."""
        return Response(plans.cache_stats([_team(request).pk]))


def register(router) -> None:
    from nudges.plan_run_api import PlanRunViewSet

    # Before "plans": its detail route would otherwise take "runs" for a recommendation id.
    router.register("plans/runs", PlanRunViewSet, basename="plan-run")
    router.register("plans", PlanViewSet, basename="plan")
    router.register("plan-feedback", PlanFeedbackViewSet, basename="plan-feedback")


def urlpatterns():
    from django.urls import path

    return [
        path("plan-context/", ContextView.as_view(), name="plan-context"),
        path("plan-context/versions/", ContextVersionsView.as_view(), name="plan-context-versions"),
        path("plan-context/rollback/", ContextRollbackView.as_view(), name="plan-context-rollback"),
        path("plan-cache/", CacheStatsView.as_view(), name="plan-cache"),
    ]
