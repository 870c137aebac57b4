from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.utils import timezone
from rest_framework import serializers

from crm.models import Account, Contact, Team
from crm.validators import StorageSafeSerializerMixin
from outbound.serializers import DeliverySummarySerializer
from tickets import rules, scoring
from tickets.models import Channel, Difficulty, Draft, Message, Priority, Ticket, TopicAlert, WeightSet


def choice(choices, name: str, **kwargs):
    """A choice field whose error lists the allowed values; `choices` is a TextChoices or a list."""
    pairs = choices.choices if hasattr(choices, "choices") else choices
    allowed = ", ".join(v if isinstance(v, str) else v[0] for v in pairs)
    return serializers.ChoiceField(
        choices=pairs,
        error_messages={"invalid_choice": f'Unknown {name} "{{input}}". Allowed: {allowed}.'},
        **kwargs,
    )


class TicketListQuerySerializer(StorageSafeSerializerMixin, serializers.Serializer):
    status = choice(Ticket.Status, "status", default="open")
    channel = choice(Channel, "channel", required=False)
    team = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    assignee = serializers.RegexField(r"^(me|none|\d{1,10})$", required=False, help_text="me, none, or a user id")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=200, default=50)
    cursor = serializers.CharField(required=False, max_length=300)
    page = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**31 - 1,
        help_text="The seed's page number: 1, or the number the cursor leads to. Pages past the first "
        "are reached through pagination.next (a cursor); there is no OFFSET.",
    )
    topic_alerts = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="Comma-separated keywords; omitted: your saved alert; empty: no alert.",
    )


class TicketSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    subject = serializers.CharField()
    status = serializers.CharField()
    priority = serializers.CharField()
    channel = serializers.CharField()
    smart_score = serializers.SerializerMethodField()
    matches_topic_alert = serializers.BooleanField(source="matches_alert")
    customer_id = serializers.IntegerField(source="account_id")
    customer_name = serializers.SerializerMethodField()
    contact_id = serializers.IntegerField(allow_null=True)
    team_id = serializers.IntegerField()
    assignee_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    waiting_since = serializers.DateTimeField(allow_null=True)
    sla_due_at = serializers.DateTimeField(allow_null=True)
    sla_state = serializers.SerializerMethodField()
    escalated = serializers.SerializerMethodField()
    needs_review = serializers.BooleanField()

    def get_smart_score(self, t) -> float:
        return round(t.eff, 2)

    def get_customer_name(self, t) -> str:
        return t.account.name

    def get_sla_state(self, t) -> str:
        return t.sla().state

    def get_escalated(self, t) -> bool:
        return t.escalated_at is not None


class PaginationSerializer(serializers.Serializer):
    page = serializers.IntegerField(help_text="1 for the first page, counted along the cursor chain.")
    limit = serializers.IntegerField()
    next_cursor = serializers.CharField(allow_null=True)
    next = serializers.CharField(allow_null=True)
    has_next = serializers.BooleanField()
    has_prev = serializers.BooleanField()
    total = serializers.IntegerField(allow_null=True, help_text="Always null: no COUNT over the table per page.")


class TicketListSerializer(serializers.Serializer):
    tickets = TicketSummarySerializer(many=True)
    pagination = PaginationSerializer()
    topic_alerts_active = serializers.ListField(child=serializers.CharField())
    matches = serializers.IntegerField()


class TicketCreateSerializer(StorageSafeSerializerMixin, serializers.Serializer):
    account = serializers.PrimaryKeyRelatedField(queryset=Account.objects.none())
    contact = serializers.PrimaryKeyRelatedField(queryset=Contact.objects.none(), required=False, allow_null=True)
    channel = choice(Channel, "channel")
    priority = choice(Priority, "priority", default=Priority.NORMAL)
    subject = serializers.CharField(max_length=300)
    body = serializers.CharField(max_length=20000, help_text="The customer's first message.")
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.none(), required=False, allow_null=True
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is None:  # schema generation
            return
        user = request.user
        self.fields["account"].queryset = Account.objects.visible_to(user)
        self.fields["contact"].queryset = Contact.objects.visible_to(user)
        self.fields["assignee"].queryset = (
            get_user_model().objects.filter(memberships__team__in=Team.objects.visible_to(user)).distinct()
        )

    def validate(self, data):
        contact = data.get("contact")
        if contact is not None and contact.account_id != data["account"].pk:
            raise serializers.ValidationError({"contact": "The contact belongs to another account."})
        return data


