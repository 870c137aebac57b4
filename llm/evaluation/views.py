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
from llm.models import VIEW_USAGE

HISTORY = 30  # runs per chart: about a month of daily CI runs
FAILING_SHOWN = 50  # failing cases listed per feature; `evaluate_ai --json` lists them all


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
        .only("id", "feature", "scores", "created_at")
    )
    for run in recent:
        history[run.feature].append(run)
    failing: dict[int, list[EvalCaseResult]] = defaultdict(list)
    for result in EvalCaseResult.objects.filter(run__in=latest, passed=False).order_by("run_id", "id"):
        failing[result.run_id].append(result)
    features = []
    for run in latest:
        rows = [
            {
                "metric": name,
                "score": score,
                "threshold": run.thresholds.get(name),
                "passed": name not in run.failed_metrics,
            }
            for name, score in run.scores.items()
        ]
        features.append(
            {
                "run": run,
                "rows": rows,
                "chart": score_chart(list(reversed(history[run.feature])), run.thresholds),
                "failing": [
                    {
                        "case_id": r.case_id,
                        "error": r.error,
                        "reasons": [(m, "; ".join(why)) for m, why in r.reasons.items()],
                    }
                    for r in failing[run.pk][:FAILING_SHOWN]
                ],
                "failing_total": len(failing[run.pk]),
            }
        )
    return render(request, "llm/quality.html", {"features": features})
