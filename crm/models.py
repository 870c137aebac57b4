"""The customer graph shared by every feature: teams, accounts, contacts, deals, activities, orders.

Visibility: every customer-facing row belongs to a team (directly or through its account).
`visible_to(user)` on each queryset is the one permission choke point.
"""

from __future__ import annotations

import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from crm.visibility import visible_team_ids

ADMIN_GROUP = "admin"
MANAGER_GROUP = "manager"
AGENT_GROUP = "agent"


def is_admin(user) -> bool:
    return bool(user.is_superuser or any(g.name == ADMIN_GROUP for g in user.groups.all()))


def is_manager(user) -> bool:
    return is_admin(user) or user.groups.filter(name=MANAGER_GROUP).exists()


class TeamQuerySet(models.QuerySet):
    def visible_to(self, user):
        team_ids = visible_team_ids(user)
        return self if team_ids is None else self.filter(pk__in=team_ids)


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="teams")

    objects = TeamQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "team"], name="membership_unique_user_team")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"


class TeamScopedQuerySet(models.QuerySet):
    """Base for every customer-facing queryset. `team_path` names the lookup to the Team."""

    team_path = "team"

    def visible_to(self, user):
        team_ids = visible_team_ids(user)
        if team_ids is None:
            return self
        if not team_ids:
            return self.none()
        return self.filter(**{f"{self.team_path}__in": team_ids})


class Account(models.Model):
    class Kind(models.TextChoices):
        BUSINESS = "business", "Business"
        PERSON = "person", "Person or household"

    # No index of its own: account_team_name_idx and account_unique_external_id start with team_id
    # (a third b-tree written on every insert for nothing; docs/benchmarks.md, Customer notifications).
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="accounts", db_index=False)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.BUSINESS)
    external_id = models.CharField(max_length=100, blank=True, help_text="Id in the system it was imported from.")
    # Seed 3 (co-pilot): client facts.
    industry = models.CharField(max_length=100, blank=True)
    total_spend = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="managed_accounts"
    )
    # Seed 4 (support inbox): customer value and risk, inputs to ticket scores.
    lifetime_value = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    churn_risk = models.FloatField(default=0.0, help_text="0 to 1.")
    is_vip = models.BooleanField(default=False)
    # Seed 5 (notifications): energy customers.
    segment = models.CharField(max_length=100, blank=True)
    account_status = models.CharField(max_length=50, blank=True)
    extra = models.JSONField(default=dict, blank=True, help_text="Imported fields without a column of their own.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [
            # Account search and list within a team.
            models.Index(fields=["team", "name"], name="account_team_name_idx"),
            models.Index(fields=["segment"], name="account_segment_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "external_id"], condition=~Q(external_id=""), name="account_unique_external_id"
            ),
            models.CheckConstraint(condition=Q(churn_risk__gte=0) & Q(churn_risk__lte=1), name="account_churn_0_1"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("crm:account_detail", args=[self.pk])


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    SMS = "sms", "SMS"
    CHAT = "chat", "Chat"
    WHATSAPP = "whatsapp", "WhatsApp"
    LINKEDIN = "linkedin", "LinkedIn"


def validate_time_zone(value: str) -> None:
    """An IANA time zone name known to this server's tz database (blank is allowed by the field)."""
    if not value:
        return
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"Unknown time zone {value!r}: use an IANA name such as Europe/Paris.") from exc


class ContactQuerySet(TeamScopedQuerySet):
    team_path = "account__team"


class Contact(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    title = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    preferred_channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.EMAIL)
    language = models.CharField(max_length=10, default="en")
    opted_out = models.BooleanField(default=False, help_text="Asked not to be contacted proactively.")
    # Quiet hours are the contact's own night: outbound holds messages until their morning.
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text="IANA name such as Europe/Paris; blank means the server's time zone.",
    )
    external_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ContactQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["email"], name="contact_email_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name else ""


class Stage(models.Model):
    """A pipeline stage. Ordered; `stale_after_days` overrides the global idle threshold."""

    name = models.CharField(max_length=50)
    slug = models.SlugField(max_length=50, unique=True)
    order = models.PositiveSmallIntegerField(default=0)
    win_probability = models.FloatField(default=0.0, help_text="0 to 1.")
    stale_after_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Days without a touch before a deal in this stage is stale."
    )

    class Meta:
        ordering = ["order"]

    def __str__(self) -> str:
        return self.name


class DealQuerySet(TeamScopedQuerySet):
    def open(self):
        return self.filter(status=Deal.Status.OPEN)


