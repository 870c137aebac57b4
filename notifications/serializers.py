from rest_framework import serializers

from notifications.models import CustomerRecord, Notification


class CustomerSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="account.name")
    account_id = serializers.IntegerField()
    segment_refinement = serializers.JSONField(
        source="refinement",
        read_only=True,
        help_text="The AI refinement: segment and reason, or why it was rejected (then the rule segment stands).",
    )

    class Meta:
        model = CustomerRecord
        fields = [
            "customer_id", "account_id", "name", "segment", "segment_reason", "segment_source", "rule_segment",
            "segment_refinement", "region", "tariff", "payment_method",
            "monthly_spend", "tenure_months", "green_tariff", "marketing_consent", "account_status",
            "engagement_score", "churn_risk", "last_login", "payment_status", "contract_end", "risk_score",
            "priority", "risk_factors",
        ]  # fmt: skip


class NotificationSerializer(serializers.ModelSerializer):
    customer_id = serializers.CharField(source="record.customer_id")
    segment = serializers.CharField(source="record.segment")
    level = serializers.CharField(read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id", "customer_id", "account_id", "segment", "status", "priority", "level", "urgency", "risk_score",
            "analysis", "channel", "subject", "message", "failed_checks", "provenance", "sent_body", "sent_at",
            "delivery_id", "updated_at",
        ]  # fmt: skip


class SendSerializer(serializers.Serializer):
    subject = serializers.CharField(max_length=300, required=False, allow_blank=True)
    message = serializers.CharField(max_length=5000, required=False, allow_blank=True, trim_whitespace=False)


class RefreshSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["analyse", "recompute"], default="analyse")
    # Blank (or absent) means the team's focus segment; a form post's "segment=" is read as absent.
    segment = serializers.CharField(max_length=100, required=False, allow_blank=True)
    force_refresh = serializers.BooleanField(default=False)


class ImportSerializer(serializers.Serializer):
    files = serializers.ListField(child=serializers.FileField(), allow_empty=False)
    dry_run = serializers.BooleanField(default=False)
    strict = serializers.BooleanField(default=False)


class ImportIssueSerializer(serializers.Serializer):
    file = serializers.CharField()
    line = serializers.IntegerField(help_text="1 = the header; 0 = the whole file.")
    column = serializers.CharField()
    reason = serializers.CharField()


class ImportFileSerializer(serializers.Serializer):
    name = serializers.CharField()
    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = serializers.IntegerField()


class ImportRunSerializer(serializers.Serializer):
    """A customer import, stored as the core's crm.ImportRun (also at /api/import-runs/{id}/)."""

    id = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField(help_text="imported, partial, rejected (strict), refused, failed, undone")
    dry_run = serializers.BooleanField()
    strict = serializers.BooleanField()
    rows = serializers.IntegerField()
    imported = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = serializers.IntegerField()
    files = ImportFileSerializer(many=True, help_text="Counts per file.")
    errors = ImportIssueSerializer(many=True, help_text="Rejected rows: file, line, column, reason.")
    warnings = ImportIssueSerializer(many=True, help_text="Reported, imported anyway.")
    notes = serializers.ListField(child=serializers.CharField())
    failed = serializers.CharField(help_text="Why the run was refused, when it was.")
    undone_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance):
        return super().to_representation(instance.as_dict())
