"""The shipped sample files (`notifications/sample_data/`) and the benchmark's big files come from
this deterministic generator: an energy supplier's customers whose later outcome (closed or
switched supplier) depends on a hidden propensity that also shapes the signals in the files, the
way real churn leaves traces before it happens. Run `python -m notifications.sampledata DIR [N]`.
"""

from __future__ import annotations

import csv
import random
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

SNAPSHOT = date(2026, 11, 20)  # the day the sample files were "exported"
FILES = {
    "profiles": "Customer Profiles.csv",
    "activity": "Account Activity Logs.csv",
    "interactions": "Interaction History.csv",
    "notifications": "Notification History.csv",
    "actions": "Recommended Actions.csv",
}
HEADERS = {
    "profiles": [
        "customer_id", "first_name", "last_name", "email", "phone", "region", "tariff", "payment_method",
        "monthly_spend_gbp", "tenure_months", "green_tariff", "preferred_channel", "marketing_consent",
    ],
    "activity": [
        "customer_id", "account_status", "engagement_score", "churn_risk", "last_login", "payment_status",
        "contract_end", "outcome", "outcome_date",
    ],
    "interactions": ["interaction_id", "customer_id", "date", "channel", "category", "summary", "sentiment"],
    "notifications": ["notification_id", "customer_id", "sent_at", "channel", "subject", "opened", "clicked", "responded"],
    "actions": ["action_id", "customer_id", "action", "offer", "priority", "valid_until"],
}  # fmt: skip

FIRST = "Oliver Amelia George Isla Harry Ava Noah Mia Jack Ivy Leo Freya Arthur Florence Muhammad Lily Oscar Rosie Charlie Grace Jacob Willow Thomas Evie Henry Sophia Alfie Ella Theo Poppy Archie Daisy Joshua Phoebe Samuel Harriet Priya Aisha Kwame Siobhan".split()
LAST = "Smith Jones Taylor Brown Williams Wilson Johnson Davies Patel Wright Robinson Thompson Evans Walker White Roberts Green Hall Wood Jackson Clarke Hughes Edwards Khan Lewis Harris Turner Hill Cooper Ward Morris Moore Clark Baker Okafor Nowak Murphy Kelly Begum Shah".split()
REGIONS = [
    "London",
    "South East",
    "South West",
    "Midlands",
    "North West",
    "North East",
    "Yorkshire",
    "Scotland",
    "Wales",
]
TARIFFS = ["Standard Variable", "Fixed Saver 12M", "Fixed Saver 24M", "Green Fixed 12M", "Economy 7"]
CATEGORIES = [
    ("Billing", "Asked why the last bill was higher than expected"),
    ("Billing", "Queried an estimated meter reading on the bill"),
    ("Complaint", "Complained about being kept on hold"),
    ("Complaint", "Complained about a direct debit increase"),
    ("Tariff enquiry", "Asked whether a cheaper fixed tariff is available"),
    ("Tariff enquiry", "Said a comparison site quoted a lower price"),
    ("Smart meter", "Booked a smart meter installation"),
    ("Payment plan", "Asked to spread arrears over more months"),
    ("Moving home", "Gave notice of a house move"),
    ("Praise", "Thanked the agent for sorting out the account"),
]
SUBJECTS = [
    "Your bill is ready",
    "Winter energy-saving tips",
    "Your tariff options",
    "Smart meter installation",
    "Price cap update",
    "Your annual statement",
]
ACTIONS = [
    ("Offer a fixed tariff", "Fixed Saver 12M tariff"),
    ("Offer a payment plan", "Payment plan over 6 months"),
    ("Book a smart meter installation", ""),
    ("Send energy-saving tips", ""),
    ("Loyalty reward", "£50 account credit"),
    ("Review the direct debit", ""),
]


def _clamp(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))


