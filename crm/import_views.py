"""Console pages of the import runs (crm/imports.py): a team's runs, one run's report, its rejected rows."""

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from crm.errors import ServiceError
from crm.import_undo import undo_blocker, undo_run
from crm.imports import rejected_rows_csv
from crm.models import ImportRun, Team, is_manager
from crm.validators import parse_id


@require_GET
def import_run_list(request):
    teams = Team.objects.visible_to(request.user)
    runs = ImportRun.objects.visible_to(request.user).select_related("team", "actor")
    team = None
    team_id = request.GET.get("team", "")
    if team_id:
        team = get_object_or_404(teams, pk=parse_id(team_id) or 0)
        runs = runs.filter(team=team)
    # Every column the list shows except the stored report and rows, which can be large.
    runs = runs.defer("report", "rejected_rows", "undo")
    page = Paginator(runs.order_by("-started_at", "-pk"), settings.CONSOLE_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "crm/importrun_list.html", {"page": page, "teams": teams, "team": team})


@require_GET
def import_run_detail(request, pk):
    run = get_object_or_404(ImportRun.objects.visible_to(request.user).select_related("team", "actor"), pk=pk)
    context = {"run": run}
    if is_manager(request.user) and not run.dry_run and run.status in (run.Status.IMPORTED, run.Status.PARTIAL):
        context["undo_blocker"] = undo_blocker(run)
        context["can_undo"] = not context["undo_blocker"]
    return render(request, "crm/importrun_detail.html", context)


@require_POST
def import_run_undo(request, pk):
    """Managers: undo a whole run (its format must support it; nothing newer may depend on it)."""
    run = get_object_or_404(ImportRun.objects.visible_to(request.user), pk=pk)
    if not is_manager(request.user):
        raise Http404("Managers only")
    try:
        undo_run(run, actor=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Import {run.pk} undone.")
    return redirect("crm:import_run_detail", pk=run.pk)


@require_GET
def import_run_rejected(request, pk):
    run = get_object_or_404(ImportRun.objects.visible_to(request.user), pk=pk)
    response = HttpResponse(rejected_rows_csv(run), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{run.pk}-rejected-rows.csv"'
    return response
