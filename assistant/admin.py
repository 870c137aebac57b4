from django.contrib import admin

from assistant.models import Conversation, Message, Passage, PlaybookDocument, Rating


class PassageInline(admin.TabularInline):
    model = Passage
    fields = ["ordinal", "heading", "page", "text"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(PlaybookDocument)
class PlaybookDocumentAdmin(admin.ModelAdmin):
    list_display = ["title", "team", "kind", "pages", "imported_at", "uploaded_by"]
    list_filter = ["team", "kind"]
    readonly_fields = ["sha256", "imported_at"]
    inlines = [PassageInline]


class MessageInline(admin.StackedInline):
    model = Message
    fields = ["role", "status", "text", "citations", "verdict", "retries", "support_missing", "offline"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["title", "user", "updated_at"]
    search_fields = ["title", "user__username"]
    inlines = [MessageInline]


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ["message", "user", "helpful", "reason", "rated_at"]
    list_filter = ["helpful"]
