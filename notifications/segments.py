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


# --- the offline refinement -------------------------------------------------------------------
# The AI refinement (notifications/segment_refinement.py) may move a customer to another segment
# whose rule also matches, when the data speaks for it more strongly than for the first match. Offline,
# this deterministic reading of the same data stands in for the model.

SUPPORT_NEEDED = "Support Needed"
REASSIGN_MARGIN = 2  # evidence points a later-matching segment needs over the first match


def matching_segments(facts: dict, rules: list[Rule]) -> list[tuple[str, str]]:
    """[(segment, rule text)] of every segment with a matching line, in rule order (first line per segment)."""
    found: dict[str, str] = {}
    for rule in rules:
        if rule.segment not in found and all(c.matches(facts) for c in rule.clauses):
            found[rule.segment] = str(rule)
    return list(found.items())


def _n(facts: dict, name: str) -> float:
    try:
        return float(facts.get(name) or 0)
    except (TypeError, ValueError):
        return 0.0


def _plural(n: float, word: str) -> str:
    n = int(n)
    return f"{n} {word}" + ("" if n == 1 else "s")


def evidence(segment: str, facts: dict) -> tuple[float, list[str]]:
    """How strongly the data speaks for `segment` (the seed's segments; any other matching rule counts
    1), with the facts that say so."""
    said: list[str] = []
    points = 0.0
    if segment == SUPPORT_NEEDED:
        status = str(facts.get("payment_status") or "").lower()
        if status in ("missed", "late"):
            points += 3 if status == "missed" else 2
            said.append(f"payment status {status}")
        for name, word in (("complaints", "complaint"), ("negative_interactions", "negative interaction")):
            if _n(facts, name):
                points += min(_n(facts, name), 2)
                said.append(_plural(_n(facts, name), word))
    elif segment == VALUE_SEEKERS:
        if _n(facts, "price_enquiries"):
            points += 2 * _n(facts, "price_enquiries")
            said.append(_plural(_n(facts, "price_enquiries"), "price enquiry").replace("enquirys", "enquiries"))
        if str(facts.get("tariff") or "").lower() == "standard variable" and _n(facts, "monthly_spend") >= 95:
            points += 1
            said.append(f"£{facts['monthly_spend']:g} a month on Standard Variable")
    elif segment == "Green Advocates" and _text(facts.get("green_tariff")) == "yes":
        points, said = 2, ["a green tariff"]
    elif segment == "Digital Natives" and _n(facts, "engagement_score") >= 80:
        points, said = 2, [f"engagement score {facts['engagement_score']}"]
    elif segment == "Loyal Traditionalists" and _n(facts, "tenure_months") >= 120:
        points, said = 2, [f"{int(_n(facts, 'tenure_months'))} months as a customer"]
    return (points or 1.0), said


def refine(facts: dict, matching: list[tuple[str, str]], rule_segment: str) -> SegmentResult:
    """The segment the data speaks for most, with its explanation; the rule's segment unless another
    matching one has REASSIGN_MARGIN more evidence."""
    rule_points, rule_said = evidence(rule_segment, facts)
    best, best_points, best_said = rule_segment, rule_points, rule_said
    for segment, _ in matching:
        points, said = evidence(segment, facts)
        if segment != rule_segment and points >= rule_points + REASSIGN_MARGIN and points > best_points:
            best, best_points, best_said = segment, points, said
    if best != rule_segment:
        against = f" outweigh{'s' if len(best_said) == 1 else ''} " + (", ".join(rule_said) or "the rule's match")
        return SegmentResult(best, f"{best} rather than {rule_segment}: " + ", ".join(best_said) + against + ".")
    if rule_said:
        return SegmentResult(rule_segment, f"Agrees with the rule: {', '.join(rule_said)}.")
    return SegmentResult(
        rule_segment, "Agrees with the rule: nothing in the data speaks more strongly for another segment."
    )
