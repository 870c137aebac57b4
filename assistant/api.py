"""REST endpoints for the co-pilot: ask (JSON, or Server-Sent Events with `stream: true`),
conversations, ratings, playbook documents (managers upload), tool-cache statistics."""

from __future__ import annotations

from django.db.models import Count
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from assistant import cache, services, stream
from assistant.models import Conversation, Message, PlaybookDocument
from assistant.playbook import import_playbook
from assistant.serializers import (
    AssistantAskSerializer,
    AssistantCacheStatsSerializer,
    AssistantConversationDetailSerializer,
    AssistantConversationSerializer,
    AssistantMessageSerializer,
    AssistantPlaybookDetailSerializer,
    AssistantPlaybookSerializer,
    AssistantPlaybookUploadSerializer,
    AssistantRatingSerializer,
)
from crm.drf import sse_event_schema
from crm.models import Team, is_manager


class AskView(APIView):
    """Ask the co-pilot. The answer comes with its steps, citations and the checker's verdict; with
    `stream: true` the response is `text/event-stream` (events `step`, then `answer`)."""

    @extend_schema(
        request=AssistantAskSerializer,
        responses={
            201: AssistantMessageSerializer,
            (200, "text/event-stream"): OpenApiResponse(
                response=sse_event_schema("step", "answer", "error"),
                description="With `stream: true`: Server-Sent Events, `step` events then one `answer` event "
                "(or one `error`); each event's `data` is a JSON object.",
            ),
            400: OpenApiResponse(description="Empty, over-long or otherwise refused question."),
            404: OpenApiResponse(description="No such conversation of yours."),
        },
    )
    def post(self, request):
        payload = AssistantAskSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        conversation = None
        if payload.validated_data.get("conversation"):
            conversation = get_object_or_404(
                Conversation.objects.visible_to(request.user), pk=payload.validated_data["conversation"]
            )
        message = services.start_turn(
            user=request.user, question=payload.validated_data["question"], conversation=conversation
        )
        if payload.validated_data["stream"]:
            response = StreamingHttpResponse(stream.events(request.user, message.pk), content_type="text/event-stream")
            response["Cache-Control"] = "no-cache"
            return response
        message = services.answer(user=request.user, message=message)
        return Response(AssistantMessageSerializer(message).data, status=status.HTTP_201_CREATED)


class ConversationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Your conversations with the co-pilot, newest first; a conversation's detail holds its messages."""

    def get_queryset(self):
        qs = Conversation.objects.visible_to(self.request.user)
        if self.action == "retrieve":
            qs = qs.prefetch_related("messages__rating")
        return qs

    def get_serializer_class(self):
        return AssistantConversationDetailSerializer if self.action == "retrieve" else AssistantConversationSerializer


class MessageViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AssistantMessageSerializer

    def get_queryset(self):
        return Message.objects.visible_to(self.request.user).select_related("rating")

    @extend_schema(
        request=AssistantRatingSerializer,
        responses={200: AssistantMessageSerializer, 400: OpenApiResponse(description="Not a finished answer.")},
    )
    @action(detail=True, methods=["post"])
    def rating(self, request, pk=None):
        """Rate an answer helpful or not, with an optional reason (rating again replaces it)."""
        message = self.get_object()
        payload = AssistantRatingSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.rate(user=request.user, message=message, **payload.validated_data)
        message = self.get_queryset().get(pk=message.pk)
        return Response(AssistantMessageSerializer(message).data)


class PlaybookViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """The sales playbook documents of your teams. Managers upload a PDF, Markdown or text file; a
    title that exists is replaced (its passages swapped in one transaction)."""

    parser_classes = [MultiPartParser]  # the upload is a file: multipart only

    def get_queryset(self):
        qs = PlaybookDocument.objects.visible_to(self.request.user).annotate(passage_count=Count("passages"))
        if self.action == "retrieve":
            qs = qs.prefetch_related("passages")
        return qs

    def get_serializer_class(self):
        if self.action == "create":
            return AssistantPlaybookUploadSerializer
        return AssistantPlaybookDetailSerializer if self.action == "retrieve" else AssistantPlaybookSerializer

    @extend_schema(
        request={"multipart/form-data": AssistantPlaybookUploadSerializer},
        responses={
            201: AssistantPlaybookSerializer,
            400: OpenApiResponse(description="Unreadable file, with the reason."),
            404: OpenApiResponse(description="Not a team you manage."),
        },
    )
    def create(self, request, *args, **kwargs):
        payload = AssistantPlaybookUploadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        teams = Team.objects.visible_to(request.user) if is_manager(request.user) else Team.objects.none()
        team = get_object_or_404(teams, pk=payload.validated_data["team"])
        upload = payload.validated_data["file"]
        doc = import_playbook(
            team=team,
            data=upload.read(),
            file_name=upload.name,
            title=payload.validated_data["title"],
            actor=request.user,
        )
        doc = self.get_queryset().get(pk=doc.pk)
        return Response(AssistantPlaybookSerializer(doc).data, status=status.HTTP_201_CREATED)


class CacheStatsView(APIView):
    """Tool-cache statistics (hit rate, size, hits and misses), as the seed's sidebar shows them."""

    @extend_schema(responses=AssistantCacheStatsSerializer)
    def get(self, request):
        return Response(cache.stats())


urlpatterns = [
    path("assistant/ask/", AskView.as_view(), name="assistant-ask"),
    path("assistant/cache/", CacheStatsView.as_view(), name="assistant-cache"),
]


def register(router) -> None:
    router.register("assistant/conversations", ConversationViewSet, basename="assistant-conversation")
    router.register("assistant/messages", MessageViewSet, basename="assistant-message")
    router.register("assistant/playbooks", PlaybookViewSet, basename="assistant-playbook")
