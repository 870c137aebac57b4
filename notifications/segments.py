"""Rule-based customer segments (the seed's Value Seekers and the segments it implies).

Rules are plain text a manager edits in Settings -> Notifications, one rule a line:

    Value Seekers: price_enquiries >= 1
    Value Seekers: tariff = Standard Variable and monthly_spend >= 90

A line is a segment name, a colon and clauses joined with "and"; several lines for one segment
are alternatives (or). The first matching line wins; no match is `FALLBACK`. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FALLBACK = "Everyday Customers"
VALUE_SEEKERS = "Value Seekers"

DEFAULT_RULES = """\
Value Seekers: price_enquiries >= 1
Value Seekers: tariff = Standard Variable and monthly_spend >= 95
Support Needed: payment_status in late,missed
Green Advocates: green_tariff = yes
Digital Natives: preferred_channel in email,chat,sms and engagement_score >= 65
Loyal Traditionalists: tenure_months >= 60
"""

# The facts a rule may test, and whether each compares as a number.
FIELDS = {
    "monthly_spend": True,
    "tenure_months": True,
    "engagement_score": True,
    "churn_risk": True,
    "price_enquiries": True,
    "billing_interactions": True,
    "complaints": True,
    "negative_interactions": True,
    "tariff": False,
    "green_tariff": False,
    "preferred_channel": False,
    "region": False,
    "payment_status": False,
    "account_status": False,
}
OPS = (">=", "<=", "!=", "=", ">", "<", "in")
_CLAUSE = re.compile(r"^\s*([a-z_]+)\s*(>=|<=|!=|=|>|<|\bin\b)\s*(.+?)\s*$")


class RuleError(ValueError):
    """A rule line that cannot be read; the message names the line."""


@dataclass(frozen=True)
class Clause:
    field: str
    op: str
    value: str

    def matches(self, facts: dict) -> bool:
        have = facts.get(self.field)
        if have is None or have == "":
            return False
        if FIELDS[self.field]:
            try:
                left = float(have)
            except (TypeError, ValueError):
                return False
            if self.op == "in":
                return left in {float(v) for v in self.value.split(",")}
            right = float(self.value)
            return {
                ">=": left >= right,
                "<=": left <= right,
                ">": left > right,
                "<": left < right,
                "=": left == right,
                "!=": left != right,
            }[self.op]
        left_s = _text(have)
        if self.op == "in":
            return left_s in {v.strip().lower() for v in self.value.split(",")}
        if self.op == "=":
            return left_s == self.value.strip().lower()
        if self.op == "!=":
            return left_s != self.value.strip().lower()
        return False

    def __str__(self) -> str:
        return f"{self.field} {self.op} {self.value}"


@dataclass(frozen=True)
class Rule:
    segment: str
    clauses: tuple[Clause, ...]
    line: int

    def __str__(self) -> str:
        return " and ".join(str(c) for c in self.clauses)


@dataclass(frozen=True)
class SegmentResult:
    segment: str
    reason: str


def _text(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value).strip().lower()


def parse_rules(text: str) -> list[Rule]:
    """The rules in `text`; raises RuleError naming the first bad line."""
    rules = []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, body = line.partition(":")
        if not sep or not name.strip() or not body.strip():
            raise RuleError(f"line {n}: expected 'Segment name: field op value', got {line!r}")
        clauses = []
        for part in re.split(r"\s+and\s+", body.strip()):
            m = _CLAUSE.match(part)
            if not m:
                raise RuleError(f"line {n}: cannot read {part!r} (operators: {', '.join(OPS)})")
            field, op, value = m.groups()
            if field not in FIELDS:
                raise RuleError(f"line {n}: unknown field {field!r} (known: {', '.join(sorted(FIELDS))})")
            if FIELDS[field]:
                for v in value.split(",") if op == "in" else [value]:
                    try:
                        float(v)
                    except ValueError:
                        raise RuleError(f"line {n}: {field} compares numbers, {v.strip()!r} is not one") from None
            elif op in (">=", "<=", ">", "<"):
                raise RuleError(f"line {n}: {field} is text; use =, != or in")
            clauses.append(Clause(field, op, value))
        rules.append(Rule(name.strip()[:100], tuple(clauses), n))
    return rules


def classify(facts: dict, rules: list[Rule]) -> SegmentResult:
    for rule in rules:
        if all(c.matches(facts) for c in rule.clauses):
            return SegmentResult(rule.segment, f"rule: {rule}")
    return SegmentResult(FALLBACK, "no rule matched")


def segment_names(rules: list[Rule]) -> list[str]:
    names: list[str] = []
    for rule in rules:
        if rule.segment not in names:
            names.append(rule.segment)
    return [*names, FALLBACK]
