from rest_framework import serializers

from notifications.models import CustomerImport, CustomerRecord, Notification


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


class ImportRunSerializer(serializers.ModelSerializer):
    rejected_total = serializers.IntegerField(read_only=True)

    class Meta:
        model = CustomerImport
        fields = ["id", "status", "strict", "created_at", "files", "counts", "issues", "rejected_total", "undone_at"]
