"""Console of "Plan my pipeline": start a run over the deals you can see, watch it, read its plans.

Every fetch starts from `visible_to(request.user)`: another team's run answers 404. The run page's
progress panel polls while the run is queued or running and stops by itself (as the notifications
"Analyse & generate" run panel)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from crm.models import Team, is_manager
from nudges import plan_runs
from nudges.models import PlanRun
from nudges.plan_errors import PlanError
from nudges.plan_forms import PlanRunForm
from nudges.plan_views import _form_error


def _teams(request) -> list[Team]:
    teams = list(Team.objects.visible_to(request.user))
    if not teams:
        raise Http404("You are in no team.")
    return teams


def _form(request, teams, data=None) -> PlanRunForm:
    owners = None
    if is_manager(request.user):
        owners = get_user_model().objects.filter(teams__in=teams).distinct().order_by("username")
    return PlanRunForm(data, teams=teams, owners=owners)


def _index(request, form, status=200):
    runs = PlanRun.objects.visible_to(request.user).select_related("team", "started_by").defer("deal_ids")[:20]
    context = {"form": form, "runs": runs, "manager": is_manager(request.user)}
    return render(request, "nudges/planrun_list.html", context, status=status)


@require_GET
def run_list(request):
    return _index(request, _form(request, _teams(request)))


@require_POST
def run_start(request):
    teams = _teams(request)
    form = _form(request, teams, request.POST)
    if not form.is_valid():
        messages.error(request, f"Could not start: {_form_error(form)}")
        return _index(request, form, status=400)
    data = form.cleaned_data
    team = next(t for t in teams if t.slug == data["team"])
    try:
        choice = plan_runs.Choice(
            stage=data["stage"],
            owner=plan_runs.resolve_owner(data.get("owner"), team),
            stale_only=data["stale_only"],
            limit=data["limit"],
        )
        run = plan_runs.start_run(
            team=team, actor=request.user, choice=choice, campaign_context=data["campaign_context"]
        )
    except PlanError as exc:
        messages.error(request, f"Could not start: {exc.message}")
        return _index(request, form, status=409 if exc.code == "conflict" else 400)
    return redirect("nudges:plan_run_detail", pk=run.pk)


@require_GET
def run_detail(request, pk):
    run = get_object_or_404(PlanRun.objects.visible_to(request.user).select_related("team", "started_by"), pk=pk)
    context = {"run": run}
    if not run.active:
        page = Paginator(run.deal_ids, settings.CONSOLE_PAGE_SIZE).get_page(request.GET.get("page"))
        rows = plan_runs.results(
            run, offset=page.start_index() - 1 if run.deal_ids else 0, limit=page.paginator.per_page
        )
        context |= {"page": page, "rows": rows}
    if request.htmx:
        return render(request, "nudges/planrun_detail.html#run-panel", context)
    return render(request, "nudges/planrun_detail.html", context)