class TicketUpdateSerializer(StorageSafeSerializerMixin, serializers.Serializer):
    status = choice(Ticket.Status, "status", required=False)
    priority = choice(Priority, "priority", required=False)
    subject = serializers.CharField(max_length=300, required=False)
    resolution = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.none(), required=False, allow_null=True
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        ticket = self.context.get("ticket")
        if ticket is not None:
            self.fields["assignee"].queryset = get_user_model().objects.filter(memberships__team_id=ticket.team_id)


class TriageItemSerializer(serializers.Serializer):
    field = serializers.CharField()
    value = serializers.JSONField(allow_null=True)
    confidence = serializers.FloatField(allow_null=True)
    source = serializers.CharField()
    locked = serializers.BooleanField()


class TicketDetailSerializer(serializers.ModelSerializer):
    smart_score = serializers.FloatField(source="score")
    weights_version = serializers.IntegerField(
        source="weight_set.version", allow_null=True, read_only=True, help_text="of the weight set in `weight_set`"
    )
    triage = serializers.SerializerMethodField()
    sla_state = serializers.SerializerMethodField()

    class Meta:
        model = Ticket
        fields = [
            "id",
            "team",
            "account",
            "contact",
            "subject",
            "channel",
            "status",
            "priority",
            "assignee",
            "created_at",
            "updated_at",
            "last_customer_message_at",
            "last_agent_reply_at",
            "first_responded_at",
            "waiting_since",
            "sla_due_at",
            "sla_breached",
            "sla_state",
            "smart_score",
            "weights_version",
            "weight_set",
            "triage",
            "needs_review",
            "review_reason",
            "follow_up_at",
            "follow_up_note",
            "escalated_at",
            "escalation_reason",
            "resolution",
        ]
        read_only_fields = fields

    def get_triage(self, t) -> list[dict]:
        return TriageItemSerializer(t.triage_items(), many=True).data

    def get_sla_state(self, t) -> str:
        return t.sla().state


class TriageEditSerializer(StorageSafeSerializerMixin, serializers.Serializer):
    sentiment = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1)
    category = serializers.CharField(required=False, allow_blank=True, max_length=40)
    difficulty = choice([("", "Unknown"), *Difficulty.choices], "difficulty", required=False)
    language = serializers.CharField(required=False, allow_blank=True, max_length=10)


class ComponentsSerializer(serializers.Serializer):
    churn_risk = serializers.FloatField()
    customer_value = serializers.FloatField()
    urgency = serializers.FloatField()
    age = serializers.FloatField()
    difficulty = serializers.FloatField()
    sentiment = serializers.FloatField()
    topic_alert = serializers.FloatField()


class ScoreBreakdownSerializer(serializers.Serializer):
    total_score = serializers.FloatField()
    components = ComponentsSerializer()
    customer = serializers.DictField()
    ticket = serializers.DictField()
    weights = serializers.DictField()
    average_open_score = serializers.FloatField()
    matches_topic_alert = serializers.BooleanField()


def breakdown(ticket: Ticket, *, matches: bool, boost: float, weights: WeightSet, average: float, now=None) -> dict:
    now = now or timezone.now()
    components = scoring.rounded(ticket.stored_components(topic_alert=boost if matches else 0.0))
    waited = ticket.waiting_for(now)
    return {
        "total_score": round(ticket.score + (boost if matches else 0.0), 2),
        "components": components,
        "customer": {"ltv": ticket.customer_ltv, "churn_risk": ticket.customer_churn, "vip": ticket.customer_vip},
        "ticket": {
            "priority": ticket.priority,
            "age_hours": round((now - ticket.created_at).total_seconds() / 3600, 2),
            "waiting_hours": round(waited.total_seconds() / 3600, 2) if waited else None,
            "sla_share_used": round(scoring.age_share(waited.total_seconds(), ticket.response_target_s), 3)
            if waited
            else None,
            "difficulty": ticket.difficulty,
            "sentiment": ticket.sentiment,
        },
        "weights": {
            "version": weights.version,
            "churn_weight": weights.churn,
            "value_weight": weights.value,
            "urgency_weight": weights.urgency,
            "age_weight": weights.age,
            "age_cap": weights.age_cap,
            "easy_bonus": weights.easy_bonus,
            "complex_penalty": weights.complex_penalty,
            "sentiment_boost": weights.sentiment_boost,
            "sentiment_threshold": weights.sentiment_threshold,
            "topic_alert_boost": weights.topic_alert_boost,
        },
        "average_open_score": round(average, 2),
        "matches_topic_alert": matches,
    }


class MessageSerializer(serializers.ModelSerializer):
    delivery = DeliverySummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "ticket",
            "direction",
            "channel",
            "author",
            "body",
            "created_at",
            "flagged_injection",
            "delivery",
        ]


