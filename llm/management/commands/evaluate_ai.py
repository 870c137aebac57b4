"""Evaluate the AI features on their datasets: `manage.py evaluate_ai [--feature F] [--dataset PATH]
[--record DIR] [--replay DIR] [--json]`. Exit status 1 when a score is under its threshold, with the
cases that fell. See docs/evaluation.md."""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

import llm
from llm.evaluation import DatasetMissing, ThresholdError, UnknownFeature, get_suite, suites
from llm.evaluation.recording import (
    RECORD_PROVIDER,
    REPLAY_PROVIDER,
    ReplayError,
    recording_path,
    recording_provider,
    replay_provider,
)
from llm.evaluation.runner import StopRun, run_suite

BAR = 30


class Command(BaseCommand):
    help = "Run the AI evaluation suites through the product's code path; fail when a threshold is missed."

    def add_arguments(self, parser):
        parser.add_argument("--feature", action="append", help="Only this feature (repeatable). Default: all.")
        parser.add_argument("--dataset", help="Another JSONL dataset (needs exactly one --feature).")
        parser.add_argument("--record", metavar="DIR", help="Record the model's requests and replies into DIR.")
        parser.add_argument("--replay", metavar="DIR", help="Replay a recording set from DIR (no key, no network).")
        parser.add_argument("--json", action="store_true", help="Print the results as JSON.")
        parser.add_argument("--list", action="store_true", help="List the registered suites and exit.")

    def handle(self, *args, feature, dataset, record, replay, json: bool = False, list: bool = False, **options):
        registered = suites()
        if list:
            for name, suite in registered.items():
                self.stdout.write(f"{name:28} {suite.dataset}")
            return
        if record and replay:
            raise CommandError("--record and --replay cannot be combined")
        if dataset and (not feature or len(feature) != 1):
            raise CommandError("--dataset needs exactly one --feature")
        if dataset and not Path(dataset).is_file():
            raise CommandError(f"dataset {dataset} does not exist")
        if replay and not Path(replay).is_dir():
            raise CommandError(f"replay directory {replay} does not exist")
        try:
            chosen = [get_suite(f) for f in feature] if feature else [*registered.values()]
        except UnknownFeature as exc:
            raise CommandError(str(exc)) from None
        if replay and not feature:
            # A recording set need not cover every feature: replay what it holds.
            chosen = [s for s in chosen if recording_path(replay, s.feature).is_file()]
            if not chosen:
                raise CommandError(f"replay directory {replay} holds no recording of a registered feature")
        if record and llm.provider_name() != "anthropic":
            raise CommandError("--record needs the Anthropic provider: set ANTHROPIC_API_KEY (see docs/evaluation.md)")
        if not chosen:
            raise CommandError("no evaluation suite is registered")

        reports, fell_total = [], 0
        for suite in chosen:
            report = self._run_one(suite, dataset=dataset, record=record, replay=replay, quiet=json)
            reports.append(report)
            fell_total += len(report.fell)
        if json:
            self.stdout.write(_json_dump([_as_json(r) for r in reports]))
        else:
            self._summary(reports)
        if fell_total:
            lines = []
            for report in reports:
                for fell in report.fell:
                    lines.append(
                        f"{report.run.feature} {fell.metric} {fell.score:.3f} < {fell.threshold:g}: "
                        f"{len([c for c in fell.cases if c[0] != '*'])} case(s) fell"
                    )
            raise CommandError(f"{fell_total} threshold(s) missed:\n  " + "\n  ".join(lines))

    def _run_one(self, suite, *, dataset, record, replay, quiet):
        from llm.models import CachedReply

        with ExitStack() as stack:
            transport, mode = None, ""
            if record:
                provider, transport = recording_provider(
                    recording_path(record, suite.feature), api_key=settings.ANTHROPIC_API_KEY, model=settings.LLM_MODEL
                )
                mode = "record"
            elif replay:
                try:
                    provider, transport = replay_provider(recording_path(replay, suite.feature))
                except ReplayError as exc:
                    raise CommandError(str(exc)) from None
                mode = "replay"
            if transport is not None:
                # Earlier record/replay runs' cache entries would answer instead of the recording.
                CachedReply.objects.filter(provider__in=(RECORD_PROVIDER, REPLAY_PROVIDER)).delete()
                stack.enter_context(llm.use_provider(provider))

            def before(case):
                if transport is not None:
                    transport.case_id = case.id

            def checkpoint(case):
                misses = getattr(transport, "misses", None)
                if misses:
                    miss = misses[0]
                    raise StopRun(
                        f"replay directory {replay} lacks a recorded request for {suite.feature} case {case.id!r} "
                        f"(request {miss.key} to {miss.path}, model {miss.model or '?'}); "
                        "the prompt or the dataset changed since it was recorded: record it again"
                    )

            try:
                report = run_suite(
                    suite,
                    dataset=dataset,
                    mode=mode,
                    before=before,
                    checkpoint=checkpoint,
                    progress=None if quiet else self._progress(suite.feature),
                )
            except (DatasetMissing, ThresholdError, StopRun) as exc:
                if not quiet:
                    sys.stderr.write("\n")
                raise CommandError(str(exc)) from None
        if record:
            self.stderr.write(f"recorded {transport.count} request(s) to {recording_path(record, suite.feature)}")
        return report

    def _progress(self, feature):
        # A redrawn bar on a terminal; in a CI log, one line per quarter instead of a hundred redraws.
        tty = sys.stderr.isatty()

        def show(done, total, case):
            filled = BAR * done // max(total, 1)
            bar = f"{feature:24} [{'#' * filled}{'.' * (BAR - filled)}] {done}/{total}"
            if tty:
                sys.stderr.write(f"\r{bar}" + ("\n" if done == total else ""))
            elif done == total or done * 4 // total != (done - 1) * 4 // total:
                sys.stderr.write(bar + "\n")
            sys.stderr.flush()

        return show

    def _summary(self, reports):
        out = self.stdout
        for report in reports:
            run = report.run
            out.write("")
            out.write(
                f"{run.feature}  ({run.cases} cases, {run.provider}/{run.model}, {run.mode}, "
                f"{run.duration_ms} ms, ${run.cost_usd:.4f}, prompt {run.prompt_version or '-'})"
            )
            for issue in run.dataset_issues:
                out.write(f"  dataset {run.dataset} {issue} (skipped)")
            out.write(f"  {'metric':32} {'score':>7} {'min':>6}  status")
            for name, score in run.scores.items():
                minimum = run.thresholds.get(name)
                status = "-" if minimum is None else ("ok" if score >= minimum else "FAIL")
                limit = "" if minimum is None else f"{minimum:g}"
                out.write(f"  {name:32} {score:7.3f} {limit:>6}  {status}")
            for name, why in run.skipped.items():
                out.write(f"  {name:32} {'skip':>7} {'':>6}  {why}")
            if report.comparison:
                c = report.comparison
                note = "" if c.same_dataset else " (dataset changed)"
                out.write(
                    f"  since run {c.previous.pk}{note}: {len(c.better)} case score(s) better, {len(c.worse)} worse"
                )
                for change in c.worse[:10]:
                    out.write(f"    worse {change.case_id} {change.metric}: {'; '.join(change.why)[:200]}")
            for fell in report.fell:
                out.write(f"  FELL {fell.metric} {fell.score:.3f} < {fell.threshold:g}:")
                for case_id, reasons in fell.cases[:25]:
                    out.write(f"    {case_id}: {'; '.join(reasons)[:300]}")
                if len(fell.cases) > 25:
                    out.write(f"    ... and {len(fell.cases) - 25} more")


def _as_json(report) -> dict:
    run = report.run
    comparison = report.comparison
    return {
        "run": run.pk,
        "feature": run.feature,
        "dataset": run.dataset,
        "dataset_hash": run.dataset_hash,
        "prompt_version": run.prompt_version,
        "provider": run.provider,
        "model": run.model,
        "mode": run.mode,
        "cases": run.cases,
        "scores": run.scores,
        "thresholds": run.thresholds,
        "skipped": run.skipped,
        "dataset_issues": run.dataset_issues,
        "passed": run.passed,
        "cost_usd": str(run.cost_usd),
        "duration_ms": run.duration_ms,
        "fell": [
            {"metric": f.metric, "score": f.score, "threshold": f.threshold, "cases": f.cases} for f in report.fell
        ],
        "comparison": None
        if comparison is None
        else {
            "previous_run": comparison.previous.pk,
            "score_deltas": comparison.score_deltas,
            "better": [c.__dict__ for c in comparison.better],
            "worse": [c.__dict__ for c in comparison.worse],
        },
    }


def _json_dump(data) -> str:
    return json.dumps(data, indent=2, default=str)
