"""Console pages for the support inbox. HTTP only: fetch visible rows, validate, call a service, render."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import prefetch_related_objects
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.errors import ServiceError
from crm.models import is_admin
from outbound import services as outbound
from tickets import cache, inbox, services
from tickets.forms import (
    EscalateForm,
    FollowUpForm,
    InboxFilterForm,
    NewTicketForm,
    RegenerateForm,
    ReplyForm,
    TicketUpdateForm,
    TopicAlertForm,
    TriageForm,
    WeightSetForm,
)
from tickets.models import Draft, EscalationNotice, Message, Ticket, WeightSet


def _form_errors(form) -> str:
    return "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())


def _prefetch_groups(user) -> None:
    # visible_to() asks is_admin(user), which reads the user's groups: load them once per request.
    prefetch_related_objects([user], "groups")


@require_GET
def inbox_view(request):
    """The smart inbox. Queries: session, user, groups, then one ticket query without an alert or
    three with one (see tickets/inbox.py); alert, boost and filter choices come from tickets.cache."""
    _prefetch_groups(request.user)
    teams, people = cache.filter_choices(request.user)
    form = InboxFilterForm(request.GET or None, teams=teams, people=people)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    alert = cache.active_alert(request.user)
    boosts = cache.topic_alert_boosts()
    try:
        page = inbox.page(
            request.user,
            status=data.get("status") or "open",
            channel=data.get("channel") or "",
            team_id=data.get("team"),
            assignee=data.get("assignee") or None,
            terms=alert["terms"] if alert else [],
            boost=boosts,
            limit=settings.TICKETS_PAGE_SIZE,
            cursor=data.get("cursor") or None,
        )
    except inbox.BadCursor as exc:
        messages.error(request, str(exc))
        return redirect("tickets:inbox")
    query = request.GET.copy()
    query.pop("cursor", None)
    context = {
        "form": form,
        "page": page,
        "alert": alert,
        "alert_form": TopicAlertForm(initial={"text": alert["text"] if alert else ""}),
        "filter_query": query.urlencode(),
        "refresh_seconds": settings.TICKETS_INBOX_REFRESH_SECONDS,
        "boost": _shown_boost(request.user, boosts, data.get("team")),
        "now": timezone.now(),
    }
    template = (
        "tickets/inbox.html#inbox-list"
        if request.htmx and request.htmx.target == "inbox-list"
        else "tickets/inbox.html"
    )
    return render(request, template, context)


def _shown_boost(user, boosts: dict, team_id) -> float | None:
    """The boost the alert summary states: None when the teams listed boost differently."""
    teams = [team_id] if team_id else inbox.visible_team_ids(user)
    values = {inbox.boost_of(boosts, t) for t in teams} or {boosts[None]}
    return values.pop() if len(values) == 1 else None


@require_POST
def alert_set(request):
    form = TopicAlertForm(request.POST)
    if form.is_valid():
        try:
            alert = services.set_topic_alert(
                user=request.user, text=form.cleaned_data["text"], expires_at=form.expires_at()
            )
            messages.success(request, f"Topic alert on: {', '.join(alert.terms)}.")
        except ServiceError as exc:
            messages.error(request, exc.message)
    else:
        messages.error(
            request, "Could not save the alert: " + "; ".join(e for errs in form.errors.values() for e in errs)
        )
    cache.forget_alert(request.user)
    return redirect("tickets:inbox")


@require_POST
def alert_clear(request):
    services.clear_topic_alert(user=request.user)
    cache.forget_alert(request.user)
    messages.success(request, "Topic alert cleared.")
    return redirect("tickets:inbox")


def _ticket(request, pk):
    return get_object_or_404(
        Ticket.objects.visible_to(request.user).select_related("account", "contact", "assignee", "team"), pk=pk
    )


def _draft_context(ticket):
    draft = Draft.objects.filter(ticket=ticket).select_related("previous").first()
    return {
        "ticket": ticket,
        "draft": draft,
        "regenerate_form": RegenerateForm(),
        "reply_form": ReplyForm(
            initial={
                "body": draft.content if draft and draft.status == Draft.Status.READY else "",
                "idempotency_key": uuid.uuid4().hex,
                "draft": draft.pk if draft and draft.status == Draft.Status.READY else None,
            }
        ),
    }


@require_GET
def ticket_detail(request, pk):
    _prefetch_groups(request.user)
    ticket = _ticket(request, pk)
    now = timezone.now()
    alert = cache.active_alert(request.user)
    terms = alert["terms"] if alert else []
    boost = cache.topic_alert_boost(ticket.team_id)
    matches = bool(terms) and ticket.keywords.filter(keyword__in=terms).exists()
    similar, shared = services.similar_tickets(ticket=ticket)
    average = services.average_open_score(team_id=ticket.team_id)
    in_force = WeightSet.in_force(ticket.team_id)
    weights = in_force if ticket.weight_set_id in (None, in_force.pk) else (ticket.weight_set or in_force)
    context = {
        **_draft_context(ticket),
        "now": now,
        "conversation": ticket.messages.select_related("author", "delivery"),
        "account": ticket.account,
        "orders": ticket.account.orders.all()[:5],
        "order_count": ticket.account.orders.count(),
        "past_tickets": Ticket.objects.filter(account=ticket.account).exclude(pk=ticket.pk).order_by("-created_at")[:5],
        "similar": similar,
        "shared": shared,
        "components": ticket.stored_components(topic_alert=boost if matches else 0.0),
        "total": ticket.score + (boost if matches else 0.0),
        "matches_alert": matches,
        "average": average,
        "weights": weights,
        "weights_current": in_force,
        "triage_form": TriageForm(initial={f: getattr(ticket, f) for f in Ticket.TRIAGE_FIELDS}, auto_id="triage_%s"),
        "follow_up_form": FollowUpForm(),
        "escalate_form": EscalateForm(),
        "update_form": TicketUpdateForm(
            team_id=ticket.team_id,
            initial={
                "status": ticket.status,
                "priority": ticket.priority,
                "assignee": ticket.assignee_id,
                "resolution": ticket.resolution,
            },
        ),
        "events": ticket.events.select_related("actor")[:15],
    }
    return render(request, "tickets/ticket_detail.html", context)


@require_http_methods(["GET", "POST"])
def draft_panel(request, pk):
    """GET: the panel (polled every 2 s while pending); it never drafts (a prefetch must not spend model
    calls). POST: draft, or redraft with an optional instruction."""
    ticket = _ticket(request, pk)
    if request.method == "POST":
        form = RegenerateForm(request.POST)
        instruction = form.cleaned_data["instruction"] if form.is_valid() else ""
        services.request_draft(ticket=ticket, actor=request.user, instruction=instruction)
        if not request.htmx:
            return redirect(ticket)
    return render(request, "tickets/ticket_detail.html#draft-panel", _draft_context(ticket))


@require_POST
def reply(request, pk):
    ticket = _ticket(request, pk)
    form = ReplyForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The reply form was incomplete: reload the page and try again.")
        return redirect(ticket)
    draft = None
    if form.cleaned_data.get("draft"):
        draft = Draft.objects.filter(ticket=ticket, pk=form.cleaned_data["draft"]).first()
    try:
        message, created = services.send_reply(
            actor=request.user,
            ticket=ticket,
            body=form.cleaned_data["body"],
            idempotency_key=form.cleaned_data["idempotency_key"],
            draft=draft,
            resend=form.cleaned_data["resend"],
        )
    except ServiceError as exc:
        messages.error(request, "Not sent: " + exc.message)
        return redirect(ticket)
    if created:
        messages.success(request, "Reply queued for delivery.")
    else:
        messages.info(
            request,
            f"Already {services.sent_by(message)}: this reply was not sent twice. It reads: “{message.body[:300]}”",
        )
    return redirect(ticket)


@require_POST
def retry_delivery(request, pk):
    message = get_object_or_404(
        Message.objects.visible_to(request.user).select_related("delivery").exclude(delivery=None), delivery_id=pk
    )
    if outbound.retry_delivery(actor=request.user, delivery=message.delivery):
        messages.success(request, "Delivery queued again.")
    else:
        messages.error(request, "Only a failed delivery can be retried.")
    return redirect("tickets:detail", pk=message.ticket_id)


@require_POST
def triage_edit(request, pk):
    ticket = _ticket(request, pk)
    form = TriageForm(request.POST)
    if form.is_valid():
        try:
            services.edit_triage(actor=request.user, ticket=ticket, changes=form.changes(ticket))
            messages.success(request, "Triage saved; your values will not be overwritten automatically.")
        except ServiceError as exc:
            messages.error(request, exc.message)
    else:
        messages.error(request, "Triage not saved: " + _form_errors(form))
    return redirect(ticket)


@require_POST
def follow_up(request, pk):
    ticket = _ticket(request, pk)
    form = FollowUpForm(request.POST)
    if form.is_valid():
        at = timezone.now() + timedelta(days=form.cleaned_data["days"])
        services.set_follow_up(actor=request.user, ticket=ticket, at=at, note=form.cleaned_data["note"])
        messages.success(
            request, f"Follow-up set: back in the inbox on {at:%d %b %H:%M} if the customer has not replied."
        )
    else:
        messages.error(request, "Follow-up not set: choose 1 to 60 days.")
    return redirect(ticket)


@require_POST
def escalate(request, pk):
    ticket = _ticket(request, pk)
    form = EscalateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason for the escalation.")
    elif services.escalate(ticket=ticket, actor=request.user, reason=form.cleaned_data["reason"]):
        messages.success(request, "Escalated: the team's managers have been notified.")
    else:
        messages.info(request, "This ticket was already escalated.")
    return redirect(ticket)


@require_POST
def update(request, pk):
    ticket = _ticket(request, pk)
    form = TicketUpdateForm(request.POST, team_id=ticket.team_id)
    if form.is_valid():
        try:
            services.update_ticket(actor=request.user, ticket=ticket, changes=form.cleaned_data)
            messages.success(request, "Ticket updated.")
        except ServiceError as exc:
            messages.error(request, exc.message)
    else:
        messages.error(request, "Not updated: " + _form_errors(form))
    return redirect(ticket)


@require_http_methods(["GET", "POST"])
def ticket_new(request):
    form = NewTicketForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            ticket = services.create_ticket(
                actor=request.user,
                account=data["account"],
                contact=data["contact"],
                channel=data["channel"],
                priority=data["priority"],
                subject=data["subject"],
                body=data["body"],
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Ticket created.")
            return redirect(ticket)
    return render(request, "tickets/ticket_new.html", {"form": form})


def _weights_scope(request, managed):
    """The team whose weights the page shows (`?team=`), None for the global default. A team the
    user does not manage, a missing one and a non-id all answer 404."""
    raw = request.POST.get("team") if request.method == "POST" else request.GET.get("team")
    if raw in (None, ""):
        return None
    if not str(raw).isdigit():
        raise Http404("No such team.")
    return get_object_or_404(managed, pk=raw)


@require_http_methods(["GET", "POST"])
def weights(request):
    """The global default (admins edit it) and each managed team's own weights (its managers)."""
    managed = services.teams_managed_by(request.user)
    team = _weights_scope(request, managed)
    can_edit = is_admin(request.user) if team is None else True
    current = WeightSet.in_force(team.pk if team else None)
    back = f"{reverse('tickets:weights')}?team={team.pk}" if team else reverse("tickets:weights")
    if request.method == "POST" and request.POST.get("action") == "reset":
        if team is None:
            raise Http404("Only a team's weights can be reset.")
        if services.reset_team_weights(actor=request.user, team=team):
            messages.success(request, f"{team} uses the global default again (its versions stay in the history).")
        else:
            messages.info(request, f"{team} already uses the global default.")
        return redirect(back)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only admins change the global default weights.")
        form = WeightSetForm(request.POST)
        if form.is_valid():
            ws = services.create_weight_set(
                actor=request.user,
                team=team,
                values={f: form.cleaned_data[f] for f in WeightSet.FIELDS},
                note=form.cleaned_data["note"],
            )
            messages.success(request, f"{ws.scope_label}: weights v{ws.version} in force; open tickets rescored.")
            return redirect(back)
    else:
        form = WeightSetForm(initial={f: getattr(current, f) for f in WeightSet.FIELDS})
    versions = WeightSet.objects.filter(team=team) if team else WeightSet.objects.global_default()
    next_version = (versions.order_by("-version").values_list("version", flat=True).first() or 0) + 1
    return render(
        request,
        "tickets/weights.html",
        {
            "form": form,
            "team": team,
            "teams": managed.order_by("name"),
            "current": current,
            "inherits": team is not None and current.team_id is None,
            "next_version": next_version,
            "versions": versions.select_related("created_by")[:20],
            "can_edit": can_edit,
        },
        status=400 if request.method == "POST" else 200,
    )


@require_http_methods(["GET", "POST"])
def notices(request):
    qs = EscalationNotice.objects.filter(recipient=request.user).select_related("ticket")
    if request.method == "POST":
        qs.unread().update(read_at=timezone.now())
        return redirect("tickets:notices")
    return render(request, "tickets/notices.html", {"notices": qs[:50]})
