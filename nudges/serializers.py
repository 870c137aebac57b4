from django.conf import settings
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from crm.models import Activity, Team
from crm.serializers import VisibleRelatedField
from crm.validators import StorageSafeSerializerMixin
from nudges.forms import ACTIONS, DONE_KINDS
from nudges.models import Nudge


class NudgeSerializer(serializers.ModelSerializer):
    deal_name = serializers.CharField(source="deal.name", read_only=True)
    deal_external_id = serializers.CharField(source="deal.external_id", read_only=True)
    account = serializers.IntegerField(source="deal.account_id", read_only=True)
    stage = serializers.CharField(source="deal.stage.slug", read_only=True)
    owner = serializers.IntegerField(source="deal.owner_id", read_only=True, allow_null=True)

    class Meta:
        model = Nudge
        fields = [
            "id",
            "team",
            "deal",
            "deal_name",
            "deal_external_id",
            "account",
            "stage",
            "owner",
            "status",
            "text",
            "why_now",
            "warnings",
            "urgency",
            "idle_days",
            "tone",
            "offline",
            "provider",
            "flags",
            "created_at",
            "updated_at",
            "acted_at",
            "reason",
            "snoozed_until",
        ]
        read_only_fields = fields


class NudgeActionSerializer(StorageSafeSerializerMixin, serializers.Serializer):
    action = serializers.ChoiceField(choices=ACTIONS)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")
    until = serializers.DateField(required=False, allow_null=True, default=None)
    kind = serializers.ChoiceField(choices=DONE_KINDS, required=False, default=Activity.Kind.NOTE)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")

    def validate(self, attrs):
        if attrs["action"] == "snooze":
            errors = {}
            if not attrs.get("until"):
                errors["until"] = ["Choose the date to snooze until."]
            if not attrs.get("reason", "").strip():
                errors["reason"] = ["Say why the deal is paused."]
            if errors:
                raise serializers.ValidationError(errors)
        if attrs["action"] == "dismiss" and not attrs.get("reason", "").strip():
            raise serializers.ValidationError({"reason": ["Say why you dismiss this nudge."]})
        return attrs


class ScanSerializer(StorageSafeSerializerMixin, serializers.Serializer):
    team = VisibleRelatedField(queryset=Team.objects.all(), required=False, allow_null=True, default=None)


class ScanResultSerializer(serializers.Serializer):
    chunks = serializers.IntegerField()


@extend_schema_serializer(component_name="NudgeImport")  # notifications has its own Import
class ImportSerializer(serializers.Serializer):
    team = VisibleRelatedField(queryset=Team.objects.all())
    file = serializers.FileField()
    dry_run = serializers.BooleanField(default=False, help_text="Check and count, write nothing.")
    strict = serializers.BooleanField(default=False, help_text="All or nothing: one bad row and nothing is written.")

    def validate_file(self, value):
        if value.size > settings.NUDGES_IMPORT_MAX_BYTES:
            raise serializers.ValidationError(f"The file is larger than {settings.NUDGES_IMPORT_MAX_BYTES} bytes.")
        return value


class RowErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    reason = serializers.CharField()
    column = serializers.CharField(allow_blank=True)
    file = serializers.CharField(allow_blank=True)


@extend_schema_serializer(component_name="NudgeImportReport")
class ImportReportSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The stored import run: /api/import-runs/{id}/.")
    kind = serializers.CharField()
    status = serializers.CharField()
    dry_run = serializers.BooleanField()
    strict = serializers.BooleanField()
    rejected = serializers.IntegerField()
    rows = serializers.IntegerField()
    imported = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    errors = RowErrorSerializer(many=True)
    notes = serializers.ListField(child=serializers.CharField())
    failed = serializers.CharField()
