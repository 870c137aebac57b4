"""Settings -> AI quality: the latest evaluation run per feature, its scores against the thresholds,
each score over past runs, and the cases that failed with their reasons.

Same audience as AI usage (the `llm.view_usage` permission, granted by crm to managers and admins);
anyone else gets 404. The runs hold evaluation datasets, not customer records, so nothing is scoped
by team. Three queries (plus the session's) whatever the number of features and runs.
"""

from __future__ import annotations

from collections import defaultdict

from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from llm.evaluation.charts import score_chart
from llm.evaluation.models import EvalCaseResult, EvalRun
from llm.evaluation.registry import suites
from llm.evaluation.runner import compare
from llm.models import VIEW_USAGE

HISTORY = 30  # runs per chart: about a month of daily CI runs
FAILING_SHOWN = 50  # failing cases listed per feature; `evaluate_ai --json` lists them all


def metric_order(feature: str, scores: dict) -> list[str]:
    """The suite's own order when it is registered (PostgreSQL's jsonb does not keep key order),
    then any other metric by name."""
    suite = suites().get(feature)
    known = [m for m in suite.metric_names() if m in scores] if suite else []
    return known + sorted(set(scores) - set(known))


@require_GET
def quality(request):
    if not request.user.has_perm(VIEW_USAGE):
        raise Http404
    latest = list(EvalRun.objects.latest_per_feature())
    history: dict[str, list[EvalRun]] = defaultdict(list)
    # One query for every feature's last HISTORY runs (a window filter, so old runs are never loaded).
    recent = (
        EvalRun.objects.filter(feature__in=[r.feature for r in latest])
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("feature")], order_by=[F("created_at").desc(), F("id").desc()])
        )
        .filter(rank__lte=HISTORY)
        .order_by("feature", "-created_at", "-id")
        .only("id", "feature", "scores", "created_at", "dataset_hash", "prompt_version")
    )
    for run in recent:
        history[run.feature].append(run)
    previous = {run.feature: history[run.feature][1] for run in latest if len(history[run.feature]) > 1}
    # One query for the cases of every latest run and of the run before it (for the comparison).
    results: dict[int, list[EvalCaseResult]] = defaultdict(list)
    wanted = [r.pk for r in latest] + [r.pk for r in previous.values()]
    for result in EvalCaseResult.objects.filter(run_id__in=wanted).defer("output").order_by("run_id", "id"):
        results[result.run_id].append(result)
    features = []
    for run in latest:
        failing = [r for r in results[run.pk] if not r.passed]
        before_run = previous.get(run.feature)
        rows = [
            {
                "metric": name,
                "score": run.scores[name],
                "threshold": run.thresholds.get(name),
                "passed": name not in run.failed_metrics,
            }
            for name in metric_order(run.feature, run.scores)
        ]
        features.append(
            {
                "run": run,
                "rows": rows,
                "chart": score_chart(
                    list(reversed(history[run.feature])), run.thresholds, order=metric_order(run.feature, run.scores)
                ),
                "failing": [
                    {
                        "case_id": r.case_id,
                        "error": r.error,
                        "reasons": [(m, "; ".join(why)) for m, why in r.reasons.items()],
                    }
                    for r in failing[:FAILING_SHOWN]
                ],
                "failing_total": len(failing),
                "comparison": compare(run, before_run, before=results[before_run.pk], after=results[run.pk])
                if before_run
                else None,
            }
        )
    return render(request, "llm/quality.html", {"features": features})
