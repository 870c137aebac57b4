"""Risk score 1-10 with the factors that raised or lowered it, and the priority it implies.

Pure: takes plain facts and `today`, returns dataclasses with reasons. The weights are a
hand-set scorecard (not a fitted model): each one is a retention signal an agent would name, and
`risk_check` measures on the data how well the result finds customers who later left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

BASE = 3.0
# Interactions and notifications older than this no longer count as "recent" signals: a quarter
# is the billing cycle most UK suppliers use.
RECENT_DAYS = 90


@dataclass(frozen=True)
class InteractionFact:
    ref: str  # the interaction id from Interaction History
    on: date
    category: str
    sentiment: float | None
    summary: str = ""


@dataclass(frozen=True)
class NotificationFact:
    ref: str  # the notification id from Notification History
    sent_on: date
    subject: str
    opened: bool
    clicked: bool
    responded: bool


@dataclass(frozen=True)
class Facts:
    customer_id: str
    churn_risk: float | None = None
    engagement_score: int | None = None
    payment_status: str = ""
    contract_end: date | None = None
    last_login: date | None = None
    tenure_months: int | None = None
    account_status: str = ""
    interactions: tuple[InteractionFact, ...] = ()
    notifications: tuple[NotificationFact, ...] = ()


@dataclass(frozen=True)
class Factor:
    label: str
    delta: float
    kind: str  # which file the data point comes from: profile, activity, interaction, notification
    ref: str  # the id of the record in that file

    @property
    def raises(self) -> bool:
        return self.delta > 0


@dataclass(frozen=True)
class Risk:
    score: int
    factors: tuple[Factor, ...] = field(default_factory=tuple)
    raw: float = 0.0  # before rounding and clamping: orders customers within one score
    priority: str = "Low"  # High / Medium / Low (the seed's words)
    level: str = "routine"  # critical / important / routine (the console's words)
    urgency: str = ""


PRIORITY_LEVEL = {"High": "critical", "Medium": "important", "Low": "routine"}
LEVEL_LABEL = {"critical": "Critical", "important": "Important", "routine": "Routine"}
URGENCY = {"High": "Contact within 24 hours", "Medium": "Contact within 3 days", "Low": "Contact within 2 weeks"}


def is_price_enquiry(category: str) -> bool:
    c = category.lower()
    return "tariff" in c or "price" in c or "switch" in c or "quote" in c


def is_billing(category: str) -> bool:
    c = category.lower()
    return "bill" in c or "payment" in c or "direct debit" in c or "refund" in c


def is_complaint(category: str) -> bool:
    return "complaint" in category.lower()


def score(facts: Facts, today: date) -> Risk:
    factors: list[Factor] = []
    cid = facts.customer_id

    def add(label: str, delta: float, kind: str, ref: str) -> None:
        factors.append(Factor(label, round(delta, 2), kind, ref))

    if facts.churn_risk is not None and abs(facts.churn_risk - 0.3) >= 0.1:
        add(f"Churn risk {facts.churn_risk:.2f} in the activity log", (facts.churn_risk - 0.3) * 8, "activity", cid)
    if facts.engagement_score is not None:
        if facts.engagement_score < 30:
            add(f"Low engagement score ({facts.engagement_score})", 1.5, "activity", cid)
        elif facts.engagement_score >= 70:
            add(f"High engagement score ({facts.engagement_score})", -1.0, "activity", cid)
    status = facts.payment_status.lower()
    if status == "missed":
        add("Missed payment", 2.0, "activity", cid)
    elif status == "late":
        add("Late payment", 1.0, "activity", cid)
    if facts.contract_end is not None:
        days = (facts.contract_end - today).days
        if 0 <= days <= 30:
            add(f"Contract ends in {days} days ({facts.contract_end:%d %B %Y})", 1.5, "activity", cid)
        elif 30 < days <= 60:
            add(f"Contract ends in {days} days ({facts.contract_end:%d %B %Y})", 0.75, "activity", cid)
    if facts.last_login is not None and (today - facts.last_login).days > 90:
        add(f"No login since {facts.last_login:%d %B %Y}", 0.5, "activity", cid)
    if facts.tenure_months is not None:
        if facts.tenure_months >= 60:
            add(f"Customer for {facts.tenure_months} months", -1.0, "profile", cid)
        elif facts.tenure_months < 12:
            add(f"Customer for only {facts.tenure_months} months", 0.5, "profile", cid)

    recent = [i for i in facts.interactions if 0 <= (today - i.on).days <= RECENT_DAYS]
    negative = [i for i in recent if i.sentiment is not None and i.sentiment < -0.2]
    for i in negative[:3]:  # three angry calls say as much as more would
        add(f"Negative {i.category.lower()} interaction on {i.on:%d %B %Y}", 0.75, "interaction", i.ref)
    for i in [i for i in recent if is_complaint(i.category)][:1]:
        add(f"Complaint on {i.on:%d %B %Y}", 1.0, "interaction", i.ref)
    for i in [i for i in recent if is_price_enquiry(i.category)][:1]:
        add(f"Asked about tariffs or switching on {i.on:%d %B %Y}", 1.0, "interaction", i.ref)
    for i in [i for i in recent if is_billing(i.category)][:3]:
        add(f"Billing contact on {i.on:%d %B %Y}", 0.5, "interaction", i.ref)
    positive = [i for i in recent if i.sentiment is not None and i.sentiment > 0.5]
    if positive and not negative:
        add(
            f"Positive {positive[0].category.lower()} interaction on {positive[0].on:%d %B %Y}",
            -0.5,
            "interaction",
            positive[0].ref,
        )

    sent = [n for n in facts.notifications if 0 <= (today - n.sent_on).days <= RECENT_DAYS]
    if len(sent) >= 2 and not any(n.opened for n in sent):
        add(
            f"Ignored {len(sent)} notifications since {min(n.sent_on for n in sent):%d %B %Y}",
            1.0,
            "notification",
            sent[0].ref,
        )
    responded = [n for n in sent if n.responded]
    if responded:
        add(f"Responded to “{responded[0].subject}”", -0.5, "notification", responded[0].ref)

    raw = BASE + sum(f.delta for f in factors)
    value = max(1, min(10, round(raw)))
    factors.sort(key=lambda f: -abs(f.delta))
    return _with_priority(value, tuple(factors), facts, today, raw)


def _with_priority(value: int, factors: tuple[Factor, ...], facts: Facts, today: date, raw: float) -> Risk:
    priority = "High" if value >= 7 else "Medium" if value >= 4 else "Low"
    # A contract about to end is a deadline whatever the score: the switching window closes.
    if priority == "Low" and facts.contract_end is not None and 0 <= (facts.contract_end - today).days <= 14:
        priority = "Medium"
    return Risk(value, factors, raw, priority, PRIORITY_LEVEL[priority], URGENCY[priority])


@dataclass(frozen=True)
class RiskCheck:
    """How the score did on customers whose outcome is known (closed or switched later)."""

    customers: int
    churned: int
    found_in_top: int  # churned customers among the riskiest `top_share`
    top_share: float
    histogram: tuple[tuple[int, int, int], ...]  # (score, customers, churned)

    @property
    def recall(self) -> float | None:
        return self.found_in_top / self.churned if self.churned else None

    @property
    def meets_target(self) -> bool:
        return self.recall is not None and self.recall >= TARGET_RECALL


TOP_SHARE = 0.30
TARGET_RECALL = 0.50


def risk_check(rows: list[tuple[int, float, bool]], top_share: float = TOP_SHARE) -> RiskCheck:
    """rows: (risk score, raw score, churned later). The riskiest `top_share` of customers by score,
    then raw score; exact ties are broken against the score (non-churned first), so no churned
    customer counts as found by luck."""
    ordered = sorted(rows, key=lambda r: (-r[0], -r[1], r[2]))
    top = ordered[: round(len(ordered) * top_share)]
    hist = {s: [0, 0] for s in range(1, 11)}
    for s, _, churned in rows:
        hist[s][0] += 1
        hist[s][1] += int(churned)
    return RiskCheck(
        customers=len(rows),
        churned=sum(1 for *_, c in rows if c),
        found_in_top=sum(1 for *_, c in top if c),
        top_share=top_share,
        histogram=tuple((s, n, c) for s, (n, c) in hist.items()),
    )
