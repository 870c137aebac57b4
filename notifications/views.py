from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Avg, Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

import llm
from crm import import_undo as undoing
from crm.models import Activity, ImportRun, Team, is_manager
from notifications import charts, importing, runs, services
from notifications.errors import ServiceError
from notifications.forms import DraftForm, FilterForm, ImportForm, SettingsForm
from notifications.models import (
    AnalysisRun,
    CustomerRecord,
    Notification,
    NotificationSettings,
    PastNotification,
    RecommendedAction,
)

PAGE_SIZE = 20  # cards per page: two columns of ten


def _team(request) -> Team:
    """The team the page is about: ?team=slug, else the first visible team holding customers."""
    teams = Team.objects.visible_to(request.user)
    slug = request.GET.get("team") or request.POST.get("team")
    if slug:
        return get_object_or_404(teams, slug=slug)
    team = teams.filter(pk__in=CustomerRecord.objects.values("team_id")).first() or teams.first()
    if team is None:
        raise Http404("No team")
    return team


def _queue(request, team, form):
    qs = Notification.objects.visible_to(request.user).filter(team=team).open()
    if form.is_valid():
        qs = services.matching(qs, priority=form.cleaned_data["priority"], segment=form.cleaned_data["segment"])
    return qs


@require_GET
def index(request):
    team = _team(request)
    conf = NotificationSettings.for_team(team)
    form = FilterForm(request.GET)
    qs = _queue(request, team, form)
    stats = (
        Notification.objects.filter(team=team)
        .open()
        .aggregate(
            total=Count("pk"),
            critical=Count("pk", filter=Q(priority="High")),
            important=Count("pk", filter=Q(priority="Medium")),
            routine=Count("pk", filter=Q(priority="Low")),
            avg_risk=Avg("risk_score"),
        )
    )
    by_segment = list(
        CustomerRecord.objects.filter(team=team)
        .values("segment")
        .annotate(avg=Avg("risk_score"), n=Count("pk"))
        .order_by("-avg")
    )
    page = Paginator(
        qs.select_related("record", "account").order_by("priority_rank", "-risk_score", "-risk_raw", "pk"), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/index.html",
        {
            "team": team,
            "teams": Team.objects.visible_to(request.user),
            "conf": conf,
            "form": form,
            "stats": stats,
            "segment_chart": charts.segment_bars(by_segment),
            "segments": [s["segment"] for s in by_segment],
            "check": conf.risk_check,
            "histogram": charts.histogram(conf.risk_check.get("histogram") or []),
            "page": page,
            "run": AnalysisRun.objects.filter(team=team).first(),
            "offline": llm.provider_name() == "offline",
            "draft_form": DraftForm(),
            "filters": request.GET.urlencode(),
            "can_import": is_manager(request.user),
        },
    )


@require_POST
def analyse(request):
    team = _team(request)
    conf = NotificationSettings.for_team(team)
    run = runs.start_analysis(
        team=team, segment=conf.focus_segment, actor=request.user, force_refresh=request.POST.get("force") == "1"
    )
    if request.htmx:
        return _run_panel(request, run)
    messages.success(request, f"Analysing {run.total} {run.segment} customers in the background.")
    return redirect(f"{reverse('notifications:index')}?team={team.slug}")


def _run_panel(request, run):
    done = (
        Notification.objects.filter(run=run).select_related("record").order_by("priority_rank", "-risk_score")[:12]
        if run
        else []
    )
    return render(request, "notifications/index.html#run-panel", {"run": run, "done_rows": done, "team": run.team})


@require_GET
def run_panel(request, pk):
    run = get_object_or_404(AnalysisRun.objects.visible_to(request.user).select_related("team"), pk=pk)
    return _run_panel(request, run)


def _notification(request, pk):
    return get_object_or_404(
        Notification.objects.visible_to(request.user).select_related("record", "account", "team"), pk=pk
    )


def _card(request, n, *, error="", form=None, status=200):
    context = {"n": n, "error": error, "draft_form": form or DraftForm(), "expanded": True, "team": n.team}
    return render(request, "notifications/index.html#notification-card", context, status=status)


@require_GET
def detail(request, pk):
    n = _notification(request, pk)
    return render(request, "notifications/notification_detail.html", {"n": n, "expanded": True, "team": n.team})


@require_POST
def save(request, pk):
    n = _notification(request, pk)
    form = DraftForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            n = services.save_draft(
                notification=n,
                subject=form.cleaned_data["subject"],
                message=form.cleaned_data["message"],
                actor=request.user,
            )
        except ServiceError as exc:
            error = str(exc)
    else:
        error = "; ".join(e for errs in form.errors.values() for e in errs)
    return _respond(request, n, error, "Draft saved.")


@require_POST
def send(request, pk):
    n = _notification(request, pk)
    form = DraftForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            n = services.send(
                notification=n,
                actor=request.user,
                subject=form.cleaned_data["subject"],
                message=form.cleaned_data["message"],
            )
        except ServiceError as exc:
            error = str(exc)
    else:
        error = "; ".join(e for errs in form.errors.values() for e in errs)
    return _respond(request, n, error, "Sent.")


