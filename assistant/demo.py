"""The co-pilot's part of the demo world: the seed's TechGiant (Electronics, $120,000 spend year to
date, an account manager) and the sample playbook PDF imported for each sales team."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from django.contrib.auth import get_user_model

from assistant.playbook import import_playbook
from crm.models import Account, Contact, Team

SAMPLE_PDF = Path(__file__).resolve().parent / "sample_data" / "sales_playbook.pdf"
SALES_TEAMS = ("enterprise-sales", "midmarket-sales")


def ensure_techgiant(team: Team, manager) -> Account:
    """The seed's client. The crm demo already names one of its generated accounts TechGiant: that
    one becomes the seed's (one TechGiant per team, or the co-pilot would have two to choose from)."""
    existing = Account.objects.filter(team=team, name="TechGiant").exclude(external_id="demo-techgiant").first()
    lookup = {"pk": existing.pk} if existing else {"team": team, "external_id": "demo-techgiant"}
    if existing:  # an earlier load made its own TechGiant beside the generated one
        Account.objects.filter(team=team, external_id="demo-techgiant").delete()
    account, _ = Account.objects.update_or_create(
        **lookup,
        defaults={
            "name": "TechGiant",
            "kind": Account.Kind.BUSINESS,
            "industry": "Electronics",
            "total_spend": Decimal("120000"),
            "account_manager": manager,
            "lifetime_value": Decimal("310000"),
            "churn_risk": 0.15,
        },
    )
    Contact.objects.update_or_create(
        account=account,
        external_id="demo-techgiant-c0",
        defaults={"name": "Morgan Lee", "title": "Head of Marketing", "email": "morgan.lee@techgiant.example"},
    )
    return account


def load() -> str:
    teams = {t.slug: t for t in Team.objects.filter(slug__in=SALES_TEAMS)}
    if "enterprise-sales" not in teams:
        return "Co-pilot: no sales team, skipped."
    dana = get_user_model().objects.filter(username="dana").first()
    ensure_techgiant(teams["enterprise-sales"], dana)
    data = SAMPLE_PDF.read_bytes()
    passages = 0
    for team in teams.values():
        doc = import_playbook(team=team, data=data, file_name=SAMPLE_PDF.name, title="Sales playbook")
        passages += doc.passages.count()
    return f"Co-pilot: TechGiant and the sample playbook ({passages} passages across {len(teams)} teams)."
