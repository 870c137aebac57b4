"""Suites: one per AI feature, registered from the feature's own `<app>/evaluation.py`.

llm never imports an upper app: `discover()` asks Django to import every installed app's
`evaluation` module (`autodiscover_modules`), and each of those calls `register(Suite(...))`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from llm.evaluation.metrics import CaseMetric, DatasetMetric, metric_name


@dataclass
class Suite:
    feature: str  # e.g. "tickets.draft"; a run is stored and compared per feature
    dataset: str | Path  # the default JSONL file
    run: Callable  # fn(case) -> output (any JSON-able value), through the product's own code path
    metrics: list[CaseMetric] = field(default_factory=list)  # fn(case, output) -> MetricResult
    thresholds: str | Path | None = None  # JSON file {"metric": minimum score}
    dataset_metrics: list[DatasetMetric] = field(default_factory=list)  # fn([(case, output)]) -> MetricResult
    prompt_version: str = ""  # llm.evaluation.fingerprint(prompts..., writer version)
    description: str = ""

    def metric_names(self) -> list[str]:
        return [metric_name(m) for m in [*self.metrics, *self.dataset_metrics]]

    def load_thresholds(self) -> dict[str, float]:
        """{metric: minimum score}. A threshold naming no metric of the suite is an error: a typo
        there would silently gate nothing."""
        if not self.thresholds:
            return {}
        path = Path(self.thresholds)
        if not path.is_file():
            raise ThresholdError(f"{self.feature}: thresholds file {path} does not exist")
        try:
            raw = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ThresholdError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(raw, dict):
            raise ThresholdError(f"{path}: expected an object of metric -> minimum score")
        raw = {k: v for k, v in raw.items() if not k.startswith("_")}  # "_why": comments
        names = set(self.metric_names())
        out = {}
        for name, value in raw.items():
            if name not in names:
                raise ThresholdError(f"{path}: {name!r} is not a metric of {self.feature} ({', '.join(sorted(names))})")
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ThresholdError(f"{path}: {name!r} must be a number from 0 to 1")
            out[name] = float(value)
        return out


class ThresholdError(ValueError):
    pass


class UnknownFeature(LookupError):
    pass


_SUITES: dict[str, Suite] = {}


def register(suite: Suite) -> Suite:
    """Idempotent per feature (a module imported twice registers the same suite again)."""
    _SUITES[suite.feature] = suite
    return suite


def unregister(feature: str) -> None:
    _SUITES.pop(feature, None)


_discovered = False


def discover() -> None:
    global _discovered
    if not _discovered:
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("evaluation")
        # For the llm app `evaluation` is this package, so its own suites live in a module of it.
        import llm.evaluation.gateway_suites  # noqa: F401

        _discovered = True


def suites() -> dict[str, Suite]:
    discover()
    return dict(sorted(_SUITES.items()))


def get_suite(feature: str) -> Suite:
    known = suites()
    if feature not in known:
        raise UnknownFeature(f"unknown feature {feature!r}; registered: {', '.join(known) or 'none'}")
    return known[feature]