def _respond(request, n, error, ok):
    n = _notification(request, n.pk)
    if request.htmx:
        return _card(request, n, error=error, status=400 if error else 200)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, ok)
    return redirect(n.get_absolute_url())


@require_POST
def approve(request):
    team = _team(request)
    qs = Notification.objects.visible_to(request.user).filter(team=team)
    if request.POST.get("all_matching") == "1":
        form = FilterForm(request.POST)
        qs = _queue(request, team, form)
    else:
        ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
        if not ids:
            messages.error(request, "Select at least one notification, or approve every one matching the filter.")
            return redirect(f"{reverse('notifications:index')}?team={team.slug}")
        qs = qs.filter(pk__in=ids)
    approved, refused = services.approve(notifications=qs, actor=request.user)
    return render(
        request,
        "notifications/approve_result.html",
        {"team": team, "approved": approved, "refused": refused},
        status=200,
    )


@require_GET
def export(request):
    team = _team(request)
    body, _ = services.export_csv(team, Notification.objects.visible_to(request.user).filter(team=team))
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="notifications-{team.slug}.csv"'
    return response


@require_GET
def record(request, kind, ref):
    """The record a trigger factor points at, so an agent can see the data point itself."""
    team = _team(request)
    customer = None
    item = None
    if kind in ("activity", "profile"):
        customer = get_object_or_404(CustomerRecord.objects.visible_to(request.user).filter(team=team), customer_id=ref)
    elif kind == "interaction":
        item = get_object_or_404(
            Activity.objects.visible_to(request.user).filter(account__team=team, kind="service"), external_id=ref
        )
    elif kind == "notification":
        item = get_object_or_404(PastNotification.objects.visible_to(request.user).filter(team=team), external_id=ref)
    elif kind == "action":
        item = get_object_or_404(RecommendedAction.objects.visible_to(request.user).filter(team=team), external_id=ref)
    else:
        raise Http404("Unknown record kind")
    if customer is None:
        customer = CustomerRecord.objects.filter(account_id=item.account_id).first()
    return render(
        request,
        "notifications/record.html",
        {"kind": kind, "ref": ref, "customer": customer, "item": item, "team": team},
    )


def _manager_team(request):
    if not is_manager(request.user):
        raise Http404("Managers only")
    return _team(request)


@require_http_methods(["GET", "POST"])
def import_files(request):
    team = _manager_team(request)
    form = ImportForm(request.POST or None, request.FILES or None)
    run = None
    status = 200
    if request.method == "POST" and form.is_valid():
        files = [(f.name, f.read()) for f in form.cleaned_data["files"]]
        if not files:
            form.add_error("files", "Choose the files to import.")
            status = 400
        else:
            run = importing.import_customers(
                files,
                team=team,
                actor=request.user,
                dry_run=form.cleaned_data["dry_run"],
                strict=form.cleaned_data["strict"],
            )
            status = 400 if run.status in NOT_IMPORTED else 200
    recent = (
        ImportRun.objects.visible_to(request.user)
        .filter(team=team, kind=importing.KIND)
        .defer("report", "rejected_rows", "undo")[:10]
    )
    return render(
        request,
        "notifications/import.html",
        {"team": team, "form": form, "run": run, "recent": recent, "undo_blocker": _undo_blocker(run)},
        status=status,
    )


NOT_IMPORTED = (ImportRun.Status.REFUSED, ImportRun.Status.REJECTED, ImportRun.Status.FAILED)


def _undo_blocker(run) -> str:
    return undoing.undo_blocker(run) if run is not None else ""


def _import(request, pk):
    if not is_manager(request.user):
        raise Http404("Managers only")
    runs = ImportRun.objects.visible_to(request.user).filter(kind=importing.KIND).select_related("team", "actor")
    return get_object_or_404(runs, pk=pk)


@require_GET
def import_detail(request, pk):
    run = _import(request, pk)
    return render(
        request,
        "notifications/import.html",
        {"team": run.team, "form": ImportForm(), "run": run, "recent": [], "undo_blocker": _undo_blocker(run)},
    )


@require_GET
def import_rejected(request, pk):
    """The core's download (formula-safe CSV); this URL name stays for old links."""
    return redirect("crm:import_run_rejected", pk=_import(request, pk).pk)


@require_POST
def import_undo(request, pk):
    run = _import(request, pk)
    try:
        undoing.undo_run(run, actor=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Import {run.pk} undone.")
    return redirect("notifications:import_detail", pk=run.pk)


@require_http_methods(["GET", "POST"])
def settings_view(request):
    team = _team(request)
    conf = NotificationSettings.for_team(team)
    can_edit = is_manager(request.user)
    form = SettingsForm(request.POST or None, instance=conf)
    status = 200
    if request.method == "POST":
        if not can_edit:
            raise Http404("Managers only")
        if form.is_valid():
            form.save()
            changed = services.recompute_segments(team)
            messages.success(request, f"Saved. Segments and risk recomputed ({changed} customers changed).")
            return redirect(f"{reverse('notifications-settings')}?team={team.slug}")
        status = 400
    if not can_edit:
        for field in form.fields.values():
            field.disabled = True
    return render(
        request,
        "notifications/settings.html",
        {"team": team, "teams": Team.objects.visible_to(request.user), "form": form, "can_edit": can_edit},
        status=status,
    )
