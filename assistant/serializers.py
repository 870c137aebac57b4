from django.conf import settings
from rest_framework import serializers

from assistant.models import Conversation, Message, Passage, PlaybookDocument


class AssistantAskSerializer(serializers.Serializer):
    # `\S`: the schema then says what the service refuses, a question of spaces only.
    question = serializers.RegexField(
        r"\S",
        trim_whitespace=True,
        error_messages={"blank": "Ask a question first."},
        help_text=f"At most {settings.ASSISTANT_MAX_QUESTION_CHARS:,} characters (a run of spaces counts as one); "
        "longer is refused with the reason.",
    )
    conversation = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    stream = serializers.BooleanField(required=False, default=False, help_text="Answer as Server-Sent Events.")


class AssistantCitationSerializer(serializers.Serializer):
    n = serializers.IntegerField()
    id = serializers.CharField()
    kind = serializers.CharField(help_text="field (a record's field) or passage (a playbook passage)")
    label = serializers.CharField()
    value = serializers.CharField(allow_blank=True)
    url = serializers.CharField()
    text = serializers.CharField(allow_blank=True)


class AssistantSentenceSerializer(serializers.Serializer):
    text = serializers.CharField()
    citations = serializers.ListField(child=serializers.CharField())
    refs = serializers.ListField(child=serializers.IntegerField())
    notice = serializers.BooleanField(required=False)


class AssistantStepSerializer(serializers.Serializer):
    kind = serializers.CharField()
    text = serializers.CharField()
    at_ms = serializers.IntegerField()


class AssistantMessageSerializer(serializers.ModelSerializer):
    sentences = AssistantSentenceSerializer(many=True, read_only=True)
    citations = AssistantCitationSerializer(many=True, read_only=True)
    steps = AssistantStepSerializer(many=True, read_only=True)
    rating = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = [
            "id",
            "conversation",
            "role",
            "status",
            "text",
            "sentences",
            "citations",
            "steps",
            "tool_calls",
            "verdict",
            "retries",
            "support_missing",
            "offline",
            "provider",
            "error",
            "rating",
            "created_at",
        ]
        read_only_fields = fields

    def get_rating(self, obj) -> dict | None:
        rating = getattr(obj, "rating", None)
        return {"helpful": rating.helpful, "reason": rating.reason} if rating else None


class AssistantConversationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Conversation
        fields = ["id", "title", "created_at", "updated_at"]


class AssistantConversationDetailSerializer(AssistantConversationSerializer):
    messages = AssistantMessageSerializer(many=True, read_only=True)

    class Meta(AssistantConversationSerializer.Meta):
        fields = [*AssistantConversationSerializer.Meta.fields, "messages"]


class AssistantRatingSerializer(serializers.Serializer):
    helpful = serializers.BooleanField()
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class AssistantPassageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Passage
        fields = ["id", "ordinal", "heading", "page", "text"]


class AssistantPlaybookSerializer(serializers.ModelSerializer):
    passage_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = PlaybookDocument
        fields = ["id", "team", "title", "kind", "file_name", "sha256", "pages", "passage_count", "imported_at"]
        read_only_fields = fields


class AssistantPlaybookDetailSerializer(AssistantPlaybookSerializer):
    passages = AssistantPassageSerializer(many=True, read_only=True)

    class Meta(AssistantPlaybookSerializer.Meta):
        fields = [*AssistantPlaybookSerializer.Meta.fields, "passages"]
        read_only_fields = fields


class AssistantPlaybookUploadSerializer(serializers.Serializer):
    team = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    title = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    file = serializers.FileField()


class AssistantCacheStatsSerializer(serializers.Serializer):
    hits = serializers.IntegerField()
    misses = serializers.IntegerField()
    size = serializers.IntegerField()
    hit_rate = serializers.FloatField()
    tools = serializers.DictField()
