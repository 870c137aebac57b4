"""A deterministic demo world, and the row generators benchmarks reuse at scale.

Everything is derived from a seeded `random.Random`, and dates are relative to `now`, so a rerun
on the same day gives the same world and the stale-deal logic always has something to find.
Rows carry `external_id`s starting with "demo-" so a rerun updates instead of duplicating.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from crm.models import (
    ADMIN_GROUP,
    AGENT_GROUP,
    MANAGER_GROUP,
    Account,
    Activity,
    Contact,
    Deal,
    Membership,
    Order,
    Stage,
    Team,
)
from crm.roles import ensure_roles

DEMO_PASSWORD = "nexttouch-demo"  # noqa: S105 - printed on screen for the local demo only

STAGES = [
    # slug, name, win probability, days before a deal in this stage goes stale (None: global default)
    ("lead", "Lead", 0.05, 14),
    ("qualification", "Qualification", 0.2, 10),
    ("proposal", "Proposal", 0.4, 7),
    ("negotiation", "Negotiation", 0.6, 5),
    ("won", "Won", 1.0, None),
    ("lost", "Lost", 0.0, None),
]

TEAMS = [
    ("enterprise-sales", "Enterprise Sales"),
    ("midmarket-sales", "Mid-Market Sales"),
    ("customer-care", "Customer Care"),
    ("energy-retention", "Energy Retention"),
]

# username, first, last, groups, team slugs
USERS = [
    ("demo", "Alex", "Morgan", [AGENT_GROUP], ["enterprise-sales", "customer-care", "energy-retention"]),
    ("dana", "Dana", "Whitfield", [AGENT_GROUP], ["enterprise-sales", "customer-care"]),
    ("maria", "Maria", "Okafor", [MANAGER_GROUP], ["enterprise-sales", "customer-care", "energy-retention"]),
    ("omar", "Omar", "Haddad", [AGENT_GROUP], ["midmarket-sales"]),
    ("priya", "Priya", "Shah", [MANAGER_GROUP], ["midmarket-sales"]),
    ("admin", "Ada", "Admin", [ADMIN_GROUP], []),
]

COMPANY_PARTS = (
    ["Tech", "Nova", "Blue", "Green", "Peak", "Bright", "North", "Silver", "Urban", "Prime", "Vertex", "Harbor"],
    [
        "Giant",
        "Works",
        "Labs",
        "Systems",
        "Retail",
        "Foods",
        "Logistics",
        "Health",
        "Media",
        "Energy",
        "Motors",
        "Capital",
    ],
)
INDUSTRIES = ["Electronics", "Retail", "Healthcare", "Logistics", "Media", "Food & Beverage", "Finance", "Automotive"]
FIRST = [
    "Dana",
    "Sam",
    "Jordan",
    "Priya",
    "Chen",
    "Lucia",
    "Tom",
    "Aisha",
    "Marek",
    "Eva",
    "Noah",
    "Ines",
    "Kofi",
    "Yuki",
]
LAST = [
    "Smith",
    "Garcia",
    "Nguyen",
    "Kowalski",
    "Brown",
    "Rossi",
    "Okafor",
    "Müller",
    "Silva",
    "Tanaka",
    "Dubois",
    "Patel",
]
ENERGY_SEGMENTS = ["Value Seekers", "Green Advocates", "Comfort Seekers", "Tech Enthusiasts"]
ENERGY_STATUS = ["active", "active", "active", "payment_plan", "in_arrears", "switching_away"]

FORMAL_OPENERS = ["Dear {first},", "Good morning {first},", "Hello {first},"]
CASUAL_OPENERS = ["Hi {first}!", "Hey {first},", "{first} - quick one:"]
SELLER_LINES = [
    "following up on the proposal we sent last week. Did the revised pricing reach procurement?",
    "thanks for the call. I have attached the security questionnaire you asked for.",
    "could we book 30 minutes to walk through the rollout plan with your IT lead?",
    "just checking whether you had a chance to review the contract redlines.",
    "sharing the ROI model we discussed; happy to adjust the assumptions.",
]
BUYER_LINES = [
    "Thanks, we are reviewing internally and will come back to you by Friday.",
    "Procurement has the pricing now. Budget approval is the open question.",
    "Can you send the data processing agreement as well?",
    "Looks good. Let me loop in our finance director.",
    "We need to pause until the new budget year, sorry.",
]
TRACKING = ["Label created", "In transit", "Out for delivery", "Delivered", "No updates for 5 days", "Held at customs"]


@dataclass
class DemoSummary:
    teams: int
    users: int
    accounts: int
    deals: int
    activities: int
    orders: int


def company_name(rng: random.Random, i: int) -> str:
    a, b = COMPANY_PARTS
    return f"{a[i % len(a)]}{b[(i // len(a) + i) % len(b)]}" + ("" if i < len(a) * 2 else f" {i}")


def person_name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def email_for(name: str, domain: str) -> str:
    first, _, last = name.lower().partition(" ")
    ascii_last = last.encode("ascii", "ignore").decode() or "x"
    return f"{first}.{ascii_last}@{domain}"


def ensure_stages() -> dict[str, Stage]:
    stages = {}
    for order, (slug, name, p, stale) in enumerate(STAGES):
        stage, _ = Stage.objects.update_or_create(
            slug=slug, defaults={"name": name, "order": order, "win_probability": p, "stale_after_days": stale}
        )
        stages[slug] = stage
    return stages


def ensure_groups() -> None:
    ensure_roles()


def _ensure_users(teams: dict[str, Team]):
    User = get_user_model()
    users = {}
    for username, first, last, groups, team_slugs in USERS:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": f"{username}@nexttouch.example"},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
        user.is_staff = username in ("maria", "admin", "priya")
        user.is_superuser = username == "admin"
        user.save()
        user.groups.set(Group.objects.filter(name__in=groups))
        for slug in team_slugs:
            Membership.objects.get_or_create(user=user, team=teams[slug])
        users[username] = user
    return users


def _thread(rng, *, deal, contact, seller, now, ghosted: bool, formal: bool) -> list[dict]:
    """An email thread that ends `idle_days` ago; a ghosted buyer stops answering."""
    messages = []
    n = rng.randint(1, 6)
    start = now - timedelta(days=rng.randint(3, 40))
    at = start
    buyer_delay_h = rng.choice([2, 5, 20, 30, 48])
    for i in range(n):
        seller_turn = i % 2 == 0
        if ghosted and not seller_turn and i >= n - 2:
            break
        opener = (FORMAL_OPENERS if formal else CASUAL_OPENERS)[i % 3]
        if seller_turn:
            body = opener.format(first=contact.first_name) + " " + SELLER_LINES[(deal.pk + i) % len(SELLER_LINES)]
            body += "\n\nKind regards,\n" + seller.first_name if formal else "\n\nCheers, " + seller.first_name
            sender, to, direction = seller.email, contact.email, Activity.Direction.OUTBOUND
        else:
            body = BUYER_LINES[(deal.pk + i) % len(BUYER_LINES)]
            sender, to, direction = contact.email, seller.email, Activity.Direction.INBOUND
        messages.append({"from": sender, "to": to, "at": at, "body": body, "direction": direction})
        at = at + timedelta(hours=buyer_delay_h if seller_turn else rng.randint(4, 72))
        if at > now:
            break
    return messages


@transaction.atomic
def load_demo(*, seed: int = 7, now: datetime | None = None) -> DemoSummary:
    now = now or timezone.now()
    rng = random.Random(seed)
    ensure_groups()
    stages = ensure_stages()
    teams = {}
    for slug, name in TEAMS:
        teams[slug], _ = Team.objects.update_or_create(slug=slug, defaults={"name": name})
    users = _ensure_users(teams)
    sellers = {
        "enterprise-sales": [users["demo"], users["dana"], users["maria"]],
        "midmarket-sales": [users["omar"], users["priya"]],
    }
    counts = {"accounts": 0, "deals": 0, "activities": 0, "orders": 0}

    # Sales teams: businesses with industry, spend, contacts and deals with email threads (seeds 1-3).
    open_stages = ["lead", "qualification", "proposal", "negotiation"]
    deal_no = 0
    for team_slug, n_accounts in (("enterprise-sales", 28), ("midmarket-sales", 16)):
        team = teams[team_slug]
        for i in range(n_accounts):
            ext = f"demo-{team_slug}-{i}"
            name = company_name(rng, i + (0 if team_slug == "enterprise-sales" else 100))
            domain = name.lower().replace(" ", "") + ".example"
            account, _ = Account.objects.update_or_create(
                team=team,
                external_id=ext,
                defaults={
                    "name": name,
                    "kind": Account.Kind.BUSINESS,
                    "industry": INDUSTRIES[i % len(INDUSTRIES)],
                    "total_spend": Decimal(rng.randrange(10_000, 250_000, 500)),
                    "account_manager": sellers[team_slug][i % len(sellers[team_slug])],
                    "lifetime_value": Decimal(rng.randrange(5_000, 300_000, 100)),
                    "churn_risk": round(rng.random() * 0.6, 2),
                    "created_at": now - timedelta(days=400 - i),
                },
            )
            counts["accounts"] += 1
            contacts = []
            for c in range(rng.randint(1, 3)):
                pname = person_name(rng)
                contact, _ = Contact.objects.update_or_create(
                    account=account,
                    external_id=f"{ext}-c{c}",
                    defaults={
                        "name": pname,
                        "title": rng.choice(["CTO", "Head of Procurement", "VP Operations", "Finance Director"]),
                        "email": email_for(pname, domain),
                        "phone": f"+44 20 7946 {rng.randint(1000, 9999)}",
                        "preferred_channel": rng.choice(["email", "email", "phone", "linkedin"]),
                    },
                )
                contacts.append(contact)
            for d in range(rng.choice([1, 2, 3])):
                deal_no += 1
                owner = sellers[team_slug][(i + d) % len(sellers[team_slug])]
                roll = rng.random()
                status = Deal.Status.OPEN if roll < 0.8 else (Deal.Status.WON if roll < 0.9 else Deal.Status.LOST)
                stage = stages[rng.choice(open_stages)] if status == Deal.Status.OPEN else stages[status]
                contact = contacts[d % len(contacts)]
                next_due = (now + timedelta(days=rng.randint(1, 10))).date() if rng.random() < 0.2 else None
                deal, _ = Deal.objects.update_or_create(
                    team=team,
                    external_id=f"{ext}-d{d}",
                    defaults={
                        "account": account,
                        "primary_contact": contact,
                        "owner": owner,
                        "name": f"{account.name}: {rng.choice(['Platform licence', 'Renewal', 'Expansion', 'Pilot', 'Support plan'])}",
                        "stage": stage,
                        "stage_changed_at": now - timedelta(days=rng.randint(2, 45)),
                        "amount": Decimal(rng.randrange(2_000, 120_000, 250)),
                        "currency": "EUR",
                        "status": status,
                        "next_step": "Send revised order form" if next_due else "",
                        "next_step_due": next_due,
                        "created_at": now - timedelta(days=rng.randint(30, 200)),
                    },
                )
                counts["deals"] += 1
                thread = _thread(
                    rng,
                    deal=deal,
                    contact=contact,
                    seller=owner,
                    now=now,
                    ghosted=rng.random() < 0.25,
                    formal=rng.random() < 0.6,
                )
                for m_no, m in enumerate(thread):
                    Activity.objects.update_or_create(
                        account=account,
                        external_id=f"{ext}-d{d}-m{m_no}",
                        defaults={
                            "deal": deal,
                            "contact": contact,
                            "kind": Activity.Kind.EMAIL,
                            "direction": m["direction"],
                            "occurred_at": m["at"],
                            "subject": f"Re: {deal.name}",
                            "body": m["body"],
                            "thread_id": f"demo-thread-{deal.external_id}",
                            "from_addr": m["from"],
                            "to_addr": m["to"],
                        },
                    )
                    counts["activities"] += 1
                if rng.random() < 0.4:
                    Activity.objects.update_or_create(
                        account=account,
                        external_id=f"{ext}-d{d}-call",
                        defaults={
                            "deal": deal,
                            "contact": contact,
                            "actor": owner,
                            "kind": Activity.Kind.CALL,
                            "occurred_at": now - timedelta(days=rng.randint(1, 30), hours=rng.randint(0, 8)),
                            "subject": "Discovery call",
                            "body": f"Spoke with {contact.name} about timelines and budget.",
                        },
                    )
                    counts["activities"] += 1
                last = deal.activities.filter(kind__in=Activity.MEANINGFUL_KINDS).order_by("-occurred_at").first()
                Deal.objects.filter(pk=deal.pk).update(last_activity_at=last.occurred_at if last else None)

    # Customer care: e-commerce customers with value, churn risk, VIP, orders, service history (seed 4).
    care = teams["customer-care"]
    for i in range(20):
        ext = f"demo-care-{i}"
        pname = person_name(rng)
        ltv = Decimal(rng.choice([180, 420, 950, 1800, 3500, 7200]))
        account, _ = Account.objects.update_or_create(
            team=care,
            external_id=ext,
            defaults={
                "name": pname,
                "kind": Account.Kind.PERSON,
                "lifetime_value": ltv,
                "churn_risk": round(rng.random(), 2),
                "is_vip": ltv >= 3500,
                "created_at": now - timedelta(days=300 - i),
            },
        )
        counts["accounts"] += 1
        contact, _ = Contact.objects.update_or_create(
            account=account,
            external_id=f"{ext}-c0",
            defaults={
                "name": pname,
                "email": email_for(pname, "mail.example"),
                "phone": f"+1 555 01{rng.randint(10, 99)}",
                "preferred_channel": rng.choice(["email", "sms", "chat"]),
            },
        )
        for o in range(rng.randint(1, 4)):
            placed = now - timedelta(days=rng.randint(1, 120))
            status = rng.choice(["delivered", "delivered", "in_transit", "shipped", "returned"])
            Order.objects.update_or_create(
                account=account,
                number=f"{54000 + i * 10 + o}",
                defaults={
                    "amount": Decimal(rng.randrange(1500, 40000)) / 100,
                    "currency": "USD",
                    "status": status,
                    "tracking_status": rng.choice(TRACKING) if status != "delivered" else "Delivered",
                    "tracking_updated_at": placed + timedelta(days=rng.randint(0, 6)),
                    "placed_at": placed,
                },
            )
            counts["orders"] += 1
        for s in range(rng.randint(0, 2)):
            Activity.objects.update_or_create(
                account=account,
                external_id=f"{ext}-s{s}",
                defaults={
                    "contact": contact,
                    "kind": Activity.Kind.SERVICE,
                    "direction": Activity.Direction.INBOUND,
                    "occurred_at": now - timedelta(days=rng.randint(5, 200)),
                    "subject": rng.choice(["Late delivery", "Refund request", "Wrong size", "Billing question"]),
                    "body": "Resolved by the care team.",
                    "sentiment": round(rng.uniform(-0.8, 0.8), 2),
                },
            )
            counts["activities"] += 1

    # Energy retention: households with segments and account status (seed 5).
    energy = teams["energy-retention"]
    for i in range(18):
        ext = f"demo-energy-{i}"
        pname = person_name(rng)
        account, _ = Account.objects.update_or_create(
            team=energy,
            external_id=ext,
            defaults={
                "name": f"{pname} household",
                "kind": Account.Kind.PERSON,
                "segment": ENERGY_SEGMENTS[i % len(ENERGY_SEGMENTS)],
                "account_status": rng.choice(ENERGY_STATUS),
                "churn_risk": round(rng.random(), 2),
                "lifetime_value": Decimal(rng.randrange(600, 4000)),
                "extra": {
                    "tariff": rng.choice(["Fixed 12M", "Variable", "Green Fixed"]),
                    "engagement_score": rng.randint(1, 10),
                },
                "created_at": now - timedelta(days=700 - i),
            },
        )
        counts["accounts"] += 1
        Contact.objects.update_or_create(
            account=account,
            external_id=f"{ext}-c0",
            defaults={
                "name": pname,
                "email": email_for(pname, "home.example"),
                "phone": f"+44 7700 900{rng.randint(100, 999)}",
                "preferred_channel": rng.choice(["email", "sms"]),
                "opted_out": rng.random() < 0.1,
            },
        )

    return DemoSummary(
        teams=len(teams),
        users=len(users),
        accounts=counts["accounts"],
        deals=counts["deals"],
        activities=counts["activities"],
        orders=counts["orders"],
    )
