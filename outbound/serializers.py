from rest_framework import serializers

from outbound.models import Delivery


class DeliverySummarySerializer(serializers.ModelSerializer):
    """The delivery as shown beside the message it carries (tickets' conversation)."""

    class Meta:
        model = Delivery
        fields = ["id", "key", "channel", "status", "attempts", "last_error", "sent_at"]


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = [
            "id",
            "key",
            "team",
            "channel",
            "recipient",
            "subject",
            "body",
            "status",
            "attempts",
            "last_error",
            "provider_reply",
            "not_before",
            "claimed_at",
            "sent_at",
            "created_at",
            "created_by",
            "resolved_by",
            "contact",
            "source",
            "source_id",
            "is_reply",
        ]
        read_only_fields = fields
