"""Materialised conversation signals: incremental refresh, edits, deletes, rebuilds."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from crm.models import Activity, Contact, Deal
from nudges import rules, scan, signals, tasks
from nudges.models import ContactSignals, DealSignals, SignalsState
from nudges.tests.conftest import add_email

FIELDS = (
    "last_touch_at",
    "waiting_since",
    "median_reply_hours",
    "gap_count",
    "gaps",
    "engaged_contacts",
    "replier_id",
    "usual_reply_hours",
    "usual_contact_id",
    "watermark",
)


def stored(deal_ids=None) -> dict:
    rows = DealSignals.objects.all() if deal_ids is None else DealSignals.objects.filter(deal_id__in=deal_ids)
    out = {}
    for row in rows.values("deal_id", *FIELDS):
        deal_id = row.pop("deal_id")
        row["gaps"] = [round(g, 6) for g in row["gaps"]]
        for name in ("median_reply_hours", "usual_reply_hours"):
            row[name] = None if row[name] is None else round(row[name], 6)
        out[deal_id] = row
    return out


def contacts() -> dict:
    return {c: round(m, 6) for c, m in ContactSignals.objects.values_list("contact_id", "median_reply_hours")}


def verdict(deal):
    (team_id, facts), *_ = scan.collect_facts(deal_ids=[deal.pk])
    return rules.evaluate(facts, rules.RuleConfig(), timezone.now())


@pytest.fixture
def ghosting_deal(deal):
    """Dana answers within an hour, twice; our email 5 days ago is unanswered: ghosted.

    One `now` for every email: reading the clock per row made the reply gaps 1.000004 hours on a
    busy machine instead of exactly 1."""
    now = timezone.now()
    add_email(deal, direction="out", days_ago=20, hours=1, now=now)
    add_email(deal, direction="in", days_ago=20, now=now)
    add_email(deal, direction="out", days_ago=10, hours=1, now=now)
    add_email(deal, direction="in", days_ago=10, now=now)
    add_email(deal, direction="out", days_ago=5, body="Did the pricing reach procurement?", now=now)
    deal.now = now  # tests that add emails of the same contact use this clock too
    return deal


def test_first_scan_builds_everything_then_only_new_touches_are_refreshed(ghosting_deal, fresh_deal):
    first = signals.refresh()
    assert first.full and first.deals == 1  # the fresh deal has no touches: no row
    assert set(stored()) == {ghosting_deal.pk}
    add_email(fresh_deal, direction="out", days_ago=3)
    second = signals.refresh()
    assert (second.full, second.deals) == (False, 1)
    assert set(stored()) == {ghosting_deal.pk, fresh_deal.pk}


def test_new_reply_after_a_scan_changes_the_signals_and_the_verdict(ghosting_deal):
    before = verdict(ghosting_deal)
    assert before.nudge and rules.GHOSTED in before.codes
    row = stored()[ghosting_deal.pk]
    assert row["gap_count"] == 2 and row["median_reply_hours"] == pytest.approx(1)
    assert row["waiting_since"] is not None

    reply = add_email(ghosting_deal, direction="in", days_ago=1)
    after = verdict(ghosting_deal)
    assert not after.nudge
    row = stored()[ghosting_deal.pk]
    assert row["waiting_since"] is None
    assert row["gap_count"] == 3
    assert row["watermark"] == reply.pk


def test_edited_activity_marks_its_deal_dirty_and_is_recomputed(ghosting_deal):
    reply = add_email(ghosting_deal, direction="in", days_ago=1)
    assert not verdict(ghosting_deal).nudge
    reply.direction = Activity.Direction.OUTBOUND  # it was ours after all
    reply.save()
    assert DealSignals.objects.get(deal=ghosting_deal).dirty
    after = verdict(ghosting_deal)
    assert rules.GHOSTED in after.codes
    assert not DealSignals.objects.get(deal=ghosting_deal).dirty


def test_deleted_activity_is_recomputed(ghosting_deal):
    reply = add_email(ghosting_deal, direction="in", days_ago=1)
    assert not verdict(ghosting_deal).nudge
    reply.delete()
    assert rules.GHOSTED in verdict(ghosting_deal).codes
    assert stored()[ghosting_deal.pk]["gap_count"] == 2


def test_activity_moved_to_another_deal_refreshes_both(ghosting_deal, fresh_deal):
    signals.refresh()
    note = Activity.objects.create(
        account=fresh_deal.account, deal=fresh_deal, kind=Activity.Kind.NOTE, occurred_at=timezone.now()
    )
    signals.refresh()
    assert fresh_deal.pk not in stored()  # a note is not a conversation touch
    moved = Activity.objects.filter(deal=ghosting_deal, direction="out").latest("occurred_at")
    moved.deal = fresh_deal
    moved.save()
    note.kind = Activity.Kind.CALL  # a note turned into a call: a touch of a deal with no row yet
    note.direction = Activity.Direction.OUTBOUND
    note.save()
    signals.refresh()
    rows = stored()
    assert rows[ghosting_deal.pk]["waiting_since"] is None  # our unanswered email moved away
    assert rows[fresh_deal.pk]["waiting_since"] is not None
    full = stored()
    signals.rebuild()
    assert stored() == full


def test_writes_that_bypass_the_orm_are_fixed_by_the_rebuild_command(ghosting_deal, capsys):
    signals.refresh()
    Activity.objects.filter(deal=ghosting_deal, direction="out", body__startswith="Did").update(
        direction=Activity.Direction.INBOUND
    )
    signals.refresh()
    assert stored()[ghosting_deal.pk]["waiting_since"] is not None  # queryset .update() sends no signal
    call_command("rebuild_deal_signals")
    assert "Rebuilt signals of 1 deals" in capsys.readouterr().out
    assert stored()[ghosting_deal.pk]["waiting_since"] is None
    assert rules.GHOSTED not in verdict(ghosting_deal).codes


def test_out_of_order_timestamps_give_the_same_signals_as_a_rebuild(ghosting_deal):
    signals.refresh()
    # Arrives after the scan (higher id) but happened before our last email: an older answer.
    add_email(ghosting_deal, direction="in", days_ago=7)
    add_email(ghosting_deal, direction="out", days_ago=8, hours=3)
    signals.refresh()
    incremental = stored()
    assert incremental[ghosting_deal.pk]["gap_count"] == 3
    assert incremental[ghosting_deal.pk]["waiting_since"] is not None  # the latest is still ours, unanswered
    signals.rebuild()
    assert stored() == incremental


def test_two_scans_in_a_row_are_idempotent(ghosting_deal, foreign_stale_deal):
    other = foreign_stale_deal
    first = scan.stale_verdicts()
    rows, pooled = stored(), contacts()
    second = scan.stale_verdicts()
    assert stored() == rows and contacts() == pooled
    assert [(v.deal_id, v.codes, v.urgency) for v in first[0]] == [(v.deal_id, v.codes, v.urgency) for v in second[0]]
    assert {v.deal_id for v in first[0]} == {ghosting_deal.pk, other.pk}
    assert signals.refresh().deals == 0


def test_an_activity_committed_late_below_the_watermark_is_caught_by_the_next_refresh(ghosting_deal):
    signals.refresh()
    late = add_email(ghosting_deal, direction="in", days_ago=1)
    add_email(ghosting_deal, direction="out", days_ago=4)  # a higher id is visible first
    with connection.cursor() as cur:  # as if `late` had not committed yet
        cur.execute(f"DELETE FROM {Activity._meta.db_table} WHERE id = %s", [late.pk])  # noqa: S608
    signals.refresh()
    assert stored()[ghosting_deal.pk]["gap_count"] == 2
    late.save(force_insert=True)  # commits now, below the watermark of that refresh
    signals.refresh()
    assert stored()[ghosting_deal.pk]["gap_count"] == 3


def test_usual_reply_time_is_pooled_per_contact_and_follows_primary_contact_changes(
    ghosting_deal, account, agent, stages
):
    other = Deal.objects.create(
        team=account.team,
        account=account,
        primary_contact=ghosting_deal.primary_contact,
        owner=agent,
        name="Second deal",
        stage=stages["lead"],
        amount=100,
    )
    now = ghosting_deal.now  # one clock with the fixture: the contact's gaps are pooled across deals
    add_email(other, direction="out", days_ago=9, hours=7, now=now)
    add_email(other, direction="in", days_ago=9, now=now)
    facts = {f.deal_id: f for _, f in scan.collect_facts(deal_ids=[ghosting_deal.pk, other.pk])}
    assert facts[ghosting_deal.pk].usual_reply_hours == pytest.approx(1)  # gaps 1, 1, 7 -> median 1
    assert contacts()[ghosting_deal.primary_contact_id] == pytest.approx(1)
    assert rules.GHOSTED in verdict(ghosting_deal).codes  # silent 120 h > 3 x 1 h and > 48 h
    # A new primary contact who answers in two days (on another deal): the scan uses their time.
    slow = Contact.objects.create(account=account, name="Sam Slow", email="sam@techgiant.example")
    third = Deal.objects.create(
        team=account.team, account=account, primary_contact=slow, name="Third", stage=stages["lead"]
    )
    for days in (30, 25):
        for direction, hours in (("out", 48), ("in", 0)):
            Activity.objects.create(
                account=account,
                deal=third,
                contact=slow,
                kind=Activity.Kind.EMAIL,
                direction=direction,
                occurred_at=now - timedelta(days=days, hours=hours),
            )
    Deal.objects.filter(pk=ghosting_deal.pk).update(primary_contact=slow)
    facts = {f.deal_id: f for _, f in scan.collect_facts(deal_ids=[ghosting_deal.pk])}
    assert facts[ghosting_deal.pk].usual_reply_hours == pytest.approx(48)
    assert rules.GHOSTED not in verdict(ghosting_deal).codes  # silent 120 h < 3 x 48 h


def test_portable_computation_matches_the_stored_rows(ghosting_deal, stale_deal):
    add_email(stale_deal, direction="out", days_ago=2)
    signals.rebuild()
    now = timezone.now()
    computed = {s.deal_id: s for s in signals.compute_python([ghosting_deal.pk, stale_deal.pk], now)}
    for deal_id, row in stored().items():
        c = computed[deal_id]
        assert (c.last_touch_at, c.waiting_since, c.gap_count, c.engaged_contacts, c.replier_id, c.watermark) == (
            row["last_touch_at"],
            row["waiting_since"],
            row["gap_count"],
            row["engaged_contacts"],
            row["replier_id"],
            row["watermark"],
        )
        assert [round(g, 6) for g in c.gaps] == row["gaps"]
        assert (c.median_reply_hours is None) == (row["median_reply_hours"] is None)
        if c.median_reply_hours is not None:
            assert c.median_reply_hours == pytest.approx(row["median_reply_hours"])


def test_rebuild_task_is_idempotent(ghosting_deal):
    first = tasks.rebuild_signals_task()
    rows = stored()
    second = tasks.rebuild_signals_task()
    assert first["full"] and second["full"] and first["deals"] == second["deals"] == 1
    assert stored() == rows
    assert SignalsState.objects.get().last_activity_id == Activity.objects.latest("id").pk
