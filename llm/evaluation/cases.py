"""Evaluation cases and the JSONL dataset format (docs/evaluation.md).

One case a line: {"id": "...", "inputs": {...}, "expected": {...}, "reference": "...", "facts": [...]}.
`id` and `inputs` are required; a line that does not parse or lacks them is reported with its line
number and the rest of the file still loads, so one typo never hides forty good cases.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Case:
    id: str
    inputs: dict
    expected: dict = field(default_factory=dict)
    reference: str = ""  # a reference answer, for a judge or a similarity metric
    facts: list = field(default_factory=list)  # what the answer may state (besides the inputs)
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class LineIssue:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class Dataset:
    path: str
    cases: list[Case]
    issues: list[LineIssue]
    sha256: str  # of the file's bytes: two runs on the same hash saw the same cases


class DatasetMissing(FileNotFoundError):
    pass


def parse_case(raw: Any) -> Case:
    """A Case from one decoded JSON value; ValueError names what is wrong."""
    if not isinstance(raw, dict):
        raise ValueError("a case must be a JSON object")
    case_id = raw.get("id")
    if not isinstance(case_id, str | int) or isinstance(case_id, bool) or not str(case_id).strip():
        raise ValueError("`id` is missing or empty")
    inputs = raw.get("inputs")
    if not isinstance(inputs, dict):
        raise ValueError("`inputs` must be an object")
    expected = raw.get("expected", {})
    if not isinstance(expected, dict):
        raise ValueError("`expected` must be an object")
    reference = raw.get("reference", "")
    if not isinstance(reference, str):
        raise ValueError("`reference` must be a string")
    facts = raw.get("facts", [])
    if not isinstance(facts, list):
        raise ValueError("`facts` must be a list")
    tags = raw.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValueError("`tags` must be a list of strings")
    unknown = set(raw) - {"id", "inputs", "expected", "reference", "facts", "tags", "note"}
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
    return Case(str(case_id).strip(), inputs, expected, reference, facts, tuple(tags))


def parse_lines(text: str) -> tuple[list[Case], list[LineIssue]]:
    cases: list[Case] = []
    issues: list[LineIssue] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        try:
            case = parse_case(json.loads(line))
        except json.JSONDecodeError as exc:
            issues.append(LineIssue(number, f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        except ValueError as exc:
            issues.append(LineIssue(number, str(exc)))
            continue
        if case.id in seen:
            issues.append(LineIssue(number, f"duplicate id {case.id!r}"))
            continue
        seen.add(case.id)
        cases.append(case)
    return cases, issues


def load_dataset(path: str | Path) -> Dataset:
    path = Path(path)
    if not path.is_file():
        raise DatasetMissing(f"dataset {path} does not exist")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Dataset(str(path), [], [LineIssue(1, f"not UTF-8 ({exc.reason})")], hashlib.sha256(data).hexdigest())
    cases, issues = parse_lines(text)
    return Dataset(str(path), cases, issues, hashlib.sha256(data).hexdigest())


def fingerprint(*parts: Any) -> str:
    """A short stable hash of prompts, schemas and writer versions: a suite's prompt version."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]
