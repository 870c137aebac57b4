"""Settings → Action plans: the company context (edit, import/export, versions, rollback), learnings
waiting for approval (preview, accept, reject), prompt templates, cache statistics and the manager
statistics per action type and channel.

Team members read; managers change (403 otherwise). Another team's rows are 404."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.models import Team, is_manager
from nudges import context, feedback, plans
from nudges.models import ContextVersion, Learning, PromptTemplate
from nudges.plan_errors import PlanError
from nudges.plan_forms import ContextForm, ContextImportForm, TemplateForm
from nudges.plan_prompts import DEFAULT_TEMPLATE
from nudges.plan_views import _form_error


def _team(request) -> Team:
    teams = Team.objects.visible_to(request.user)
    team_id = request.GET.get("team") or request.POST.get("team")
    if team_id:
        if not str(team_id).isdigit():
            raise Http404("No such team")
        return get_object_or_404(teams, pk=team_id)
    team = teams.first()
    if team is None:
        raise Http404("You are not in a team")
    return team


def _manager(request) -> None:
    if not is_manager(request.user):
        raise PermissionDenied("Only managers change the company context, templates and learnings.")


def _back(team, anchor=""):
    return redirect(f"{reverse('plans:index')}?team={team.pk}{anchor}")


@require_GET
def index(request):
    team = _team(request)
    version = context.current(team.pk, actor=request.user)
    versions = ContextVersion.objects.filter(team=team).select_related("created_by", "feedback", "rolled_back_to")[:50]
    return render(
        request,
        "nudges/plan_settings.html",
        {
            "team": team,
            "teams": Team.objects.visible_to(request.user),
            "version": version,
            "sections": [(name, version.sections[name]) for name in context.ordered(version.sections)],
            "versions": versions,
            "learnings": Learning.objects.visible_to(request.user)
            .filter(team=team)
            .select_related("feedback", "feedback__created_by", "result_version")[:30],
            "templates": PromptTemplate.objects.filter(team=team),
            "stats": plans.cache_stats([team.pk]),
            "actions": feedback.action_stats([team.pk]),
            "can_edit": is_manager(request.user),
            "form": ContextForm(sections=version.sections, initial={"title": version.title}),
            "import_form": ContextImportForm(),
        },
    )


@require_POST
def context_save(request):
    team = _team(request)
    _manager(request)
    version = context.current(team.pk)
    form = ContextForm(request.POST, sections=version.sections)
    if not form.is_valid():
        messages.error(request, f"Not saved: {_form_error(form)}")
        return _back(team)
    new = context.save_sections(
        team_id=team.pk, sections=form.sections(), actor=request.user, title=form.cleaned_data["title"]
    )
    if new.pk == version.pk:
        messages.info(request, "Nothing changed.")
    else:
        messages.success(request, f"Company context saved as version {new.version}.")
    return _back(team)


@require_POST
def context_import(request):
    team = _team(request)
    _manager(request)
    form = ContextImportForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, f"File refused: {_form_error(form)}")
        return _back(team)
    try:
        new = context.import_markdown(team_id=team.pk, text=form.cleaned_data["file"], actor=request.user)
    except PlanError as exc:
        messages.error(request, f"File refused, the context is unchanged: {exc.message}")
        return _back(team)
    messages.success(request, f"Imported as version {new.version}.")
    return _back(team)


@require_GET
def context_export(request):
    team = _team(request)
    ordinal = request.GET.get("version")
    versions = ContextVersion.objects.visible_to(request.user).filter(team=team)
    if ordinal:
        if not ordinal.isdigit():
            raise Http404("No such version")
        version = get_object_or_404(versions, ordinal=int(ordinal))
    else:
        version = context.current(team.pk)
    response = HttpResponse(context.as_markdown(version), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="company-context-{team.slug}-{version.version}.md"'
    return response


@require_POST
def context_rollback(request, ordinal):
    team = _team(request)
    _manager(request)
    try:
        new = context.rollback(team_id=team.pk, to_ordinal=ordinal, actor=request.user)
    except PlanError as exc:
        if exc.code == "not_found":
            raise Http404(exc.message) from exc
        messages.error(request, exc.message)
        return _back(team)
    messages.success(request, f"Rolled back: version {new.version} has the content of {new.rolled_back_to.version}.")
    return _back(team)


def _learning(request, pk) -> Learning:
    return get_object_or_404(
        Learning.objects.visible_to(request.user).select_related("feedback", "feedback__plan", "team"), pk=pk
    )


@require_GET
def learning_preview(request, pk):
    learning = _learning(request, pk)
    _manager(request)
    rows = feedback.preview_learning(learning=learning)
    return render(request, "nudges/plan_learning_preview.html", {"learning": learning, "rows": rows})


@require_POST
def learning_decide(request, pk):
    learning = _learning(request, pk)
    _manager(request)
    decision = request.POST.get("decision")
    try:
        if decision == "accept":
            new = feedback.accept_learning(learning=learning, actor=request.user)
            if new is None:
                learning.refresh_from_db()
                messages.info(request, f"Not added: {learning.reason}.")
            else:
                messages.success(request, f"Learning added: company context is now {new.version}.")
        elif decision == "reject":
            feedback.reject_learning(learning=learning, actor=request.user, reason=request.POST.get("reason", ""))
            messages.success(request, "Learning rejected.")
        else:
            messages.error(request, "Choose accept or reject.")
    except PlanError as exc:
        messages.error(request, exc.message)
    return _back(learning.team, "#learnings")


@require_http_methods(["GET", "POST"])
def template_edit(request, pk=None):
    team = _team(request)
    instance = None
    if pk is not None:
        instance = get_object_or_404(PromptTemplate.objects.visible_to(request.user).filter(team=team), pk=pk)
    if request.method == "POST":
        _manager(request)
        form = TemplateForm(request.POST, request.FILES, instance=instance, team=team)
        if form.is_valid():
            template = form.save(commit=False)
            template.team = team
            template.body = form.cleaned_data["body"]
            template.created_by = template.created_by or request.user
            if template.is_active:
                PromptTemplate.objects.filter(team=team, is_active=True).exclude(pk=template.pk).update(is_active=False)
            template.save()
            messages.success(request, f"Template “{template.name}” saved{' and in use' if template.is_active else ''}.")
            return _back(team, "#templates")
        status = 400
    else:
        form = TemplateForm(instance=instance, team=team, initial=None if instance else {"body": DEFAULT_TEMPLATE})
        status = 200
    return render(
        request,
        "nudges/plan_template_form.html",
        {"form": form, "team": team, "template": instance, "can_edit": is_manager(request.user)},
        status=status,
    )


@require_POST
def cache_clear(request):
    team = _team(request)
    _manager(request)
    n = plans.clear_cache([team.pk])
    messages.success(request, f"Cleared {n} cached plan(s).")
    return _back(team, "#cache")
