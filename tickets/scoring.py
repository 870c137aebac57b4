"""The smart inbox score: a pure function of plain values and `now`, with every component explained.

The seed's formula, with one correction (docs/inbox.md):

    churn_risk x 3.0 + LTV/1000 x 2.0 + urgency x 1.5 + age + difficulty + sentiment + topic alert

The seed writes age as 1/hours_waiting, which ranks *newer* tickets higher although its own text says
older should rank higher. Here age = age_weight x min(share of the response target used, age_cap):
0 when the customer has just written, age_weight when the SLA target is reached, and at most
age_weight x age_cap however long it has waited, so a forgotten ticket rises but cannot outrank a
VIP at churn risk by age alone.

`tickets.querysets.score_expressions` mirrors this module in SQL for set-based rescoring; a test
checks both give the same numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

URGENCY = {"urgent": 4.0, "high": 3.0, "normal": 1.0, "low": 0.5}
COMPONENTS = ("churn_risk", "customer_value", "urgency", "age", "difficulty", "sentiment", "topic_alert")


@dataclass(frozen=True)
class Weights:
    version: int = 0
    set_id: int | None = None  # the stored WeightSet these came from; None for ad-hoc weights
    churn: float = 3.0
    value: float = 2.0
    urgency: float = 1.5
    age: float = 1.0
    age_cap: float = 2.0
    easy_bonus: float = 1.0
    complex_penalty: float = -1.5
    sentiment_boost: float = 2.0
    sentiment_threshold: float = 0.3
    topic_alert_boost: float = 5.0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ScoreInputs:
    churn_risk: float
    lifetime_value: float
    priority: str
    difficulty: str = ""  # "easy", "normal", "complex" or "" (unknown)
    sentiment: float | None = None  # 0 angry .. 1 delighted; None when unknown
    waiting_seconds: float | None = None  # None when the customer is not waiting on us
    response_target_seconds: float = 0.0
    matches_topic_alert: bool = False


@dataclass(frozen=True)
class Score:
    total: float
    components: dict[str, float]
    reasons: list[str] = field(default_factory=list)

    @property
    def stored_total(self) -> float:
        """What the inbox stores: everything except the per-agent topic alert boost."""
        return self.total - self.components["topic_alert"]


def churn_component(churn_risk: float, w: Weights) -> float:
    return max(0.0, min(1.0, churn_risk)) * w.churn


def value_component(lifetime_value: float, w: Weights) -> float:
    return max(0.0, lifetime_value) / 1000.0 * w.value


def urgency_component(priority: str, w: Weights) -> float:
    return URGENCY.get(priority, URGENCY["normal"]) * w.urgency


def age_share(waiting_seconds: float | None, target_seconds: float) -> float:
    """Share of the response target already used, never negative (clock skew) or undefined."""
    if waiting_seconds is None or target_seconds <= 0:
        return 0.0
    return max(0.0, waiting_seconds / target_seconds)


def age_component(waiting_seconds: float | None, target_seconds: float, w: Weights) -> float:
    return w.age * min(age_share(waiting_seconds, target_seconds), w.age_cap)


def difficulty_component(difficulty: str, w: Weights) -> float:
    return {"easy": w.easy_bonus, "complex": w.complex_penalty}.get(difficulty, 0.0)


def sentiment_component(sentiment: float | None, w: Weights) -> float:
    return w.sentiment_boost if sentiment is not None and sentiment < w.sentiment_threshold else 0.0


def score(inputs: ScoreInputs, weights: Weights) -> Score:
    w = weights
    c = {
        "churn_risk": churn_component(inputs.churn_risk, w),
        "customer_value": value_component(inputs.lifetime_value, w),
        "urgency": urgency_component(inputs.priority, w),
        "age": age_component(inputs.waiting_seconds, inputs.response_target_seconds, w),
        "difficulty": difficulty_component(inputs.difficulty, w),
        "sentiment": sentiment_component(inputs.sentiment, w),
        "topic_alert": w.topic_alert_boost if inputs.matches_topic_alert else 0.0,
    }
    reasons = [
        f"churn risk {inputs.churn_risk:.2f} x {w.churn:g}",
        f"lifetime value {inputs.lifetime_value:,.0f} / 1000 x {w.value:g}",
        f"{inputs.priority} priority ({URGENCY.get(inputs.priority, 1.0):g}) x {w.urgency:g}",
    ]
    share = age_share(inputs.waiting_seconds, inputs.response_target_seconds)
    if inputs.waiting_seconds is None:
        reasons.append("not waiting on us: no age boost")
    else:
        reasons.append(f"{share:.0%} of the response target used (capped at {w.age_cap:g}x) x {w.age:g}")
    if c["difficulty"]:
        reasons.append(f"{inputs.difficulty} issue")
    if c["sentiment"]:
        reasons.append(f"frustrated customer (sentiment {inputs.sentiment:.2f} < {w.sentiment_threshold:g})")
    if c["topic_alert"]:
        reasons.append("matches an active topic alert")
    return Score(total=sum(c.values()), components=c, reasons=reasons)


def rounded(components: dict[str, float], digits: int = 2) -> dict[str, float]:
    """Display form: 0.8 x 3.0 is 2.4000000000000004 in binary floating point; people expect 2.4."""
    return {k: round(v, digits) + 0.0 for k, v in components.items()}
