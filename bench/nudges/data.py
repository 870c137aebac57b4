"""Bench data for deal nudges: N open deals with email threads, loaded with COPY, plus the same
data in the seed's files (crm_events.csv and emails.json) for the seed's approach.

Deterministic (seeded). Each deal has its own account and contact; the contact has a usual reply
time (1 to 72 hours); a share of threads end with our unanswered emails (ghosting); last
activity is spread over the last 60 days, so most deals are past the 7-day threshold.
"""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.db import connection

from crm.demo import ensure_stages
from crm.models import Account, Activity, Contact, Deal, Team

OPEN_STAGES = ["lead", "qualification", "proposal", "negotiation"]
OURS = [
    "Dear {f}, following up on the proposal. Did the revised pricing reach procurement? Kind regards",
    "Hi {f}! Quick one: could we book 30 minutes next week? Cheers",
]
THEIRS = ["Thanks, we are reviewing internally.", "Sounds good, let me check with finance."]


def _copy(table: str, columns: list[str], rows) -> None:
    with connection.cursor() as cur:
        raw = cur.cursor  # psycopg 3 cursor under Django's wrapper
        with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def reset(team_slug: str = "bench") -> None:
    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE nudges_nudge, crm_activity, crm_deal, crm_contact, crm_account, nudges_nudgesettings, "
            "nudges_dealsignals, nudges_contactsignals, nudges_signalsstate RESTART IDENTITY CASCADE"
        )
    Team.objects.filter(slug=team_slug).delete()


def generate(*, deals: int, messages: int, now: datetime, out_dir: Path, seed: int = 5) -> dict:
    """Load the rows with COPY and write the seed files; returns counts and ids."""
    rng = random.Random(seed)
    stages = ensure_stages()
    reset()
    team = Team.objects.create(name="Bench", slug="bench")
    per_deal = max(1, messages // deals)
    stage_ids = {slug: stages[slug].pk for slug in OPEN_STAGES}

    def account_rows():
        for i in range(1, deals + 1):
            yield (
                i,
                team.pk,
                f"Account {i}",
                "business",
                f"bench-{i}",
                "",
                0,
                None,
                0,
                0.0,
                False,
                "",
                "",
                "{}",
                now,
                now,
            )

    _copy(
        Account._meta.db_table,
        [
            "id",
            "team_id",
            "name",
            "kind",
            "external_id",
            "industry",
            "total_spend",
            "account_manager_id",
            "lifetime_value",
            "churn_risk",
            "is_vip",
            "segment",
            "account_status",
            "extra",
            "created_at",
            "updated_at",
        ],
        account_rows(),
    )

    def contact_rows():
        for i in range(1, deals + 1):
            yield (i, i, f"Buyer{i} Person", "", f"buyer{i}@client{i}.example", "", "email", "en", False, "", now, "")

    _copy(
        Contact._meta.db_table,
        [
            "id",
            "account_id",
            "name",
            "title",
            "email",
            "phone",
            "preferred_channel",
            "language",
            "opted_out",
            "external_id",
            "created_at",
            "time_zone",  # NOT NULL since crm 0003; blank = the server's time zone
        ],
        contact_rows(),
    )

    # Plan each deal: its last activity, stage, amount and thread shape.
    plans = []
    for i in range(1, deals + 1):
        idle = rng.uniform(0, 60)
        last = now - timedelta(days=idle)
        stage = rng.choice(OPEN_STAGES)
        amount = rng.randrange(1_000, 100_000, 50)
        reply_h = rng.choice([1, 3, 8, 20, 30, 48, 72])
        ghosted = rng.random() < 0.25
        next_due = (now + timedelta(days=rng.randint(1, 20))).date() if rng.random() < 0.1 else None
        snoozed = (now + timedelta(days=rng.randint(1, 20))).date() if rng.random() < 0.05 else None
        plans.append((i, last, stage, amount, reply_h, ghosted, next_due, snoozed))

    def deal_rows():
        for i, last, stage, amount, _reply, _g, next_due, snoozed in plans:
            yield (
                i,
                team.pk,
                i,
                i,
                None,
                f"Deal {i}",
                str(i),
                stage_ids[stage],
                last - timedelta(days=rng.randint(0, 40)),
                amount,
                "EUR",
                "open",
                last,
                "Send order form" if next_due else "",
                next_due,
                snoozed,
                "Budget freeze" if snoozed else "",
                now - timedelta(days=200),
                now,
            )

    _copy(
        Deal._meta.db_table,
        [
            "id",
            "team_id",
            "account_id",
            "primary_contact_id",
            "owner_id",
            "name",
            "external_id",
            "stage_id",
            "stage_changed_at",
            "amount",
            "currency",
            "status",
            "last_activity_at",
            "next_step",
            "next_step_due",
            "snoozed_until",
            "snooze_reason",
            "created_at",
            "updated_at",
        ],
        deal_rows(),
    )

    csv_path = out_dir / "crm_events.csv"
    json_path = out_dir / "emails.json"
    threads = []
    activity_id = 0

    def activity_rows():
        nonlocal activity_id
        for i, last, _stage, _amount, reply_h, ghosted, _n, _s in plans:
            # The thread ends at `last`; walk backwards in alternating turns.
            at = last
            msgs = []
            for k in range(per_deal):
                # Walking back from the last message: a ghosted thread ends with two of ours
                # unanswered, the others with the buyer's reply.
                ours = (k < 2 or k % 2 == 0) if ghosted else (k % 2 == 1)
                msgs.append((at, ours))
                at = at - timedelta(hours=reply_h if not ours else rng.uniform(2, 30))
            msgs.reverse()
            thread = []
            for at, ours in msgs:
                activity_id += 1
                body = (OURS if ours else THEIRS)[i % 2].format(f=f"Buyer{i}")
                sender, to = (
                    ("rep@seller.example", f"buyer{i}@client{i}.example")
                    if ours
                    else (f"buyer{i}@client{i}.example", "rep@seller.example")
                )
                thread.append({"from": sender, "to": to, "ts": at.isoformat(), "body": body})
                yield (
                    activity_id,
                    i,
                    i,
                    i,
                    None,
                    "email",
                    "out" if ours else "in",
                    at,
                    "Re: Deal",
                    body,
                    f"t{i}",
                    sender,
                    to,
                    None,
                    "",
                    now,
                )
            threads.append({"deal_id": str(i), "thread": thread})

    _copy(
        Activity._meta.db_table,
        [
            "id",
            "account_id",
            "contact_id",
            "deal_id",
            "actor_id",
            "kind",
            "direction",
            "occurred_at",
            "subject",
            "body",
            "thread_id",
            "from_addr",
            "to_addr",
            "sentiment",
            "external_id",
            "created_at",
        ],
        activity_rows(),
    )
    with connection.cursor() as cur:
        for table in (Account, Contact, Deal, Activity):
            t = table._meta.db_table
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT MAX(id) FROM {t}))")
        cur.execute("ANALYZE")

    out_dir.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["deal_id", "amount_eur", "last_activity", "stage"])
    for i, last, stage, amount, *_ in plans:
        w.writerow([i, amount, last.date().isoformat(), stage])
    csv_path.write_text(buf.getvalue())
    json_path.write_text(json.dumps(threads))
    return {"team_id": team.pk, "deals": deals, "messages": activity_id, "csv": csv_path, "json": json_path}


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
