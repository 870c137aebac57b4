"""The evaluation harness every AI feature plugs into (docs/evaluation.md, docs/seams.md).

A feature ships a JSONL dataset and `<app>/evaluation.py`, which calls
`register(Suite(feature=..., dataset=..., run=fn(case) -> output, metrics=[...], thresholds=...))`.
`manage.py evaluate_ai` runs the suites; the runner and its models load lazily so that
llm/models.py can import this package before the app registry is ready.
"""

from typing import TYPE_CHECKING

from llm.evaluation.cases import Case, Dataset, DatasetMissing, LineIssue, fingerprint, load_dataset
from llm.evaluation.metrics import MetricResult, named
from llm.evaluation.registry import Suite, ThresholdError, UnknownFeature, get_suite, register, suites

__all__ = [
    "Case",
    "Dataset",
    "DatasetMissing",
    "LineIssue",
    "MetricResult",
    "Report",
    "Suite",
    "ThresholdError",
    "UnknownFeature",
    "compare",
    "fingerprint",
    "get_suite",
    "load_dataset",
    "named",
    "register",
    "run_suite",
    "suites",
]

if TYPE_CHECKING:  # pragma: no cover
    from llm.evaluation.runner import Report, compare, run_suite  # noqa: F401


def __getattr__(name):
    if name in ("Report", "compare", "run_suite"):
        from llm.evaluation import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'llm.evaluation' has no attribute {name!r}")
