from rest_framework import serializers

from llm.models import LLMCall


class UsageQuerySerializer(serializers.Serializer):
    since = serializers.DateField(required=False, help_text="First local day (default: 13 days before until).")
    until = serializers.DateField(required=False, help_text="Last local day (default: today).")
    feature = serializers.CharField(required=False, max_length=100, help_text="Only this feature, e.g. tickets.draft")

    def validate(self, attrs):
        from llm.forms import UsageFilterForm

        form = UsageFilterForm({k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in attrs.items()})
        if not form.is_valid():
            raise serializers.ValidationError({k: [str(e) for e in v] for k, v in form.errors.items()})
        return form.cleaned_data


class UsageRowSerializer(serializers.Serializer):
    day = serializers.DateField(allow_null=True)
    feature = serializers.CharField()
    calls = serializers.IntegerField()
    cache_hits = serializers.IntegerField()
    hit_rate = serializers.FloatField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cache_read_tokens = serializers.IntegerField()
    cost_usd = serializers.DecimalField(max_digits=14, decimal_places=6)
    failures = serializers.IntegerField()
    fallbacks = serializers.IntegerField()
    p50_ms = serializers.FloatField(allow_null=True)
    p95_ms = serializers.FloatField(allow_null=True)


class UsageSummarySerializer(serializers.Serializer):
    since = serializers.DateField()
    until = serializers.DateField()
    rows = UsageRowSerializer(many=True)
    totals = UsageRowSerializer()


class LLMCallSerializer(serializers.ModelSerializer):
    about_type = serializers.SerializerMethodField()

    class Meta:
        model = LLMCall
        fields = [
            "id",
            "created_at",
            "feature",
            "provider",
            "model",
            "outcome",
            "cache_hit",
            "batched",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "cost_usd",
            "latency_ms",
            "attempts",
            "error_kind",
            "fallback_reason",
            "flags",
            "trimmed_chars",
            "about_type",
            "object_id",
        ]

    def get_about_type(self, obj) -> str:
        return obj.content_type.model if obj.content_type_id else ""