class Deal(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        WON = "won", "Won"
        LOST = "lost", "Lost"

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="deals")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="deals")
    primary_contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    name = models.CharField(max_length=200)
    external_id = models.CharField(max_length=100, blank=True)
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="deals")
    stage_changed_at = models.DateTimeField(default=timezone.now)
    amount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3, default="EUR")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    last_activity_at = models.DateTimeField(
        null=True, blank=True, help_text="Last meaningful touch (email, call, meeting, note), not any field edit."
    )
    next_step = models.CharField(max_length=300, blank=True)
    next_step_due = models.DateField(null=True, blank=True)
    snoozed_until = models.DateField(null=True, blank=True)
    snooze_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DealQuerySet.as_manager()

    class Meta:
        ordering = ["-amount", "pk"]
        indexes = [
            # Stale scan: open deals ordered by idle time, per team and globally.
            models.Index(fields=["status", "last_activity_at"], name="deal_status_last_activity_idx"),
            models.Index(fields=["team", "status", "last_activity_at"], name="deal_team_status_activity_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "external_id"], condition=~Q(external_id=""), name="deal_unique_external_id"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("crm:deal_detail", args=[self.pk])

    def change_stage(self, stage: Stage, *, now=None) -> None:
        if stage.pk == self.stage_id:
            return
        self.stage = stage
        self.stage_changed_at = now or timezone.now()
        self.save(update_fields=["stage", "stage_changed_at", "updated_at"])

    def snooze(self, until, reason: str) -> None:
        self.snoozed_until = until
        self.snooze_reason = reason
        self.save(update_fields=["snoozed_until", "snooze_reason", "updated_at"])

    def record_touch(self, at) -> None:
        """Move the idle clock forward; never backwards (imports may bring older activities)."""
        if self.last_activity_at is None or at > self.last_activity_at:
            self.last_activity_at = at
            self.save(update_fields=["last_activity_at", "updated_at"])


class ActivityQuerySet(TeamScopedQuerySet):
    team_path = "account__team"

    def meaningful(self):
        """Touches that reset a deal's idle clock."""
        return self.filter(kind__in=Activity.MEANINGFUL_KINDS)


class Activity(models.Model):
    """One touch on the customer timeline."""

    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        CALL = "call", "Call"
        MEETING = "meeting", "Meeting"
        NOTE = "note", "Note"
        SERVICE = "service", "Service interaction"
        LINKEDIN = "linkedin", "LinkedIn"
        WHATSAPP = "whatsapp", "WhatsApp"
        SMS = "sms", "SMS"

    class Direction(models.TextChoices):
        INBOUND = "in", "Inbound"
        OUTBOUND = "out", "Outbound"
        INTERNAL = "internal", "Internal"

    MEANINGFUL_KINDS = (Kind.EMAIL, Kind.CALL, Kind.MEETING, Kind.NOTE, Kind.LINKEDIN, Kind.WHATSAPP, Kind.SMS)

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="activities")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities")
    deal = models.ForeignKey(Deal, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    direction = models.CharField(max_length=10, choices=Direction.choices, default=Direction.OUTBOUND)
    occurred_at = models.DateTimeField(default=timezone.now)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    # Email fields.
    thread_id = models.CharField(max_length=200, blank=True)
    from_addr = models.CharField(max_length=254, blank=True)
    to_addr = models.CharField(max_length=254, blank=True)
    # Service interactions carry a sentiment from -1 (angry) to 1 (delighted).
    sentiment = models.FloatField(null=True, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ActivityQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        verbose_name_plural = "activities"
        indexes = [
            # Account timeline, newest first, keyset-paginated on (occurred_at, id).
            models.Index(fields=["account", "-occurred_at", "-id"], name="activity_account_timeline_idx"),
            # Last touch per deal and the deal's email threads for reply-speed signals.
            models.Index(fields=["deal", "occurred_at"], name="activity_deal_time_idx"),
            models.Index(fields=["thread_id", "occurred_at"], name="activity_thread_time_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "external_id"], condition=~Q(external_id=""), name="activity_unique_external_id"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.subject or self.body[:40]}"


class OrderQuerySet(TeamScopedQuerySet):
    team_path = "account__team"


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PAID = "paid", "Paid"
        SHIPPED = "shipped", "Shipped"
        IN_TRANSIT = "in_transit", "In transit"
        DELIVERED = "delivered", "Delivered"
        CANCELLED = "cancelled", "Cancelled"
        RETURNED = "returned", "Returned"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="orders")
    number = models.CharField(max_length=50)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="USD")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    tracking_status = models.CharField(max_length=200, blank=True)
    tracking_updated_at = models.DateTimeField(null=True, blank=True)
    placed_at = models.DateTimeField(default=timezone.now)

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-placed_at", "-pk"]
        indexes = [models.Index(fields=["account", "-placed_at"], name="order_account_placed_idx")]
        constraints = [models.UniqueConstraint(fields=["account", "number"], name="order_unique_number")]

    def __str__(self) -> str:
        return f"#{self.number}"


class AuditEventQuerySet(TeamScopedQuerySet):
    pass


class AuditEvent(models.Model):
    """Append-only record of a change made through the console or the API."""

    class Action(models.TextChoices):
        CREATE = "create", "Created"
        UPDATE = "update", "Updated"
        DELETE = "delete", "Deleted"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    team = models.ForeignKey(Team, null=True, on_delete=models.SET_NULL, related_name="+")
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events")
    action = models.CharField(max_length=10, choices=Action.choices)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    changes = models.JSONField(default=dict, help_text="{field: [before, after]}")
    via = models.CharField(max_length=20, default="console")

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["account", "-at"], name="audit_account_at_idx")]

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit events are append-only")


class ImportRunQuerySet(TeamScopedQuerySet):
    pass


class ImportRun(models.Model):
    """One file import (or dry run) through `crm.imports.run_import`: who, what, counts, the report."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        IMPORTED = "imported", "Imported"
        PARTIAL = "partial", "Imported, some rows rejected"
        REJECTED = "rejected", "Not imported: rows rejected (strict)"
        REFUSED = "refused", "Not imported: file refused"
        FAILED = "failed", "Not imported: the database refused the rows"
        UNDONE = "undone", "Undone"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="import_runs")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=100, help_text="Which importer, e.g. nudges.crm_events.")
    label = models.CharField(max_length=100, blank=True, help_text="The format's name as people know it.")
    file_names = models.JSONField(default=list, blank=True)
    dry_run = models.BooleanField(default=False)
    strict = models.BooleanField(default=False, help_text="All or nothing: one rejected row and nothing is written.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    rows = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    report = models.JSONField(
        default=dict, blank=True, help_text="{issues: [{file, line, column, reason}], notes, refused}"
    )
    rejected_rows = models.JSONField(
        default=list, blank=True, help_text="The rejected rows as read, for the CSV download."
    )
    undo = models.JSONField(
        default=dict, blank=True, help_text="What the importer needs to undo the run (rows created, values replaced)."
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ImportRunQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-pk"]
        # The console lists a team's runs newest first.
        indexes = [models.Index(fields=["team", "-started_at"], name="importrun_team_started_idx")]

    def __str__(self) -> str:
        return f"{self.label or self.kind} {self.started_at:%Y-%m-%d %H:%M}"

    def get_absolute_url(self) -> str:
        return reverse("crm:import_run_detail", args=[self.pk])

    # The report as the seed importers always showed it (commands, console, API).

    @property
    def failed(self) -> str:
        return self.report.get("refused", "")

    @property
    def notes(self) -> list[str]:
        return self.report.get("notes", [])

    @property
    def errors(self) -> list:
        from crm.imports import Issue

        return [Issue(**issue) for issue in self.report.get("issues", [])]

    @property
    def warnings(self) -> list:
        """Reported rows that were imported anyway (e.g. a customer with no activity row)."""
        from crm.imports import Issue

        return [Issue(**issue) for issue in self.report.get("warnings", [])]

    @property
    def files(self) -> list[dict]:
        """Per file of a multi-file run: {name, kind, rows, created, updated, unchanged, rejected}."""
        return self.report.get("files", [])

    @property
    def imported(self) -> int:
        return self.created + self.updated + self.unchanged

    @property
    def is_clean(self) -> bool:
        return self.status == self.Status.IMPORTED and not self.rejected

    def summary(self) -> str:
        name = self.label or self.kind
        if self.status in (self.Status.REFUSED, self.Status.FAILED):
            return f"{name}: not imported: {self.failed}"
        if self.status == self.Status.REJECTED:
            return f"{name}: not imported (strict): {self.rejected} of {self.rows} rows rejected"
        if self.status == self.Status.UNDONE:
            return f"{name}: undone {self.undone_at:%Y-%m-%d %H:%M} ({self.imported} rows had been imported)"
        text = (
            f"{name}: {self.imported} of {self.rows} imported "
            f"({self.created} new, {self.updated} updated, {self.unchanged} unchanged), {self.rejected} skipped"
        )
        return text + " (dry run: nothing written)" if self.dry_run else text

    def as_dict(self) -> dict:
        return {
            "id": self.pk,
            "kind": self.label or self.kind,
            "status": self.status,
            "dry_run": self.dry_run,
            "strict": self.strict,
            "rows": self.rows,
            "imported": self.imported,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "errors": self.report.get("issues", []),
            "warnings": self.report.get("warnings", []),
            "files": self.files,
            "notes": self.notes,
            "failed": self.failed,
            "undone_at": self.undone_at,
        }


class ImportSnapshot(models.Model):
    """A row as it was before an import changed it, so the run can be undone: written set-based by
    the streaming COPY path (crm/copyimport.py), where a JSON list on the run would not scale."""

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="snapshots")
    table_name = models.CharField(max_length=63)
    row_id = models.BigIntegerField()
    before = models.JSONField()

    class Meta:
        indexes = [models.Index(fields=["run", "table_name"], name="importsnapshot_run_table_idx")]

    def __str__(self) -> str:
        return f"{self.table_name} {self.row_id} before run {self.run_id}"
