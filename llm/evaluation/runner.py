"""Run a suite: every case through the feature's own code path (its ai.py, the gateway, the provider
configured right now), every metric on every output, thresholds applied, the run stored and compared
with the previous run of the same feature.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Sum

import llm
from llm.evaluation.cases import Case, Dataset, load_dataset
from llm.evaluation.metrics import MetricResult, metric_name
from llm.evaluation.models import EvalCaseResult, EvalRun
from llm.evaluation.registry import Suite


@dataclass
class CaseOutcome:
    case_id: str
    output: object
    scores: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, list[str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    error: str = ""

    @property
    def passed(self) -> bool:
        return not self.error and all(score >= 1.0 for score in self.scores.values())


@dataclass
class Fell:
    """A metric under its threshold and the cases that pulled it down."""

    metric: str
    score: float
    threshold: float
    cases: list[tuple[str, list[str]]]  # (case id, reasons); for dataset metrics ("*", reasons)


@dataclass
class Report:
    run: EvalRun
    dataset: Dataset
    outcomes: list[CaseOutcome]
    fell: list[Fell]
    comparison: Comparison | None

    @property
    def passed(self) -> bool:
        return self.run.passed


class StopRun(Exception):
    """Raised by a checkpoint (e.g. a replay that lacks a recorded request): the run is not stored."""


def jsonable(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return json.loads(json.dumps(value, default=str))


def _score_case(suite: Suite, case: Case, output, error: str) -> CaseOutcome:
    outcome = CaseOutcome(case.id, output, error=error)
    for metric in suite.metrics:
        name = metric_name(metric)
        if error:
            outcome.scores[name] = 0.0
            outcome.reasons[name] = [f"the feature raised: {error}"]
            continue
        try:
            result = metric(case, output)
        except Exception as exc:  # noqa: BLE001 - a metric bug scores 0 with its reason, the run goes on
            result = MetricResult(0.0, [f"metric raised {exc.__class__.__name__}: {exc}"])
        if result.is_skipped:
            outcome.skipped[name] = result.skipped
            continue
        outcome.scores[name] = float(result.score)
        if result.score < 1.0:
            outcome.reasons[name] = list(result.reasons) or ["scored below 1"]
    return outcome


def _aggregate(suite: Suite, cases: list[Case], outcomes: list[CaseOutcome]):
    scores: dict[str, float] = {}
    skipped: dict[str, str] = {}
    dataset_reasons: dict[str, list[str]] = {}
    for metric in suite.metrics:
        name = metric_name(metric)
        values = [o.scores[name] for o in outcomes if name in o.scores]
        if values:
            scores[name] = round(sum(values) / len(values), 4)
        else:
            reasons = [o.skipped[name] for o in outcomes if name in o.skipped]
            skipped[name] = Counter(reasons).most_common(1)[0][0] if reasons else "no case was scored"
    pairs = [(case, o.output) for case, o in zip(cases, outcomes, strict=True) if not o.error]
    for metric in suite.dataset_metrics:
        name = metric_name(metric)
        try:
            result = metric(pairs)
        except Exception as exc:  # noqa: BLE001 - as for case metrics
            result = MetricResult(0.0, [f"metric raised {exc.__class__.__name__}: {exc}"])
        if result.is_skipped:
            skipped[name] = result.skipped
            continue
        scores[name] = round(float(result.score), 4)
        if result.reasons:
            dataset_reasons[name] = list(result.reasons)
    return scores, skipped, dataset_reasons


def _fell(suite: Suite, scores, thresholds, outcomes, dataset_reasons) -> list[Fell]:
    case_metrics = {metric_name(m) for m in suite.metrics}
    out = []
    for name, minimum in thresholds.items():
        if name not in scores or scores[name] >= minimum:
            continue
        if name in case_metrics:
            cases = [(o.case_id, o.reasons.get(name, [])) for o in outcomes if o.scores.get(name, 1.0) < 1.0]
        else:
            cases = [("*", dataset_reasons.get(name, []))]
        out.append(Fell(name, scores[name], minimum, cases))
    return out


def _relative(path: str | Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path(settings.BASE_DIR).resolve()))
    except ValueError:
        return str(path)


def run_suite(
    suite: Suite,
    *,
    dataset: str | Path | None = None,
    mode: str = "",
    progress: Callable[[int, int, Case], None] | None = None,
    before: Callable[[Case], None] | None = None,
    checkpoint: Callable[[Case], None] | None = None,
) -> Report:
    """Evaluate `suite` on its dataset (or `dataset`). `before(case)` runs before each case,
    `checkpoint(case)` after it and may raise StopRun (nothing is stored then). ThresholdError and DatasetMissing surface unchanged."""
    from llm.models import LLMCall

    thresholds = suite.load_thresholds()
    data = load_dataset(dataset or suite.dataset)
    provider = llm.provider_name()
    mode = mode or (EvalRun.Mode.OFFLINE if provider == "offline" else EvalRun.Mode.LIVE)
    mark = LLMCall.objects.aggregate(m=Max("id"))["m"] or 0
    started = time.perf_counter()
    outcomes = []
    for number, case in enumerate(data.cases, start=1):
        error = ""
        if before is not None:
            before(case)
        try:
            output = jsonable(suite.run(case))
        except StopRun:
            raise
        except Exception as exc:  # noqa: BLE001 - one broken case must not hide the rest
            output, error = None, f"{exc.__class__.__name__}: {exc}"
        if checkpoint is not None:
            checkpoint(case)
        outcomes.append(_score_case(suite, case, output, error))
        if progress is not None:
            progress(number, len(data.cases), case)
    scores, skipped, dataset_reasons = _aggregate(suite, data.cases, outcomes)
    duration_ms = int((time.perf_counter() - started) * 1000)
    calls = LLMCall.objects.filter(id__gt=mark)
    spend = calls.aggregate(cost=Sum("cost_usd"), tin=Sum("input_tokens"), tout=Sum("output_tokens"))
    models_used = Counter(calls.exclude(provider="offline").values_list("model", flat=True))
    fell = _fell(suite, scores, thresholds, outcomes, dataset_reasons)
    with transaction.atomic():
        run = EvalRun.objects.create(
            feature=suite.feature,
            dataset=_relative(data.path),
            dataset_hash=data.sha256,
            prompt_version=suite.prompt_version,
            provider=provider,
            model=models_used.most_common(1)[0][0] if models_used else "offline",
            mode=mode,
            cases=len(data.cases),
            scores=scores,
            thresholds=thresholds,
            failed_metrics=[f.metric for f in fell],
            skipped=skipped,
            dataset_issues=[str(i) for i in data.issues],
            dataset_reasons=dataset_reasons,
            passed=not fell,
            cost_usd=spend["cost"] or Decimal("0"),
            input_tokens=spend["tin"] or 0,
            output_tokens=spend["tout"] or 0,
            duration_ms=duration_ms,
        )
        EvalCaseResult.objects.bulk_create(
            EvalCaseResult(
                run=run,
                case_id=o.case_id,
                output=o.output,
                scores=o.scores,
                reasons=o.reasons,
                passed=o.passed,
                error=o.error,
            )
            for o in outcomes
        )
    return Report(run, data, outcomes, fell, compare(run))


# --- comparison with the previous run --------------------------------------------------------------


@dataclass
class CaseChange:
    case_id: str
    metric: str
    before: float | None
    after: float | None
    why: list[str]


@dataclass
class Comparison:
    previous: EvalRun
    score_deltas: dict[str, float]  # metric -> after - before
    better: list[CaseChange]
    worse: list[CaseChange]
    same_dataset: bool
    same_prompt: bool


def compare(run: EvalRun, previous: EvalRun | None = None, *, before=None, after=None) -> Comparison | None:
    """Which cases got better or worse since the previous run of the same feature, and why: the
    reasons the case now fails (worse) or the reasons it no longer has (better). `before`/`after`
    are the two runs' case results when the caller already loaded them (the quality page)."""
    previous = previous or run.previous()
    if previous is None:
        return None
    deltas = {
        name: round(score - previous.scores[name], 4)
        for name, score in run.scores.items()
        if name in previous.scores and isinstance(previous.scores[name], int | float)
    }
    then_by_case = {r.case_id: r for r in (previous.results.all() if before is None else before)}
    better, worse = [], []
    for now in run.results.all() if after is None else after:
        then = then_by_case.get(now.case_id)
        if then is None:
            continue
        for name in sorted(set(now.scores) | set(then.scores)):
            a, b = then.scores.get(name), now.scores.get(name)
            if a is None or b is None or a == b:
                continue
            if b > a:
                better.append(CaseChange(now.case_id, name, a, b, then.reasons.get(name, [])))
            else:
                worse.append(CaseChange(now.case_id, name, a, b, now.reasons.get(name, [])))
    return Comparison(
        previous,
        deltas,
        better,
        worse,
        same_dataset=previous.dataset_hash == run.dataset_hash,
        same_prompt=previous.prompt_version == run.prompt_version,
    )
