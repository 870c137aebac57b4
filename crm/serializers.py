from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from crm.drf import TeamMemberField, member_of_team
from crm.models import Account, Activity, Contact, Deal, ImportRun, Order, Stage, Team
from crm.validators import StorageSafeSerializerMixin

SHARE = "Churn risk is a share between 0 and 1."


class VisibleRelatedField(serializers.PrimaryKeyRelatedField):
    """A foreign key that only accepts rows the requesting user can see (others read as 'does not exist')."""

    def get_queryset(self):
        request = self.context.get("request")
        qs = super().get_queryset()
        return qs.visible_to(request.user) if request is not None else qs.none()


def _check_member(serializer, attrs, field: str) -> None:
    """Owner / account manager: a member of the record's team (its new team, if it moves)."""
    team = attrs.get("team", getattr(serializer.instance, "team", None))
    if field in attrs:
        attrs[field] = member_of_team(attrs[field], team, field=field)
    elif serializer.instance is not None and "team" in attrs and getattr(serializer.instance, f"{field}_id"):
        member_of_team(getattr(serializer.instance, f"{field}_id"), team, field=field)


class StageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Stage
        fields = ["id", "name", "slug", "order", "win_probability", "stale_after_days"]


class AccountSerializer(StorageSafeSerializerMixin, serializers.ModelSerializer):
    team = VisibleRelatedField(queryset=Team.objects.all())
    account_manager = TeamMemberField(required=False, allow_null=True)

    class Meta:
        model = Account
        fields = [
            "id",
            "team",
            "name",
            "kind",
            "external_id",
            "industry",
            "total_spend",
            "account_manager",
            "lifetime_value",
            "churn_risk",
            "is_vip",
            "segment",
            "account_status",
            "extra",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        # In the field, not in validate(): the schema then says minimum 0 and maximum 1.
        extra_kwargs = {
            "churn_risk": {"min_value": 0, "max_value": 1, "error_messages": {"min_value": SHARE, "max_value": SHARE}}
        }

    def validate(self, attrs):
        _check_member(self, attrs, "account_manager")
        return attrs


class ContactSerializer(StorageSafeSerializerMixin, serializers.ModelSerializer):
    account = VisibleRelatedField(queryset=Account.objects.all())

    class Meta:
        model = Contact
        fields = [
            "id",
            "account",
            "name",
            "title",
            "email",
            "phone",
            "preferred_channel",
            "language",
            "opted_out",
            "external_id",
        ]


class DealSerializer(StorageSafeSerializerMixin, serializers.ModelSerializer):
    team = VisibleRelatedField(queryset=Team.objects.all())
    account = VisibleRelatedField(queryset=Account.objects.all())
    primary_contact = VisibleRelatedField(queryset=Contact.objects.all(), required=False, allow_null=True)
    owner = TeamMemberField(required=False, allow_null=True)
    stage_name = serializers.CharField(source="stage.name", read_only=True)

    class Meta:
        model = Deal
        fields = [
            "id",
            "team",
            "account",
            "primary_contact",
            "owner",
            "name",
            "external_id",
            "stage",
            "stage_name",
            "stage_changed_at",
            "amount",
            "currency",
            "status",
            "last_activity_at",
            "next_step",
            "next_step_due",
            "snoozed_until",
            "snooze_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["stage_changed_at", "last_activity_at", "created_at", "updated_at"]

    def validate(self, attrs):
        team = attrs.get("team", getattr(self.instance, "team", None))
        account = attrs.get("account", getattr(self.instance, "account", None))
        if team and account and account.team_id != team.pk:
            raise serializers.ValidationError({"account": "The account belongs to another team."})
        contact = attrs.get("primary_contact")
        if contact and account and contact.account_id != account.pk:
            raise serializers.ValidationError({"primary_contact": "The contact is not at this account."})
        _check_member(self, attrs, "owner")
        return attrs

    def update(self, instance, validated_data):
        stage = validated_data.pop("stage", None)
        instance = super().update(instance, validated_data)
        if stage is not None:
            instance.change_stage(stage)
        return instance


class DealStageSerializer(serializers.Serializer):
    stage = serializers.PrimaryKeyRelatedField(queryset=Stage.objects.all())


class ActivitySerializer(StorageSafeSerializerMixin, serializers.ModelSerializer):
    account = VisibleRelatedField(queryset=Account.objects.all())
    contact = VisibleRelatedField(queryset=Contact.objects.all(), required=False, allow_null=True)
    deal = VisibleRelatedField(queryset=Deal.objects.all(), required=False, allow_null=True)

    class Meta:
        model = Activity
        fields = [
            "id",
            "account",
            "contact",
            "deal",
            "kind",
            "direction",
            "occurred_at",
            "subject",
            "body",
            "thread_id",
            "from_addr",
            "to_addr",
            "sentiment",
            "external_id",
        ]

    def validate(self, attrs):
        account = attrs.get("account", getattr(self.instance, "account", None))
        for name in ("contact", "deal"):
            related = attrs.get(name)
            if related is not None and account is not None and related.account_id != account.pk:
                raise serializers.ValidationError({name: f"The {name} is not at this account."})
        sentiment = attrs.get("sentiment")
        if sentiment is not None and not -1 <= sentiment <= 1:
            raise serializers.ValidationError({"sentiment": "Sentiment runs from -1 to 1."})
        return attrs


class OrderSerializer(StorageSafeSerializerMixin, serializers.ModelSerializer):
    account = VisibleRelatedField(queryset=Account.objects.all())

    class Meta:
        model = Order
        fields = [
            "id",
            "account",
            "number",
            "amount",
            "currency",
            "status",
            "tracking_status",
            "tracking_updated_at",
            "placed_at",
        ]
        validators = []  # uniqueness of (account, number) is checked below with a readable message

    def validate(self, attrs):
        account = attrs.get("account", getattr(self.instance, "account", None))
        number = attrs.get("number", getattr(self.instance, "number", None))
        clash = Order.objects.filter(account=account, number=number)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError({"number": "This account already has an order with this number."})
        return attrs


@extend_schema_serializer(component_name="CrmImportRun")  # notifications has its own ImportRun
class ImportRunSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.get_username", read_only=True, default=None, allow_null=True)

    class Meta:
        model = ImportRun
        fields = [
            "id",
            "team",
            "actor",
            "kind",
            "label",
            "file_names",
            "dry_run",
            "strict",
            "status",
            "rows",
            "created",
            "updated",
            "unchanged",
            "rejected",
            "report",
            "started_at",
            "finished_at",
            "undone_at",
        ]
        read_only_fields = fields
