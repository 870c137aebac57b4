"""Plans: the deal summary, the five-input cache, the seed's limits and channel rules."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import Activity, Contact
from llm import use_provider
from llm.testing import FakeProvider, reply
from nudges import context, plans, summary
from nudges.models import ContextVersion, DealSummary, Plan, PromptTemplate
from nudges.plan_errors import PlanError
from nudges.tests.conftest import add_email

pytestmark = pytest.mark.django_db


def counts(plan):
    by = plan.items_by_priority()
    return {p: len(v) for p, v in by.items()}


def test_plan_has_the_seeds_counts_and_full_content_only_for_p0(stale_deal):
    plan, cached = plans.plan_for_deal(deal=stale_deal)
    c = counts(plan)
    assert not cached
    assert 1 <= c["P0"] <= 2 and 2 <= c["P1"] <= 3 and 1 <= c["P2"] <= 3
    for item in plan.items.all():
        if item.priority == "P0":
            assert item.content_text() and item.timing and item.prerequisites
        else:
            assert not item.content and item.outline
    assert plan.situation["engagement_level"] in ("high", "medium", "low", "none")
    assert plan.public_id.startswith("rec_")


def test_second_request_is_served_from_the_cache_without_a_model_call(stale_deal):
    fake = FakeProvider([])
    first, _ = plans.plan_for_deal(deal=stale_deal)
    with use_provider(fake):
        again, cached = plans.plan_for_deal(deal=stale_deal)
    assert cached and again.pk == first.pk
    assert fake.requests == []


@pytest.mark.parametrize("change", ["deal", "campaign", "context", "template", "summary"])
def test_each_of_the_five_inputs_regenerates_the_plan(stale_deal, change, team):
    first, _ = plans.plan_for_deal(deal=stale_deal)
    campaign = ""
    if change == "deal":
        stale_deal.next_step = "Send the signed order form"
        stale_deal.save()
    elif change == "campaign":
        campaign = "Q4 product launch"
    elif change == "context":
        context.save_sections(team_id=team.pk, sections={"Target Audience": "Retailers"}, actor=None)
    elif change == "template":
        PromptTemplate.objects.create(team=team, name="short", body="Be brief. {{company_context}}", is_active=True)
    elif change == "summary":
        add_email(stale_deal, direction="in", days_ago=0, body="Can we discuss pricing?")
    second, cached = plans.plan_for_deal(deal=stale_deal, campaign_context=campaign)
    assert not cached and second.pk != first.pk
    assert second.cache_key != first.cache_key


def test_ttl_and_force_refresh_regenerate(stale_deal, settings):
    first, _ = plans.plan_for_deal(deal=stale_deal)
    forced, cached = plans.plan_for_deal(deal=stale_deal, force_refresh=True)
    assert not cached and forced.pk != first.pk
    later = timezone.now() + timedelta(minutes=settings.PLANS_CACHE_TTL_MINUTES + 1)
    Plan.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    expired, cached = plans.plan_for_deal(deal=stale_deal, now=later - timedelta(minutes=61))
    assert not cached


def test_summary_is_stored_and_reused_while_its_inputs_do_not_change(stale_deal):
    data = summary.deal_data(stale_deal)
    first, h1 = summary.summary_for(stale_deal, data)
    built = DealSummary.objects.get(deal=stale_deal).built_at
    again, h2 = summary.summary_for(stale_deal, summary.deal_data(stale_deal))
    assert h1 == h2 and DealSummary.objects.get(deal=stale_deal).built_at == built
    assert first["emails"]["messages"] == 2
    assert first["last_interaction"]["direction"] == "in"


def test_opted_out_contact_gets_no_action(stale_deal):
    Contact.objects.filter(pk=stale_deal.primary_contact_id).update(opted_out=True)
    plan, _ = plans.plan_for_deal(deal=stale_deal)
    assert all(i.contact_name != "Dana Smith" for i in plan.items.all())
    assert plan.items.filter(priority="P0").exists()


def test_whatsapp_only_for_existing_relationships(stale_deal, account):
    new = Contact.objects.create(
        account=account, name="Wanda New", phone="+44 20 7946 0000", preferred_channel="whatsapp"
    )
    data = summary.deal_data(stale_deal)
    from nudges import channels

    reach = {r.name: r.channels for r in channels.reachable(data["contacts"], data["timeline"])}
    assert reach["Wanda New"][0] == "whatsapp"  # she asked for it
    Contact.objects.filter(pk=new.pk).update(preferred_channel="email")
    data = summary.deal_data(stale_deal)
    reach = {r.name: r.channels for r in channels.reachable(data["contacts"], data["timeline"])}
    assert "whatsapp" not in reach["Wanda New"]  # never wrote to us, never asked


def test_preferred_channel_comes_first(stale_deal):
    Contact.objects.filter(pk=stale_deal.primary_contact_id).update(phone="+44 20 7946 0001", preferred_channel="phone")
    stale_deal.refresh_from_db()
    plan, _ = plans.plan_for_deal(deal=stale_deal)
    assert plan.items.filter(priority="P0").first().channel == "phone"


def test_unknown_deal_and_external_id(stale_deal, agent, outsider):
    stale_deal.external_id = "690daec017db693613964d23"
    stale_deal.save()
    assert plans.resolve_deal("690daec017db693613964d23").pk == stale_deal.pk
    assert plans.resolve_deal(str(stale_deal.pk), user=agent).pk == stale_deal.pk
    with pytest.raises(PlanError) as err:
        plans.resolve_deal(str(stale_deal.pk), user=outsider)
    assert err.value.code == "not_found"
    with pytest.raises(PlanError):
        plans.resolve_deal("999999")


def test_template_missing_placeholder_is_refused_before_any_model_call(stale_deal):
    fake = FakeProvider([])
    with use_provider(fake), pytest.raises(PlanError) as err:
        plans.plan_for_deal(deal=stale_deal, template_text="Write a plan.")
    assert "{{company_context}}" in err.value.message
    assert fake.requests == []


def test_model_plan_is_held_to_the_rules(stale_deal):
    too_many = {
        "situation": {"engagement_level": "low", "last_interaction": "x", "key_themes": [], "analysis": "a"},
        "actions": [
            {"priority": "P0", "channel": "email", "action_type": "follow_up", "title": f"t{i}", "contact": "Dana Smith",
             "timing": "today", "prerequisites": ["a"], "rationale": "r", "content": {"subject": "s", "body": "b"}}
            for i in range(4)
        ]
        + [{"priority": "P1", "channel": "whatsapp", "action_type": "x", "title": "w", "contact": "Dana Smith",
            "timing": "t", "prerequisites": [], "rationale": "r", "outline": ["o"]}],
    }  # fmt: skip
    with use_provider(FakeProvider([reply(data=too_many)])):
        plan, _ = plans.plan_for_deal(deal=stale_deal)
    c = counts(plan)
    assert c["P0"] == 2 and c["P1"] >= 2 and c["P2"] >= 1
    assert not plan.items.filter(channel="whatsapp").exists()  # Dana never asked for WhatsApp
    assert not plan.provenance["offline"]
    assert any(f.startswith("dropped:P0") for f in plan.provenance["fixes"])


def test_cache_stats_and_clear(stale_deal, team):
    plans.plan_for_deal(deal=stale_deal)
    stats = plans.cache_stats([team.pk])
    assert stats["total"] == 1 and stats["fresh"] == 1 and stats["expired"] == 0
    assert stats["context_updates"] == ContextVersion.objects.filter(team=team).count() == 1
    assert plans.clear_cache([team.pk]) == 1
    assert plans.cache_stats([team.pk])["total"] == 0
    _, cached = plans.plan_for_deal(deal=stale_deal)
    assert not cached


def test_deal_without_emails_gets_an_intro(deal):
    plan, _ = plans.plan_for_deal(deal=deal)
    p0 = plan.items.filter(priority="P0").first()
    assert p0.action_type == "intro" and p0.channel == "email"
    assert "Dana" in p0.content["body"]


def test_service_activity_counts_in_timeline(stale_deal):
    Activity.objects.create(
        account=stale_deal.account, deal=stale_deal, kind="call", direction="out", body="Talked pricing"
    )
    data = summary.deal_data(stale_deal)
    assert data["timeline"][0]["kind"] == "call"


def test_a_cache_hit_runs_one_query_on_postgresql_and_builds_no_summary(stale_deal, django_assert_num_queries):
    from django.db import connection

    first, _ = plans.plan_for_deal(deal=stale_deal)  # creates the context version and the settings row
    plans.plan_for_deal(deal=plans.resolve_deal(stale_deal.pk))  # the team's setup is now known by its stamps
    # PostgreSQL: the deal with its rows, stamps and newest cached plans. Elsewhere: the deal,
    # contacts, activities, nudge settings, context version, template, the plan lookup.
    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 7):
        hit, cached = plans.plan_for_deal(deal=plans.resolve_deal(stale_deal.pk))
    assert cached and hit.pk == first.pk
    # The plan served is the stored row, field for field.
    stored = Plan.objects.get(pk=first.pk)
    for f in Plan._meta.concrete_fields:
        assert getattr(hit, f.attname) == getattr(stored, f.attname), f.name
    assert hit.items.count() == stored.items.count() and not hit._state.adding


def test_a_deal_with_more_cached_plans_than_the_deal_query_reads_still_finds_its_plan(stale_deal):
    from nudges import plan_rows

    wanted, _ = plans.plan_for_deal(deal=stale_deal, campaign_context="spring")
    for i in range(plan_rows.PLAN_CANDIDATES + 1):  # newer plans of the same deal, other campaigns
        plans.plan_for_deal(deal=plans.resolve_deal(stale_deal.pk), campaign_context=f"other {i}")
    hit, cached = plans.plan_for_deal(deal=plans.resolve_deal(stale_deal.pk), campaign_context="spring")
    assert cached and hit.pk == wanted.pk
    Plan.objects.filter(pk=wanted.pk).update(in_cache=False)
    again, cached = plans.plan_for_deal(deal=plans.resolve_deal(stale_deal.pk), campaign_context="spring")
    assert not cached and again.pk != wanted.pk


def test_resolve_deal_by_id_for_a_user_sees_only_their_teams(stale_deal, agent, outsider):
    assert plans.resolve_deal(stale_deal.pk, user=agent).pk == stale_deal.pk
    with pytest.raises(PlanError) as err:
        plans.resolve_deal(stale_deal.pk, user=outsider)
    assert err.value.code == "not_found"
    deal = plans.resolve_deal(stale_deal.pk)
    assert deal.account.name and deal.stage.name and deal.owner_id == stale_deal.owner_id
    assert deal.amount == stale_deal.amount and deal.primary_contact_id == stale_deal.primary_contact_id


def test_postgresql_reads_the_same_rows_in_one_query_as_the_orm(stale_deal, contact, account):
    from django.db import connection

    from crm.models import Contact
    from nudges import plan_rows

    if connection.vendor != "postgresql":
        pytest.skip("the one-query path is PostgreSQL's")
    Contact.objects.create(account=account, name="Zoe Üñícode", email="zoe@example.com", time_zone="Asia/Tokyo")
    Activity.objects.create(account=account, deal=stale_deal, kind="call", direction="in", body="x" * 500,
                            occurred_at=timezone.now().replace(microsecond=120000))  # fmt: skip
    one = plans.resolve_deal(stale_deal.pk)
    in_one = summary.deal_data(one)  # the annotation is used once: this reads it
    again = plans.resolve_deal(stale_deal.pk)
    rows = plan_rows.rows_for([again])[again.pk]
    assert rows.stamps is not None and set(rows.stamps) == {"context", "template", "settings", "summary"}
    from unittest import mock

    with mock.patch.object(plan_rows, "one_query", return_value=False):
        via_orm = summary.deal_data(plans.resolve_deal(stale_deal.pk))
    assert in_one == via_orm == summary.assemble(again, rows.contacts, rows.timeline)
    assert in_one["timeline"][0]["snippet"] == "x" * summary.SNIPPET


def test_timing_windows_follow_the_contacts_time_zone(stale_deal):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    # Wednesday 09:30 in London is 18:30 in Tokyo: a Tokyo contact's email window for today is over.
    now = datetime(2026, 11, 25, 9, 30, tzinfo=ZoneInfo("Europe/London"))
    plan, _ = plans.plan_for_deal(deal=stale_deal, now=now)
    assert plan.items.filter(priority="P0", channel="email").first().timing == "Today 10:00–14:00"
    Contact.objects.filter(pk=stale_deal.primary_contact_id).update(time_zone="Asia/Tokyo")
    plan, _ = plans.plan_for_deal(deal=plans.resolve_deal(stale_deal.pk), now=now)
    assert plan.items.filter(priority="P0", channel="email").first().timing.startswith("Today (outside the best window")


def test_the_summary_hash_is_the_same_in_every_process():
    """The rule settings hold a frozenset, whose order follows the per-process hash seed: the cache
    key must not (a plan written by the command line is served to the web process)."""
    import subprocess
    import sys

    code = (
        "import django; django.setup(); from datetime import datetime, UTC; from nudges import rules, summary; "
        "print(summary.summary_input_hash('x', datetime(2026, 11, 27, tzinfo=UTC), rules.RuleConfig()))"
    )
    hashes = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": seed, "DJANGO_SETTINGS_MODULE": "config.settings_test"},
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }  # fmt: skip
    assert len(hashes) == 1 and len(hashes.pop()) == 64


def test_the_theme_scan_finds_exactly_what_the_whole_pattern_finds():
    import random

    rng = random.Random(12)
    words = [w for ws in summary.THEMES.values() for w in ws] + ["signed", "apis", "go", "live", "soc", "2", "of"]
    glue = [" ", "  ", "-", "_", ".", ", ", "\n", "é", "ſ", "\u212a", "İ", ""]
    for _ in range(1000):
        parts = []
        for _ in range(rng.randint(1, 12)):
            w = rng.choice(words)
            w = rng.choice([w, w.upper(), w.title(), w.replace("s", "ſ")])
            parts += [w, rng.choice(glue)]
        text = "".join(parts)
        expected = [summary._THEME_GROUPS[m.lastgroup] for m in summary._THEME_RE.finditer(text)]
        assert list(summary._theme_hits(text)) == expected, text


def test_time_slots_are_computed_once_per_hour_but_handed_out_as_copies():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from nudges import channels

    now = datetime(2026, 11, 25, 9, 30, tzinfo=ZoneInfo("Europe/London"))
    first = channels.slots(now)
    first["email"]["p0"] = "changed by a caller"
    assert channels.slots(now.replace(minute=59))["email"]["p0"] == "Today 10:00–14:00"
    assert channels.slots(now.replace(hour=15))["email"]["p0"].startswith("Today (outside the best window")


@pytest.mark.parametrize("own_row", [False, True])
def test_a_change_to_the_warning_settings_reaches_the_next_plan(stale_deal, team, own_row):
    """The team's setup is kept in the process by the stamps of its rows: the team's own settings
    row, else the global default's (NudgeSettings.for_team)."""
    from nudges.models import NudgeSettings

    plans.plan_for_deal(deal=stale_deal)
    first, _ = plans.plan_for_deal(deal=plans.resolve_deal(stale_deal.pk))
    row = NudgeSettings.objects.create(team=team) if own_row else NudgeSettings.global_default()
    row.min_idle_days = 3
    row.save()
    second, cached = plans.plan_for_deal(deal=plans.resolve_deal(stale_deal.pk))
    assert not cached and second.summary_hash != first.summary_hash
