"""REST endpoints for the customer graph. Every queryset starts from `visible_to(request.user)`."""

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from crm import audit, services
from crm.models import Account, Activity, AuditEvent, Contact, Deal, ImportRun, Order, Stage
from crm.serializers import (
    AccountSerializer,
    ActivitySerializer,
    ContactSerializer,
    DealSerializer,
    DealStageSerializer,
    ImportRunSerializer,
    OrderSerializer,
    StageSerializer,
)


class AuditedModelViewSet(viewsets.ModelViewSet):
    """A model viewset whose writes are atomic and leave an audit record in the same transaction.

    A constraint the serializer could not foresee (IntegrityError) or a protected delete
    (ProtectedError) escapes to `crm.errors.api_exception_handler`: 400 or 409, nothing written.
    """

    @transaction.atomic
    def perform_create(self, serializer):
        obj = serializer.save()
        self.saved(obj)
        audit.record(actor=self.request.user, action=AuditEvent.Action.CREATE, obj=obj, before={}, via="api")

    @transaction.atomic
    def perform_update(self, serializer):
        before = audit.snapshot(serializer.instance)
        obj = serializer.save()
        self.saved(obj)
        audit.record(actor=self.request.user, action=AuditEvent.Action.UPDATE, obj=obj, before=before, via="api")

    def saved(self, obj) -> None:
        """Hook for follow-up writes that belong in the same transaction."""

    @transaction.atomic
    def perform_destroy(self, instance):
        before = audit.snapshot(instance)
        instance.delete()
        instance.pk = before.get("id")
        audit.record(actor=self.request.user, action=AuditEvent.Action.DELETE, obj=instance, before=before, via="api")


class AccountViewSet(AuditedModelViewSet):
    serializer_class = AccountSerializer
    filterset_fields = {
        "team": ["exact"],
        "kind": ["exact"],
        "is_vip": ["exact"],
        "segment": ["exact"],
        "industry": ["exact"],
        "name": ["icontains"],
        "external_id": ["exact"],
    }

    def get_queryset(self):
        return Account.objects.visible_to(self.request.user)

    def perform_update(self, serializer):
        # Through the one account service: audited, and the upper apps' hooks run (tickets rescores
        # the customer's open tickets now rather than at the next aging run).
        services.update_account(
            actor=self.request.user, account=serializer.instance, changes=serializer.validated_data, via="api"
        )


class ContactViewSet(AuditedModelViewSet):
    serializer_class = ContactSerializer
    filterset_fields = {"account": ["exact"], "email": ["exact", "icontains"], "opted_out": ["exact"]}

    def get_queryset(self):
        return Contact.objects.visible_to(self.request.user)


class DealViewSet(AuditedModelViewSet):
    serializer_class = DealSerializer
    filterset_fields = {
        "team": ["exact"],
        "account": ["exact"],
        "owner": ["exact"],
        "stage": ["exact"],
        "status": ["exact"],
        "last_activity_at": ["lt", "gte"],
    }

    def get_queryset(self):
        return Deal.objects.visible_to(self.request.user).select_related("stage")

    @extend_schema(request=DealStageSerializer, responses=DealSerializer)
    @action(detail=True, methods=["post"])
    def stage(self, request, pk=None):
        """Move the deal to another pipeline stage (recorded in the audit trail)."""
        deal = self.get_object()
        payload = DealStageSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.change_deal_stage(actor=request.user, deal=deal, stage=payload.validated_data["stage"], via="api")
        return Response(DealSerializer(deal, context=self.get_serializer_context()).data)


class ActivityViewSet(AuditedModelViewSet):
    serializer_class = ActivitySerializer
    filterset_fields = {
        "account": ["exact"],
        "deal": ["exact"],
        "contact": ["exact"],
        "kind": ["exact"],
        "thread_id": ["exact"],
        "occurred_at": ["lt", "gte"],
    }

    def get_queryset(self):
        return Activity.objects.visible_to(self.request.user)

    def saved(self, activity) -> None:
        if activity.deal_id and activity.kind in Activity.MEANINGFUL_KINDS:
            activity.deal.record_touch(activity.occurred_at)


class OrderViewSet(AuditedModelViewSet):
    serializer_class = OrderSerializer
    filterset_fields = {"account": ["exact"], "status": ["exact"], "number": ["exact"]}

    def get_queryset(self):
        return Order.objects.visible_to(self.request.user)


class StageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Pipeline stages are shared configuration, edited in admin."""

    serializer_class = StageSerializer
    queryset = Stage.objects.all()
    pagination_class = None


class ImportRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """File imports into your teams, newest first, with their row-level report (read only)."""

    serializer_class = ImportRunSerializer
    filterset_fields = {"team": ["exact"], "kind": ["exact"], "status": ["exact"]}

    def get_queryset(self):
        return ImportRun.objects.visible_to(self.request.user).select_related("actor").defer("rejected_rows")


urlpatterns: list = []


def register(router) -> None:
    router.register("accounts", AccountViewSet, basename="account")
    router.register("contacts", ContactViewSet, basename="contact")
    router.register("deals", DealViewSet, basename="deal")
    router.register("activities", ActivityViewSet, basename="activity")
    router.register("orders", OrderViewSet, basename="order")
    router.register("stages", StageViewSet, basename="stage")
    router.register("import-runs", ImportRunViewSet, basename="import-run")
