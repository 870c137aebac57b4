"""Property-based: hostile values thrown at both nudge importers (and so at the core under them).

Whatever the file holds, an import returns a run (no exception escapes), every rejected row is
named by its line with a reason, the counts add up, and afterwards everything stored can be read
back: the home page, a deal page and /api/deals/ still answer 200.
"""

import csv
import io
import json

import pytest
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.models import Activity, Contact, Deal, ImportRun
from nudges import importers

HOSTILE_TEXT = st.one_of(
    st.text(max_size=30),
    st.text(st.characters(exclude_categories=()), max_size=30),  # lone surrogates included
    st.sampled_from(["", " ", "\x00", "a\x00b", "\ud800", "=cmd|' /C calc'!A0", "9" * 96, "9" * 95, "x" * 5000]),
)
HOSTILE_WHEN = st.one_of(
    st.sampled_from(
        [
            "9999-12-31T23:59:59-05:00",
            "9999-12-31T23:59:59+00:00",
            "9999-12-31",
            "0001-01-01T00:00:00+14:00",
            "0001-01-01",
            "1899-12-31",
            "2024-02-30",
            "2024-01-15T10:00:00+23:59",
            "2024-01-15T10:00:00+24:00",
            "yesterday",
            "",
        ]
    ),
    st.datetimes().map(lambda d: d.isoformat()),
    st.builds(
        lambda d, h, m, sign: f"{d.isoformat()}{sign}{h:02d}:{m:02d}",
        st.datetimes(),
        st.integers(0, 23),
        st.integers(0, 59),
        st.sampled_from("+-"),
    ),
    HOSTILE_TEXT,
)
HOSTILE_AMOUNT = st.one_of(
    st.sampled_from(["1e12", "999999999999.995", "1e999999", "-0", "NaN", "sNaN", "-Infinity", "0.001", "1_000", ""]),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers(-(10**20), 10**20).map(str),
    HOSTILE_TEXT,
)
STAGE = st.one_of(st.sampled_from(["lead", "proposal", "Closed Won", "negotiating", "discovery"]), HOSTILE_TEXT)

PROPERTY_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _csv_bytes(rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(importers.CSV_COLUMNS)
    for row in rows:
        writer.writerow(row)
    # Lone surrogates cannot be UTF-8: they come out as invalid bytes, which the core must refuse.
    return out.getvalue().encode("utf-8", "surrogatepass")


def _assert_sound(run: ImportRun, lines: int, agent_client, api) -> None:
    assert run.status in {"imported", "partial", "refused"}
    if run.status == "refused":
        assert run.failed
    else:
        assert run.rows == run.created + run.updated + run.unchanged + run.rejected
        for issue in run.errors:
            assert 1 <= issue.line <= lines
            assert issue.reason
        assert len(run.rejected_rows) == run.rejected
    # Everything stored reads back, in Python and through the pages.
    list(Deal.objects.all()), list(Activity.objects.all()), list(Contact.objects.all())
    run.refresh_from_db()
    deal = Deal.objects.order_by("-pk").first()
    assert agent_client.get("/").status_code == 200
    assert agent_client.get(reverse("crm:deal_detail", args=[deal.pk])).status_code == 200
    assert agent_client.get(reverse("crm:import_run_detail", args=[run.pk])).status_code == 200
    assert agent_client.get(reverse("crm:import_run_rejected", args=[run.pk])).status_code == 200
    assert api.get("/api/deals/").status_code == 200


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(rows=st.lists(st.tuples(HOSTILE_TEXT, HOSTILE_AMOUNT, HOSTILE_WHEN, STAGE), min_size=1, max_size=6))
def test_hostile_crm_events_rows_never_escape_and_never_poison(team, agent, stages, deal, agent_client, api, rows):
    raw = _csv_bytes(rows)
    with transaction.atomic():
        run = importers.import_crm_events(raw, team=team, actor=agent)
        # CSV counts a bare carriage return as a line end too (old Mac files): splitlines does as well.
        _assert_sound(run, len(raw.decode("utf-8", "replace").splitlines()) + 1, agent_client, api)
        transaction.set_rollback(True)


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


MESSAGE = st.fixed_dictionaries(
    {},
    optional={
        "from": st.one_of(st.just("client@buyer.example"), st.just("a" * 90 + "@x.example"), HOSTILE_TEXT),
        "to": st.one_of(st.just("sales@seller.example"), HOSTILE_TEXT, st.integers()),
        "ts": HOSTILE_WHEN,
        "body": st.one_of(HOSTILE_TEXT, st.integers(), st.none()),
    },
)
THREAD = st.one_of(
    st.fixed_dictionaries(
        {
            "deal_id": st.one_of(st.just("EXT-1"), HOSTILE_TEXT, st.integers(), st.none()),
            "thread": st.one_of(st.lists(MESSAGE, max_size=4), HOSTILE_TEXT, st.none()),
        }
    ),
    st.lists(st.integers(), max_size=3),
    HOSTILE_TEXT,
)


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(
    threads=st.lists(THREAD, min_size=1, max_size=5),
    depth=st.one_of(st.none(), st.integers(1, 3000)),
)
def test_hostile_email_threads_never_escape_and_never_poison(
    team, agent, stages, deal, agent_client, api, threads, depth
):
    Deal.objects.filter(pk=deal.pk).update(external_id="EXT-1")
    items = [json.dumps(t) for t in threads]  # ensure_ascii: lone surrogates arrive as \\udXXX escapes
    if depth is not None:
        items.insert(len(items) // 2, _deep(depth))
    text = "[\n" + ",\n".join(items) + "\n]"
    with transaction.atomic():
        run = importers.import_emails(text.encode(), team=team, actor=agent)
        _assert_sound(run, len(text.splitlines()) + 1, agent_client, api)
        if depth is not None and depth > 32:
            assert any("nested" in e.reason for e in run.errors)
        transaction.set_rollback(True)
