from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.handlers.asgi import ASGIRequest
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.errors import ServiceError
from crm.models import Team, is_admin, is_manager
from nudges import importers, services, stream, tasks
from nudges.forms import ImportForm, NudgeActionForm, NudgeFilterForm, NudgeSettingsForm
from nudges.models import Nudge, NudgeSettings


def _open_nudges(request, form):
    nudges = (
        Nudge.objects.visible_to(request.user)
        .open()
        .select_related("deal", "deal__account", "deal__stage", "deal__owner", "deal__primary_contact")
    )
    if form.is_valid():
        data = form.cleaned_data
        if data["warning"]:
            nudges = nudges.with_warning(data["warning"])
        if data["stage"]:
            nudges = nudges.filter(deal__stage=data["stage"])
        if data["mine"]:
            nudges = nudges.filter(deal__owner=request.user)
    return nudges.order_by("-urgency", "pk")


@require_GET
def index(request):
    form = NudgeFilterForm(request.GET)
    page = Paginator(_open_nudges(request, form), settings.CONSOLE_PAGE_SIZE).get_page(request.GET.get("page"))
    last_id = max((n.pk for n in page.object_list), default=0)
    return render(
        request,
        "nudges/index.html",
        {"form": form, "page": page, "last_id": last_id, "action_form": NudgeActionForm()},
    )


@require_POST
def act(request, pk):
    nudge = get_object_or_404(Nudge.objects.visible_to(request.user).select_related("deal"), pk=pk)
    form = NudgeActionForm(request.POST)
    error = ""
    if form.is_valid():
        data = form.cleaned_data
        try:
            nudge = services.act_on_nudge(
                nudge=nudge,
                actor=request.user,
                action=data["action"],
                reason=data["reason"],
                until=data["until"],
                kind=data["kind"] or "note",
                note=data["note"],
            )
        except ServiceError as exc:
            error = exc.message
    else:
        error = "; ".join(e for errs in form.errors.values() for e in errs)
    if request.htmx:
        nudge.refresh_from_db()
        nudge = Nudge.objects.select_related(
            "deal", "deal__account", "deal__stage", "deal__owner", "deal__primary_contact"
        ).get(pk=nudge.pk)
        response = render(
            request, "nudges/index.html#nudge-card", {"nudge": nudge, "error": error, "action_form": form}
        )
        if error:
            response.status_code = 400
        return response
    if error:
        messages.error(request, f"Could not update the nudge: {error}")
    else:
        messages.success(request, f"Nudge for {nudge.deal.name}: {nudge.get_status_display().lower()}.")
    return redirect("nudges:index")


@require_POST
def scan(request):
    team_ids = stream.team_ids_for(request.user)
    chunks = tasks.scan_nudges(team_ids=team_ids)
    if request.htmx:
        return HttpResponse(status=204)
    messages.success(request, f"Scan started over {chunks} chunk(s) of deals.")
    return redirect("nudges:index")


async def stream_view(request):
    """Console stream: the login middleware has already turned anonymous users away."""
    user = await request.auser()
    return await _stream_response(request, user)


async def _stream_response(request, user):
    team_ids = await sync_to_async(stream.team_ids_for)(user)
    after = stream.parse_last_event_id(request)
    html = request.GET.get("html") == "1"
    iterator = (
        stream.aevents(team_ids, after, html=html)
        if isinstance(request, ASGIRequest)
        else stream.events(team_ids, after, html=html)
    )
    response = StreamingHttpResponse(iterator, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass events through as they come
    return response


@require_http_methods(["GET", "POST"])
def import_files(request):
    reports = []
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            options = {
                "team": data["team"],
                "actor": request.user,
                "dry_run": data["dry_run"],
                "strict": data["strict"],
            }
            for name, importer in (("crm_events", importers.import_crm_events), ("emails", importers.import_emails)):
                if data[name]:
                    reports.append(importer(data[name].read(), file_name=data[name].name, **options))
            status = 200 if all(not r.failed for r in reports) else 400
            return render(request, "nudges/import.html", {"form": form, "reports": reports}, status=status)
        return render(request, "nudges/import.html", {"form": form, "reports": reports}, status=400)
    form = ImportForm(user=request.user)
    return render(request, "nudges/import.html", {"form": form, "reports": reports})


GLOBAL_DEFAULT = "default"  # the `team` value of the global default's page


def _settings_scope(request, teams):
    """(team, the settings shown, may edit) for `?team=`: a team of the user's (its own row or the
    global default it inherits; managers edit), or `default`, the global default (admins only). A
    team the user is not in, a missing one and a non-id all answer 404."""
    raw = request.GET.get("team") or request.POST.get("team")
    if raw == GLOBAL_DEFAULT:
        if not is_admin(request.user):
            raise Http404("No such team.")
        return None, NudgeSettings.global_default(), True
    if raw and not str(raw).isdigit():
        raise Http404("No such team.")
    team = get_object_or_404(teams, pk=raw) if raw else teams.first()
    if team is None:
        return None, None, False
    return team, NudgeSettings.for_team(team.pk), is_manager(request.user)


@require_http_methods(["GET", "POST"])
def settings_view(request):
    teams = Team.objects.visible_to(request.user).order_by("name")
    try:
        team, obj, can_edit = _settings_scope(request, teams)
    except Http404:
        return render(request, "nudges/settings.html", {"teams": teams, "team": None}, status=404)
    is_global = obj is not None and team is None
    context = {"teams": teams, "team": team, "is_global": is_global, "can_admin": is_admin(request.user)}
    if obj is None:
        return render(request, "nudges/settings.html", context)
    back = f"{request.path}?team={team.pk if team else GLOBAL_DEFAULT}"
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only managers change warning settings.")
        if request.POST.get("action") == "reset" and team is not None:
            NudgeSettings.objects.filter(team=team).delete()
            messages.success(request, f"{team} uses the global default warning settings again.")
            return redirect(back)
        # A team that inherits gets its own row: the global default is never changed from a team's page.
        instance = obj if is_global or obj.team_id == team.pk else NudgeSettings(team=team)
        form = NudgeSettingsForm(request.POST, instance=instance)
        if form.is_valid():
            saved = form.save(commit=False)
            saved.updated_by = request.user
            saved.save()
            messages.success(request, f"Saved warning settings for {team or 'the global default'}.")
            return redirect(back)
    else:
        form = NudgeSettingsForm(instance=obj)
    if not can_edit:
        for field in form.fields.values():
            field.disabled = True
    context.update(form=form, can_edit=can_edit, settings_obj=obj, inherits=not is_global and obj.team_id is None)
    return render(request, "nudges/settings.html", context, status=400 if request.method == "POST" else 200)


def api_unauthorized():
    return JsonResponse({"detail": "Authentication credentials were not provided."}, status=401)
