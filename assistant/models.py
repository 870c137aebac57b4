"""The sales co-pilot: the playbook it cites, and the conversations it has.

A playbook belongs to a team, like every customer-facing row; a conversation belongs to the user who
asked (nobody else reads another rep's questions). Each assistant message keeps what the answer
rests on: the steps taken, the tool calls, the citations, the checker's verdict and the retries, so
a rating can be turned into preference data later (`manage.py export_preferences`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from crm.models import Team, TeamScopedQuerySet


class PlaybookDocument(models.Model):
    class Kind(models.TextChoices):
        PDF = "pdf", "PDF"
        MARKDOWN = "markdown", "Markdown"
        TEXT = "text", "Text"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="playbooks")
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    file_name = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64)
    pages = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    imported_at = models.DateTimeField(default=timezone.now)

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["title"]
        constraints = [models.UniqueConstraint(fields=["team", "title"], name="playbook_unique_team_title")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("assistant:playbook_detail", args=[self.pk])


class PassageQuerySet(TeamScopedQuerySet):
    team_path = "document__team"


class Passage(models.Model):
    """One citable piece of a playbook: a section (Markdown heading) or a paragraph group of a page."""

    document = models.ForeignKey(PlaybookDocument, on_delete=models.CASCADE, related_name="passages")
    ordinal = models.PositiveIntegerField()
    heading = models.CharField(max_length=300, blank=True)
    page = models.PositiveIntegerField(null=True, blank=True)
    text = models.TextField()

    objects = PassageQuerySet.as_manager()

    class Meta:
        ordering = ["document", "ordinal"]
        constraints = [models.UniqueConstraint(fields=["document", "ordinal"], name="passage_unique_ordinal")]

    def __str__(self) -> str:
        return f"{self.document.title} · {self.heading or 'passage'} #{self.ordinal}"

    def get_absolute_url(self) -> str:
        return reverse("assistant:playbook_detail", args=[self.document_id]) + f"#passage-{self.pk}"

    @property
    def cite_label(self) -> str:
        where = f"p. {self.page}" if self.page else f"§{self.ordinal}"
        return f"{self.document.title} · {self.heading or 'passage'} · {where}"


class OwnedQuerySet(models.QuerySet):
    """Rows private to the user who asked: `owner_path` leads to that user."""

    owner_path = "user"

    def visible_to(self, user):
        if not user.is_authenticated:
            return self.none()
        return self.filter(**{self.owner_path: user})


class Conversation(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    title = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["user", "-updated_at"], name="conversation_user_recent_idx")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("assistant:conversation", args=[self.pk])


class MessageQuerySet(OwnedQuerySet):
    owner_path = "conversation__user"


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", "Question"
        ASSISTANT = "assistant", "Answer"

    class Status(models.TextChoices):
        PENDING = "pending", "Thinking"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=10, choices=Role.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DONE)
    text = models.TextField(blank=True)
    # [{"text": "...", "citations": ["F1"], "supported": true}], the answer as the checker left it.
    sentences = models.JSONField(default=list, blank=True)
    citations = models.JSONField(default=list, blank=True)  # [{"id", "kind", "label", "value", "url", "text"}]
    steps = models.JSONField(default=list, blank=True)  # [{"kind", "text", "at_ms"}]
    tool_calls = models.JSONField(default=list, blank=True)  # [{"tool", "args", "cached", "results"}]
    verdict = models.JSONField(default=dict, blank=True)  # the final check: {"ok", "problems": [...]}
    attempts = models.JSONField(default=list, blank=True)  # earlier answers the checker rejected
    retries = models.PositiveSmallIntegerField(default=0)
    support_missing = models.BooleanField(default=False)
    offline = models.BooleanField(default=False)
    provider = models.CharField(max_length=50, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["conversation", "id"]

    def __str__(self) -> str:
        return f"{self.role}: {self.text[:60]}"


class Rating(models.Model):
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="rating")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    helpful = models.BooleanField()
    reason = models.CharField(max_length=500, blank=True)
    rated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{'helpful' if self.helpful else 'not helpful'}: {self.message_id}"


class PassageEmbedding(models.Model):
    """A passage's all-MiniLM-L6-v2 embedding (384 float32, normalised), when the optional semantic
    search is installed (requirements-semantic.txt). Lexical search never needs it."""

    passage = models.OneToOneField(Passage, on_delete=models.CASCADE, primary_key=True, related_name="embedding")
    vector = models.BinaryField()

    def __str__(self) -> str:
        return f"embedding of passage {self.passage_id}"