def customers(n: int, seed: int = 5) -> Iterator[dict[str, list[list[str]]]]:
    """One customer at a time: {file kind: [rows]} (streams; nothing kept between customers)."""
    rng = random.Random(seed)
    iid = nid = aid = 0
    for i in range(1, n + 1):
        cid = f"CUST-{i:05d}" if n < 100_000 else f"CUST-{i:07d}"
        z = rng.random() ** 1.3  # hidden propensity to leave; most customers are content
        churned = rng.random() < 0.02 + 0.9 * z**3
        value_seeker = rng.random() < 0.27
        first, last = rng.choice(FIRST), rng.choice(LAST)
        tariff = "Standard Variable" if value_seeker and rng.random() < 0.7 else rng.choice(TARIFFS)
        spend = round(_clamp(rng.gauss(85 if not value_seeker else 105, 25), 25, 260), 2)
        tenure = int(_clamp(rng.gauss(48 - 30 * z, 24), 1, 180))
        channel = rng.choice(["email", "email", "sms", "phone", "chat"])
        rows: dict[str, list[list[str]]] = {k: [] for k in FILES}
        rows["profiles"].append([
            cid, first, last, f"{first.lower()}.{last.lower()}{i}@example.co.uk", f"+44 7700 9{i % 100000:05d}",
            rng.choice(REGIONS), tariff, rng.choice(["Direct debit", "Direct debit", "Pay on receipt", "Prepayment"]),
            f"{spend:.2f}", str(tenure), "yes" if "Green" in tariff or rng.random() < 0.1 else "no", channel,
            "no" if rng.random() < 0.08 else "yes",
        ])  # fmt: skip
        pay = "missed" if rng.random() < 0.12 * z else "late" if rng.random() < 0.35 * z else "on_time"
        contract_end = SNAPSHOT + timedelta(
            days=rng.randint(5, 60) if rng.random() < 0.15 + 0.3 * z else rng.randint(61, 700)
        )
        outcome, outcome_date = "", ""
        if churned:
            outcome = rng.choice(["switched supplier", "switched supplier", "closed"])
            outcome_date = (SNAPSHOT + timedelta(days=rng.randint(10, 120))).isoformat()
        rows["activity"].append([
            cid, "Active" if pay == "on_time" else "In arrears", str(int(_clamp(rng.gauss(75 - 55 * z, 12), 0, 100))),
            f"{_clamp(rng.gauss(0.15 + 0.6 * z, 0.12), 0, 1):.2f}",
            (SNAPSHOT - timedelta(days=int(rng.expovariate(1 / (10 + 120 * z))))).isoformat(), pay,
            contract_end.isoformat(), outcome, outcome_date,
        ])  # fmt: skip
        for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4])):
            iid += 1
            if value_seeker and rng.random() < 0.5:
                category, summary = CATEGORIES[rng.choice([4, 5])]
            else:
                category, summary = rng.choice(CATEGORIES)
            if category in ("Complaint", "Tariff enquiry") and rng.random() > 0.3 + 0.7 * z and not value_seeker:
                category, summary = CATEGORIES[rng.choice([6, 9])]
            sentiment = _clamp(rng.gauss(0.4 - 1.0 * z, 0.3), -1, 1)
            if category == "Praise":
                sentiment = abs(sentiment)
            rows["interactions"].append([
                f"INT-{iid:07d}", cid, (SNAPSHOT - timedelta(days=rng.randint(1, 170))).isoformat(),
                rng.choice(["phone", "email", "chat"]), category, summary, f"{sentiment:.2f}",
            ])  # fmt: skip
        for _ in range(rng.choice([0, 1, 2, 2, 3])):
            nid += 1
            opened = rng.random() < 0.7 - 0.5 * z
            clicked = opened and rng.random() < 0.4
            rows["notifications"].append([
                f"NOT-{nid:07d}", cid, (SNAPSHOT - timedelta(days=rng.randint(1, 150))).isoformat(), "email",
                rng.choice(SUBJECTS), _yn(opened), _yn(clicked), _yn(clicked and rng.random() < 0.5),
            ])  # fmt: skip
        if rng.random() < 0.65:
            aid += 1
            action, offer = ACTIONS[0] if value_seeker and rng.random() < 0.6 else rng.choice(ACTIONS)
            rows["actions"].append([
                f"ACT-{aid:07d}", cid, action, offer, rng.choice(["High", "Medium", "Low"]),
                (SNAPSHOT + timedelta(days=rng.randint(20, 90))).isoformat(),
            ])  # fmt: skip
        yield rows


def _yn(flag: bool) -> str:
    return "yes" if flag else "no"


def write(folder: Path, n: int, seed: int = 5, kinds=tuple(FILES)) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {k: folder / FILES[k] for k in kinds}
    handles = {k: paths[k].open("w", newline="", encoding="utf-8") for k in kinds}
    try:
        writers = {k: csv.writer(h) for k, h in handles.items()}
        for k, w in writers.items():
            w.writerow(HEADERS[k])
        for rows in customers(n, seed):
            for k, w in writers.items():
                w.writerows(rows[k])
    finally:
        for h in handles.values():
            h.close()
    return paths


if __name__ == "__main__":  # pragma: no cover
    write(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 240)
