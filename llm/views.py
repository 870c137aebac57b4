"""Settings -> AI usage. Users with the `llm.view_usage` permission only (crm grants it to managers
and admins: spend is not an agent's business); anyone else gets 404 like any hidden page. A
manager sees the rows of their own teams' scopes only (LLMCall.objects.visible_to)."""

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from llm import usage as usage_summary
from llm.charts import usage_chart
from llm.forms import UsageFilterForm
from llm.models import VIEW_USAGE, LLMCall
from llm.registry import get_provider
from llm.scopes import visible_scopes


@require_GET
def usage(request):
    if not request.user.has_perm(VIEW_USAGE):
        raise Http404
    calls = LLMCall.objects.visible_to(request.user)
    everything = visible_scopes(request.user) is None
    since, until = usage_summary.default_range()
    form = UsageFilterForm(request.GET or {"since": since.isoformat(), "until": until.isoformat()})
    summary = chart = None
    if form.is_valid():
        data = form.cleaned_data
        summary = usage_summary.summarize(
            since=data["since"],
            until=data["until"],
            features=[data["feature"]] if data["feature"] else None,
            queryset=calls,
        )
        chart = usage_chart(summary.rows, since=summary.since, until=summary.until)
    provider = get_provider()
    return render(
        request,
        "llm/usage.html",
        {
            "form": form,
            "summary": summary,
            "chart": chart,
            "provider": provider.name,
            "model": provider.default_model,
            # Budgets are organisation-wide: their figures are every team's spend, for admins only.
            "budgets": usage_summary.budget_rows(with_figures=everything),
            "features": calls.order_by("feature").values_list("feature", flat=True).distinct(),
        },
    )
