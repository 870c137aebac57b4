"""The co-pilot's console pages: the chat with its sidebar, the answer stream, ratings, and the
playbook (managers upload; everyone on the team reads the passages an answer cites)."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from assistant import cache, services, stream
from assistant.forms import AskForm, PlaybookForm, RateForm
from assistant.models import Conversation, Message, PlaybookDocument
from assistant.playbook import import_playbook
from crm.errors import ServiceError
from crm.models import Team, is_manager


def _sidebar(user) -> dict:
    return {
        "conversations": Conversation.objects.visible_to(user)[:20],
        "cache_stats": cache.stats(),
    }


@require_GET
def index(request):
    return render(
        request,
        "assistant/index.html",
        {"form": AskForm(), "conversation": None, "turns": [], **_sidebar(request.user)},
    )


@require_GET
def conversation_view(request, pk: int):
    conversation = get_object_or_404(Conversation.objects.visible_to(request.user), pk=pk)
    turns = list(conversation.messages.select_related("rating").order_by("id"))
    return render(
        request,
        "assistant/index.html",
        {"form": AskForm(), "conversation": conversation, "turns": turns, **_sidebar(request.user)},
    )


@require_POST
def ask(request, pk: int | None = None):
    """Without JavaScript the answer is computed here and the page reloads; with it (htmx), the
    question is stored, the turn is returned at once and its answer streams in."""
    conversation = None
    if pk is not None:
        conversation = get_object_or_404(Conversation.objects.visible_to(request.user), pk=pk)
    form = AskForm(request.POST)
    try:
        if not form.is_valid():
            raise ServiceError("Ask a question first.", field="question")
        message = services.start_turn(
            user=request.user, question=form.cleaned_data["question"], conversation=conversation
        )
    except ServiceError as exc:
        if request.htmx:
            return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
        messages.error(request, exc.message)
        return redirect(conversation.get_absolute_url() if conversation else reverse("assistant:index"))
    if request.htmx:
        question = message.conversation.messages.filter(role=Message.Role.USER).order_by("-id").first()
        # A new conversation: the form is swapped out of band so the next question continues it.
        context = {
            "q": question,
            "m": message,
            "conversation": message.conversation,
            "form": AskForm(),
            "oob": conversation is None,
        }
        response = render(request, "assistant/index.html#turn", context)
        response["HX-Push-Url"] = message.conversation.get_absolute_url()
        return response
    services.answer(user=request.user, message=message)
    return redirect(message.conversation.get_absolute_url() + f"#message-{message.pk}")


async def answer_stream(request, pk: int):
    user = await request.auser()
    exists = await sync_to_async(Message.objects.visible_to(user).filter(pk=pk, role=Message.Role.ASSISTANT).exists)()
    if not exists:
        raise Http404
    iterator = stream.aevents(user, pk) if isinstance(request, ASGIRequest) else stream.events(user, pk)
    response = StreamingHttpResponse(iterator, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


@require_POST
def rate(request, pk: int):
    message = get_object_or_404(Message.objects.visible_to(request.user), pk=pk)
    form = RateForm(request.POST)
    if form.is_valid():
        try:
            services.rate(
                user=request.user,
                message=message,
                helpful=form.cleaned_data["helpful"],
                reason=form.cleaned_data["reason"],
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
    else:
        messages.error(request, "Choose helpful or not helpful.")
    message.refresh_from_db()
    if request.htmx:
        return render(request, "assistant/index.html#rating", {"m": message})
    return redirect(message.conversation.get_absolute_url() + f"#message-{message.pk}")


@require_GET
def cache_stats(request):
    return JsonResponse(cache.stats())


def _manager_teams(user):
    return Team.objects.visible_to(user) if is_manager(user) else Team.objects.none()


def playbook_list(request):
    """Settings → Assistant: the team's playbooks; managers upload and replace them."""
    docs = PlaybookDocument.objects.visible_to(request.user).select_related("team", "uploaded_by")
    teams = _manager_teams(request.user)
    form = None
    if teams.exists():
        form = PlaybookForm(request.POST or None, request.FILES or None, teams=teams)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                doc = import_playbook(
                    team=form.cleaned_data["team"],
                    data=upload.read(),
                    file_name=upload.name,
                    title=form.cleaned_data["title"],
                    actor=request.user,
                )
            except ServiceError as exc:
                form.add_error("file", exc.message)
            else:
                messages.success(request, f"Imported “{doc.title}”: {doc.passages.count()} passages indexed.")
                return redirect(doc.get_absolute_url())
    elif request.method == "POST":
        raise Http404
    return render(request, "assistant/playbook_list.html", {"documents": docs, "form": form})


@require_GET
def playbook_detail(request, pk: int):
    doc = get_object_or_404(PlaybookDocument.objects.visible_to(request.user).select_related("team"), pk=pk)
    return render(request, "assistant/playbook_detail.html", {"doc": doc, "passages": doc.passages.all()})