class ReplySerializer(StorageSafeSerializerMixin, serializers.Serializer):
    body = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=20000)
    draft = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**31 - 1)
    resend = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Send even though the same body went to this ticket within the duplicate window.",
    )


class PersonalizationSerializer(serializers.Serializer):
    used_order_info = serializers.BooleanField()
    mentioned_tracking = serializers.BooleanField()
    referenced_past_issue = serializers.BooleanField()
    applied_vip_treatment = serializers.BooleanField()


class DraftResponseSerializer(serializers.ModelSerializer):
    draft_id = serializers.IntegerField(source="id")
    previous_id = serializers.IntegerField(allow_null=True)
    personalization = serializers.JSONField()

    class Meta:
        model = Draft
        fields = [
            "draft_id",
            "status",
            "content",
            "tone",
            "channel",
            "reasoning",
            "personalization",
            "offline",
            "provider",
            "model",
            "instruction",
            "previous_id",
            "error",
            "created_at",
            "completed_at",
        ]


class RegenerateSerializer(StorageSafeSerializerMixin, serializers.Serializer):
    instruction = serializers.CharField(required=False, allow_blank=True, max_length=500)


class InboundSerializer(StorageSafeSerializerMixin, serializers.Serializer):
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.none())
    channel = choice(Channel, "channel")
    sender = serializers.CharField(max_length=254, help_text="Email address or phone number of the customer.")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    subject = serializers.CharField(max_length=300, required=False, allow_blank=True)
    body = serializers.CharField(max_length=20000)
    external_id = serializers.CharField(max_length=200, required=False, allow_blank=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["team"].queryset = Team.objects.visible_to(request.user)

    def validate(self, data):
        # The sender becomes a contact's email: an address that is not one would be stored and
        # break the contact's API schema (issue 10: "emails stored unvalidated").
        if data["channel"] == Channel.EMAIL:
            try:
                validate_email(data["sender"])
            except DjangoValidationError:
                raise serializers.ValidationError({"sender": "Enter a valid email address."}) from None
        return data


class InboundResultSerializer(serializers.Serializer):
    inbound_id = serializers.IntegerField()
    status = serializers.CharField()
    reason = serializers.CharField()
    ticket_id = serializers.IntegerField(allow_null=True)
    message_id = serializers.IntegerField(allow_null=True)
    created_ticket = serializers.BooleanField()


class TopicAlertSerializer(serializers.ModelSerializer):
    class Meta:
        model = TopicAlert
        fields = ["id", "text", "terms", "expires_at", "created_at"]
        read_only_fields = ["id", "terms", "created_at"]


class TopicAlertCreateSerializer(StorageSafeSerializerMixin, serializers.Serializer):
    text = serializers.CharField(max_length=500, help_text="Comma-separated keywords (one or two words each).")
    expires_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate_text(self, value):
        parsed = rules.parse_alert_terms(value)
        if not parsed.terms:
            raise serializers.ValidationError("Give at least one keyword.")
        if parsed.rejected:
            raise serializers.ValidationError(f"Not usable as keywords: {', '.join(parsed.rejected)}.")
        return value


class WeightSetSerializer(StorageSafeSerializerMixin, serializers.ModelSerializer):
    team = serializers.IntegerField(
        source="team_id",
        required=False,
        allow_null=True,
        min_value=1,
        max_value=2**31 - 1,
        help_text="A team you manage; empty or null: the global default (admins only).",
    )

    class Meta:
        model = WeightSet
        fields = ["team", "version", *WeightSet.FIELDS, "note", "follows_default", "created_by", "created_at"]
        read_only_fields = ["version", "follows_default", "created_by", "created_at"]
        # age_cap and sentiment_threshold are zero or more, in the field so the schema says so.
        extra_kwargs = {
            f: {"min_value": 0, "error_messages": {"min_value": "Must be zero or more."}, "max_value": 1000}
            if f in ("age_cap", "sentiment_threshold")
            else {"min_value": -1000, "max_value": 1000}
            for f in WeightSet.FIELDS
        }


class FollowUpSerializer(StorageSafeSerializerMixin, serializers.Serializer):
    follow_up_at = serializers.DateTimeField(required=False)
    days = serializers.IntegerField(required=False, min_value=1, max_value=60)
    note = serializers.CharField(required=False, allow_blank=True, max_length=300)

    def validate(self, data):
        if not data.get("follow_up_at") and not data.get("days"):
            raise serializers.ValidationError({"days": "Give days or follow_up_at."})
        return data


class EscalateSerializer(StorageSafeSerializerMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=300)
