"""Deterministic inputs shaped like the features' real ones (ticket replies, deal nudges)."""

import random

FIRST = ["Dana", "Omar", "Priya", "Maria", "Jon", "Aiko", "Lena", "Sam"]
LAST = ["Smith", "Okafor", "Patel", "Garcia", "Berg", "Tanaka", "Novak", "Reid"]
TOPICS = ["refund", "late delivery", "tariff change", "meter reading", "renewal pricing", "invoice copy"]


def items(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        topic = rng.choice(TOPICS)
        rows.append(
            {
                "customer": name,
                "subject": f"Question about {topic} (#{1000 + i})",
                "body": f"Hello, this is {name}. I have a question about my {topic}. Order {1000 + i} "
                f"was placed on 2026-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}. " * rng.randint(1, 4),
                "amount": round(rng.uniform(20, 5000), 2),
                "stage": rng.choice(["lead", "proposal", "negotiation"]),
            }
        )
    return rows


def offline_reply(inputs: dict) -> str:
    """What a feature's offline writer does: a short grounded text from the facts given."""
    return (
        f"Hello {inputs['customer'].split()[0]}, thank you for your message about "
        f"{inputs['subject'].lower()}. We are looking at it and will reply today."
    )
