"""REST endpoints for the support inbox, keeping the seed's paths and response shapes.

Plain paths under /api/ (no router): /api/tickets, /api/tickets/{id}/score-breakdown,
/api/ai/tickets/{id}/draft-response, /api/tickets/{id}/messages, and the rest below.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import prefetch_related_objects
from django.shortcuts import get_object_or_404
from django.urls import re_path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.drf import EMPTY_PARAMETER
from crm.validators import parse_id
from tickets import cache, inbox, rules, services
from tickets import serializers as s
from tickets.models import Draft, Message, Ticket, TopicAlert, WeightSet


class TicketMixin:
    def ticket(self, request, pk) -> Ticket:
        prefetch_related_objects([request.user], "groups")
        return get_object_or_404(
            Ticket.objects.visible_to(request.user).select_related("account", "contact", "weight_set"), pk=pk
        )


class TicketListView(TicketMixin, APIView):
    @extend_schema(
        parameters=[s.TicketListQuerySerializer],
        responses={200: s.TicketListSerializer, 400: OpenApiResponse(description="Invalid filter or cursor")},
        summary="Tickets in smart order",
        operation_id="tickets_list",
    )
    def get(self, request):
        prefetch_related_objects([request.user], "groups")
        query = s.TicketListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        if "topic_alerts" in q:
            parsed = rules.parse_alert_terms(q["topic_alerts"])
            if parsed.rejected:
                raise ValidationError({"topic_alerts": [f"Not usable as keywords: {', '.join(parsed.rejected)}."]})
            terms = parsed.terms
        else:
            terms = services.active_alert_terms(user=request.user)
        try:
            page = inbox.page(
                request.user,
                status=q["status"],
                channel=q.get("channel", ""),
                team_id=q.get("team"),
                assignee=q.get("assignee"),
                terms=terms,
                boost=cache.topic_alert_boost(),
                limit=q["limit"],
                cursor=q.get("cursor"),
            )
        except inbox.BadCursor as exc:
            raise ValidationError({"cursor": [str(exc)]}) from exc
        if q.get("page", page.number) != page.number:
            # A seed client asking for page=3 must not silently get page 1.
            raise ValidationError(
                {
                    "page": [
                        f"This request is page {page.number}. Pages are reached through the cursor: "
                        "follow pagination.next from the first page (no OFFSET, so deep pages stay fast)."
                    ]
                }
            )
        next_url = None
        if page.next_cursor:
            params = request.query_params.copy()
            params["cursor"] = page.next_cursor
            params.pop("page", None)  # the cursor carries the page number
            next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
        return Response(
            {
                "tickets": s.TicketSummarySerializer(page.tickets, many=True).data,
                "pagination": {
                    "page": page.number,
                    "limit": page.limit,
                    "next_cursor": page.next_cursor,
                    "next": next_url,
                    "has_next": page.has_next,
                    "has_prev": page.has_prev,
                    "total": None,
                },
                "topic_alerts_active": page.terms,
                "matches": page.matches,
            }
        )

    @extend_schema(
        request=s.TicketCreateSerializer,
        responses={201: s.TicketDetailSerializer},
        summary="Open a ticket",
        operation_id="tickets_create",
    )
    def post(self, request):
        payload = s.TicketCreateSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        d = payload.validated_data
        ticket = services.create_ticket(
            actor=request.user,
            account=d["account"],
            contact=d.get("contact"),
            channel=d["channel"],
            priority=d["priority"],
            subject=d["subject"],
            body=d["body"],
            assignee=d.get("assignee"),
            via="api",
        )
        ticket.refresh_from_db()
        return Response(s.TicketDetailSerializer(ticket).data, status=status.HTTP_201_CREATED)


class TicketDetailView(TicketMixin, APIView):
    @extend_schema(responses=s.TicketDetailSerializer, summary="One ticket", operation_id="tickets_detail")
    def get(self, request, pk):
        return Response(s.TicketDetailSerializer(self.ticket(request, pk)).data)

    @extend_schema(
        request=s.TicketUpdateSerializer,
        responses=s.TicketDetailSerializer,
        summary="Update a ticket",
        operation_id="tickets_update",
    )
    def patch(self, request, pk):
        ticket = self.ticket(request, pk)
        payload = s.TicketUpdateSerializer(data=request.data, partial=True, context={"ticket": ticket})
        payload.is_valid(raise_exception=True)
        ticket = services.update_ticket(actor=request.user, ticket=ticket, changes=payload.validated_data, via="api")
        return Response(s.TicketDetailSerializer(ticket).data)


class ScoreBreakdownView(TicketMixin, APIView):
    @extend_schema(
        parameters=[OpenApiParameter("topic_alerts", OpenApiTypes.STR, required=False)],
        responses=s.ScoreBreakdownSerializer,
        summary="Why this ticket has its score",
        operation_id="tickets_score_breakdown",
    )
    def get(self, request, pk):
        ticket = self.ticket(request, pk)
        if "topic_alerts" in request.query_params:
            terms = rules.parse_alert_terms(request.query_params["topic_alerts"][:500]).terms
        else:
            terms = services.active_alert_terms(user=request.user)
        matches = bool(terms) and ticket.keywords.filter(keyword__in=terms).exists()
        # The ticket's team's weights: its own newest set, else the global default.
        current = WeightSet.in_force(ticket.team_id)
        weights = current if ticket.weight_set_id in (None, current.pk) else (ticket.weight_set or current)
        data = s.breakdown(
            ticket,
            matches=matches,
            boost=current.topic_alert_boost,
            weights=weights,
            average=services.average_open_score(team_id=ticket.team_id),
        )
        return Response(data)


class TriageView(TicketMixin, APIView):
    @extend_schema(
        request=s.TriageEditSerializer,
        responses=s.TicketDetailSerializer,
        summary="Edit triage (agent wins)",
        operation_id="tickets_triage_edit",
    )
    def patch(self, request, pk):
        ticket = self.ticket(request, pk)
        payload = s.TriageEditSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        ticket = services.edit_triage(actor=request.user, ticket=ticket, changes=payload.validated_data, via="api")
        return Response(s.TicketDetailSerializer(ticket).data)


class MessagesView(TicketMixin, APIView):
    @extend_schema(
        responses=s.MessageSerializer(many=True), summary="The conversation", operation_id="tickets_messages_list"
    )
    def get(self, request, pk):
        ticket = self.ticket(request, pk)
        rows = ticket.messages.select_related("delivery").order_by("created_at", "id")[:500]
        return Response(s.MessageSerializer(rows, many=True).data)

    @extend_schema(
        request=s.ReplySerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=False,
                description=(
                    "Stripe-style: a request repeated with the same key (a retry after a timeout) returns the "
                    "message the first one created, with 200, and sends nothing more. Keys are kept per ticket."
                ),
            )
        ],
        responses={
            201: s.MessageSerializer,
            200: OpenApiResponse(
                s.MessageSerializer,
                description="Nothing sent: the same Idempotency-Key, or this draft, was already sent as this message",
            ),
            400: OpenApiResponse(description="Empty, too long, or no address for the ticket's channel"),
            409: OpenApiResponse(
                description="The same body went to this ticket within the duplicate window: send with resend=true"
            ),
        },
        summary="Send an agent reply (exactly once, or refused as a duplicate)",
        description=(
            "A reply is sent at most once: the same Idempotency-Key or the same draft returns the first "
            "message (200). Without a key, the same body to the same ticket within "
            "TICKETS_REPLY_DUPLICATE_WINDOW_MINUTES (10) is refused with 409 unless `resend` is true. "
            "Delivery is asynchronous: the message's `delivery` shows queued, sent, failed or uncertain."
        ),
        operation_id="tickets_messages_send",
    )
    def post(self, request, pk):
        ticket = self.ticket(request, pk)
        payload = s.ReplySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        key = request.headers.get("Idempotency-Key", "")[:200]
        draft = None
        if payload.validated_data.get("draft"):
            draft = Draft.objects.filter(ticket=ticket, pk=payload.validated_data["draft"]).first()
        message, created = services.send_reply(
            actor=request.user,
            ticket=ticket,
            body=payload.validated_data["body"],
            idempotency_key=key,
            draft=draft,
            via="api",
            resend=payload.validated_data["resend"],
        )
        message = Message.objects.select_related("delivery").get(pk=message.pk)
        return Response(s.MessageSerializer(message).data, status=201 if created else 200)


class DraftResponseView(TicketMixin, APIView):
    @extend_schema(
        responses={
            200: s.DraftResponseSerializer,
            202: s.DraftResponseSerializer,
            404: OpenApiResponse(description="No such ticket in your teams, or no draft yet (POST drafts one)"),
        },
        summary="The current reply draft (202 while it is being generated)",
        description="Reading never drafts: a GET creates nothing and calls no model. POST to draft or redraft.",
        operation_id="tickets_draft_response",
    )
    def get(self, request, pk):
        ticket = self.ticket(request, pk)
        draft = Draft.objects.filter(ticket=ticket).first()
        if draft is None:
            # A crawler or a link prefetch must not spend model calls: drafting is a POST.
            return Response({"detail": "No draft yet: POST to this URL to draft a reply."}, status=404)
        code = 202 if draft.status == Draft.Status.PENDING else 200
        return Response(s.DraftResponseSerializer(draft).data, status=code)

    @extend_schema(
        request=s.RegenerateSerializer,
        responses={202: s.DraftResponseSerializer, 200: s.DraftResponseSerializer},
        summary="Regenerate the draft with an optional instruction",
        operation_id="tickets_draft_regenerate",
    )
    def post(self, request, pk):
        ticket = self.ticket(request, pk)
        payload = s.RegenerateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        draft = services.request_draft(
            ticket=ticket, actor=request.user, instruction=payload.validated_data.get("instruction", "")
        )
        draft.refresh_from_db()
        return Response(
            s.DraftResponseSerializer(draft).data, status=202 if draft.status == Draft.Status.PENDING else 200
        )


class EscalateView(TicketMixin, APIView):
    @extend_schema(
        request=s.EscalateSerializer,
        responses=s.TicketDetailSerializer,
        summary="Escalate to the managers",
        operation_id="tickets_escalate",
    )
    def post(self, request, pk):
        ticket = self.ticket(request, pk)
        payload = s.EscalateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.escalate(ticket=ticket, actor=request.user, reason=payload.validated_data["reason"])
        ticket.refresh_from_db()
        return Response(s.TicketDetailSerializer(ticket).data)


class FollowUpView(TicketMixin, APIView):
    @extend_schema(
        request=s.FollowUpSerializer,
        responses=s.TicketDetailSerializer,
        summary="Resurface if no reply",
        operation_id="tickets_follow_up",
    )
    def post(self, request, pk):
        ticket = self.ticket(request, pk)
        payload = s.FollowUpSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        d = payload.validated_data
        at = d.get("follow_up_at") or timezone.now() + timedelta(days=d["days"])
        ticket = services.set_follow_up(actor=request.user, ticket=ticket, at=at, note=d.get("note", ""))
        return Response(s.TicketDetailSerializer(ticket).data)


class InboundView(APIView):
    @extend_schema(
        request=s.InboundSerializer,
        responses={201: s.InboundResultSerializer, 200: s.InboundResultSerializer, 422: s.InboundResultSerializer},
        summary="Integrations deliver a customer message (appends to the open ticket or opens one)",
        operation_id="tickets_inbound",
    )
    def post(self, request):
        payload = s.InboundSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        d = payload.validated_data
        try:
            outcome = services.receive_inbound(
                team=d["team"],
                channel=d["channel"],
                sender=d["sender"],
                sender_name=d.get("name", ""),
                subject=d.get("subject", ""),
                body=d["body"],
                external_id=d.get("external_id", ""),
            )
        except services.InboundRejected as exc:
            r = exc.record
            return Response(
                {
                    "inbound_id": r.pk,
                    "status": r.status,
                    "reason": r.reason,
                    "ticket_id": None,
                    "message_id": None,
                    "created_ticket": False,
                },
                status=422,
            )
        r = outcome.record
        return Response(
            {
                "inbound_id": r.pk,
                "status": r.status,
                "reason": r.reason,
                "ticket_id": r.ticket_id,
                "message_id": r.message_id,
                "created_ticket": outcome.created_ticket,
            },
            status=201 if r.status == "accepted" else 200,
        )


class TopicAlertView(APIView):
    @extend_schema(
        responses=inline_serializer("ActiveTopicAlert", {"active": s.TopicAlertSerializer(allow_null=True)}),
        summary="Your active topic alert",
        operation_id="topic_alerts_get",
    )
    def get(self, request):
        alert = TopicAlert.objects.active().filter(user=request.user).first()
        return Response({"active": s.TopicAlertSerializer(alert).data if alert else None})

    @extend_schema(
        request=s.TopicAlertCreateSerializer,
        responses={201: s.TopicAlertSerializer},
        summary="Set your alert",
        operation_id="topic_alerts_set",
    )
    def post(self, request):
        payload = s.TopicAlertCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        alert = services.set_topic_alert(
            user=request.user,
            text=payload.validated_data["text"],
            expires_at=payload.validated_data.get("expires_at"),
        )
        cache.forget_alert(request.user)
        return Response(s.TopicAlertSerializer(alert).data, status=201)

    @extend_schema(request=None, responses={204: None}, summary="Clear your alert", operation_id="topic_alerts_clear")
    def delete(self, request):
        services.clear_topic_alert(user=request.user)
        cache.forget_alert(request.user)
        return Response(status=204)


class WeightsView(APIView):
    """The global default (`team` empty; admins change it) and each team's own weights (its
    managers change them). A team the caller does not manage answers 404 like a missing one."""

    def _team(self, request, raw):
        if raw in (None, ""):
            return None
        team_id = parse_id(raw)
        if team_id is None:
            raise NotFound("No such team.")
        return get_object_or_404(services.teams_managed_by(request.user), pk=team_id)

    @extend_schema(
        parameters=[OpenApiParameter("team", OpenApiTypes.INT, required=False, description="a team you manage")],
        responses=s.WeightSetSerializer(many=True),
        summary="Scoring weight versions, newest first (the global default, or one team's own)",
        operation_id="scoring_weights_list",
    )
    def get(self, request):
        raw = request.query_params.get("team")
        if raw == "":
            raise ValidationError({"team": [EMPTY_PARAMETER]})  # the schema says an integer
        team = self._team(request, raw)
        WeightSet.current()
        rows = WeightSet.objects.filter(team=team) if team else WeightSet.objects.global_default()
        return Response(s.WeightSetSerializer(rows[:50], many=True).data)

    @extend_schema(
        request=s.WeightSetSerializer,
        responses={201: s.WeightSetSerializer},
        summary="New weights: for a team you manage, or the global default (admins)",
        operation_id="scoring_weights_create",
    )
    def post(self, request):
        payload = s.WeightSetSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        d = payload.validated_data
        team = self._team(request, d.get("team_id"))
        ws = services.create_weight_set(
            actor=request.user, team=team, values={f: d[f] for f in WeightSet.FIELDS}, note=d.get("note", "")
        )
        return Response(s.WeightSetSerializer(ws).data, status=201)


class WeightsResetView(APIView):
    @extend_schema(
        request=None,
        responses={204: None},
        summary="A team you manage goes back to the global default weights",
        operation_id="scoring_weights_reset",
    )
    def post(self, request, team_id):
        team = get_object_or_404(services.teams_managed_by(request.user), pk=team_id)
        services.reset_team_weights(actor=request.user, team=team)
        return Response(status=204)


urlpatterns = [
    re_path(r"^tickets/?$", TicketListView.as_view(), name="tickets-list"),
    re_path(r"^tickets/(?P<pk>\d+)/?$", TicketDetailView.as_view(), name="tickets-detail"),
    re_path(r"^tickets/(?P<pk>\d+)/score-breakdown/?$", ScoreBreakdownView.as_view(), name="tickets-score-breakdown"),
    re_path(r"^tickets/(?P<pk>\d+)/triage/?$", TriageView.as_view(), name="tickets-triage"),
    re_path(r"^tickets/(?P<pk>\d+)/messages/?$", MessagesView.as_view(), name="tickets-messages"),
    re_path(r"^tickets/(?P<pk>\d+)/escalate/?$", EscalateView.as_view(), name="tickets-escalate"),
    re_path(r"^tickets/(?P<pk>\d+)/follow-up/?$", FollowUpView.as_view(), name="tickets-follow-up"),
    re_path(r"^ai/tickets/(?P<pk>\d+)/draft-response/?$", DraftResponseView.as_view(), name="tickets-draft-response"),
    re_path(r"^inbound/messages/?$", InboundView.as_view(), name="tickets-inbound"),
    re_path(r"^topic-alerts/?$", TopicAlertView.as_view(), name="tickets-topic-alerts"),
    re_path(r"^scoring-weights/?$", WeightsView.as_view(), name="tickets-weights"),
    re_path(
        r"^scoring-weights/teams/(?P<team_id>\d+)/reset/?$", WeightsResetView.as_view(), name="tickets-weights-reset"
    ),
]


def register(router) -> None:
    """Plain paths only (see urlpatterns): the seed's shapes are not router-shaped."""
