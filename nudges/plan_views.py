"""Console views of action plans for reps: plan a deal, read the plan, expand, use, give feedback.

Every fetch starts from `visible_to(request.user)`: an outsider gets 404 on each of them."""

from django.contrib import messages
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

import llm
from nudges import feedback, plan_pending, plans, tasks
from nudges.models import Learning, Plan, PlanItem
from nudges.plan_errors import PlanError
from nudges.plan_forms import FeedbackForm, PlanRequestForm, UseItemForm


def _form_error(form) -> str:
    return "; ".join(f"{'' if k == '__all__' else k + ': '}{e}" for k, errs in form.errors.items() for e in errs)


def _plan_qs(user):
    return Plan.objects.visible_to(user).select_related("deal", "deal__account", "context_version", "created_by")


def _item(request, pk) -> PlanItem:
    return get_object_or_404(
        PlanItem.objects.filter(plan__in=Plan.objects.visible_to(request.user)).select_related(
            "plan", "plan__deal", "plan__deal__account", "plan__team"
        ),
        pk=pk,
    )


@require_GET
def plan_panel(request, deal_pk):
    """The deal page's "Plan next actions" panel: the form and the deal's recent plans."""
    deal = plans.resolve_deal_or_404(deal_pk, request.user)
    recent = Plan.objects.visible_to(request.user).filter(deal=deal).order_by("-generated_at")[:5]
    return render(request, "nudges/plan_panel.html", {"deal": deal, "recent": recent, "form": PlanRequestForm()})


@require_POST
def plan_create(request, deal_pk):
    deal = plans.resolve_deal_or_404(deal_pk, request.user)
    form = PlanRequestForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Could not plan: {_form_error(form)}")
        return redirect(deal.get_absolute_url())
    try:
        plan, cached = plan_pending.request_plan(
            deal=deal,
            actor=request.user,
            campaign_context=form.cleaned_data["campaign_context"],
            force_refresh=form.cleaned_data["force_refresh"],
        )
        if plan.status == Plan.Status.PENDING:
            tasks.generate_plan_task.delay_on_commit(plan.pk)
    except PlanError as exc:
        messages.error(request, f"Could not plan: {exc.message}")
        return redirect(deal.get_absolute_url())
    if cached:
        messages.info(request, "Nothing changed since this plan was written: served from the cache.")
    return redirect("nudges:plan_detail", public_id=plan.public_id)


def _detail_context(request, plan):
    items = plan.items_by_priority()
    learnings = Learning.objects.filter(feedback__plan=plan).select_related("feedback", "result_version")
    return {
        "plan": plan,
        "deal": plan.deal,
        "p0": items["P0"],
        "p1": items["P1"],
        "p2": items["P2"],
        "offline": plan.provenance.get("offline", True),
        "feedback_form": FeedbackForm(),
        "learnings": learnings,
        "provider": llm.provider_name(),
    }


@require_GET
def plan_detail(request, public_id):
    plan = get_object_or_404(
        _plan_qs(request.user).prefetch_related(Prefetch("items", PlanItem.objects.order_by("priority", "position"))),
        public_id=public_id,
    )
    return render(request, "nudges/plan_detail.html", _detail_context(request, plan))


def _item_response(request, item, error="", status=200):
    if request.htmx:
        return render(
            request,
            "nudges/plan_detail.html#plan-item",
            {"item": item, "plan": item.plan, "error": error},
            status=status,
        )
    if error:
        messages.error(request, error)
    return redirect("nudges:plan_detail", public_id=item.plan.public_id)


@require_POST
def item_expand(request, pk):
    item = _item(request, pk)
    try:
        item = plans.expand_item(item=item, actor=request.user)
    except PlanError as exc:
        return _item_response(request, item, exc.message, 400)
    return _item_response(request, item)


@require_POST
def item_use(request, pk):
    item = _item(request, pk)
    form = UseItemForm(request.POST)
    if not form.is_valid():
        return _item_response(request, item, _form_error(form), 400)
    data = form.cleaned_data
    try:
        item = feedback.use_item(
            item=item, actor=request.user, action=data["action"], text=data["text"], subject=data["subject"]
        )
    except PlanError as exc:
        item.refresh_from_db()
        return _item_response(request, item, exc.message, 409 if exc.code == "conflict" else 400)
    if not request.htmx:
        messages.success(request, f"{item.title}: {item.get_use_display().lower()}.")
    return _item_response(request, item)


@require_POST
def plan_feedback(request, public_id):
    plan = get_object_or_404(_plan_qs(request.user), public_id=public_id)
    form = FeedbackForm(request.POST)
    error, fb = "", None
    if form.is_valid():
        item = None
        if form.cleaned_data["item"]:
            item = plan.items.filter(pk=form.cleaned_data["item"]).first()
            if item is None:
                raise Http404("No such action in this plan")
        try:
            fb = feedback.record_feedback(
                plan=plan,
                actor=request.user,
                item=item,
                **{k: form.cleaned_data[k] for k in ("type", "text", "worked", "didnt_work", "improvement")},
            )
        except PlanError as exc:
            error = exc.message
    else:
        error = _form_error(form)
    context = {"plan": plan, "feedback": fb, "error": error, "feedback_form": form if error else FeedbackForm()}
    if fb is not None:
        context["learning"] = Learning.objects.filter(feedback=fb).first()
    if request.htmx:
        return render(request, "nudges/plan_detail.html#plan-feedback", context, status=400 if error else 200)
    if error:
        messages.error(request, f"Feedback not saved: {error}")
    else:
        messages.success(request, "Thank you: feedback saved.")
    return redirect("nudges:plan_detail", public_id=plan.public_id)
