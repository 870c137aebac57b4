"""Settings -> AI usage. Users with the `llm.view_usage` permission only (crm grants it to managers
and admins: spend is not an agent's business); anyone else gets 404 like any hidden page."""

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from llm import usage as usage_summary
from llm.forms import UsageFilterForm
from llm.models import VIEW_USAGE, LLMCall
from llm.registry import get_provider


@require_GET
def usage(request):
    if not request.user.has_perm(VIEW_USAGE):
        raise Http404
    since, until = usage_summary.default_range()
    form = UsageFilterForm(request.GET or {"since": since.isoformat(), "until": until.isoformat()})
    summary = None
    if form.is_valid():
        data = form.cleaned_data
        summary = usage_summary.summarize(
            since=data["since"], until=data["until"], features=[data["feature"]] if data["feature"] else None
        )
    provider = get_provider()
    return render(
        request,
        "llm/usage.html",
        {
            "form": form,
            "summary": summary,
            "provider": provider.name,
            "model": provider.default_model,
            "budgets": usage_summary.budget_rows(),
            "features": LLMCall.objects.order_by("feature").values_list("feature", flat=True).distinct(),
        },
    )
