"""manage.py check_stored_data: rows stored out of range are found by SQL, reported, and repaired."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DataError, connection
from django.urls import reverse

from crm.models import AuditEvent, Deal
from crm.validators import LATEST


def _poison(table: str, column: str, pk: int, value: str) -> None:
    """Store what an unchecked import once stored: a value Python cannot read back."""
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [value, pk])  # noqa: S608 - test constants


@pytest.fixture
def poisoned_deal(deal):
    # PostgreSQL keeps 9999-12-31T23:59:59-05:00 as year 10000; SQLite keeps the text.
    year_10000 = "10000-01-01 04:59:59+00" if connection.vendor == "postgresql" else "10000-01-01 04:59:59"
    _poison("crm_deal", "last_activity_at", deal.pk, year_10000)
    _poison("crm_deal", "created_at", deal.pk, year_10000)
    return deal


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite reads the bad text back as None")
def test_the_poisoned_row_really_breaks_reads(poisoned_deal):
    with pytest.raises((DataError, ValueError, OverflowError)):  # psycopg: "timestamp too large"
        list(Deal.objects.filter(pk=poisoned_deal.pk))


def test_report_names_table_id_and_column_and_exits_1(poisoned_deal, capsys):
    with pytest.raises(CommandError) as caught:
        call_command("check_stored_data")
    assert caught.value.returncode == 1
    out = capsys.readouterr().out
    assert f"crm_deal id={poisoned_deal.pk} last_activity_at=10000-01-01" in out
    assert f"crm_deal id={poisoned_deal.pk} created_at=10000-01-01" in out
    assert not AuditEvent.objects.filter(via="repair").exists()  # reporting changes nothing


def test_fix_nulls_or_clamps_with_an_audit_record_and_pages_answer_again(poisoned_deal, agent_client, api, capsys):
    call_command("check_stored_data", "--fix")
    deal = Deal.objects.get(pk=poisoned_deal.pk)
    assert deal.last_activity_at is None  # nullable: NULL
    assert deal.created_at == LATEST  # required: clamped to the latest readable instant
    events = {next(iter(e.changes)): e for e in AuditEvent.objects.filter(via="repair")}
    assert set(events) == {"last_activity_at", "created_at"}
    assert events["last_activity_at"].changes["last_activity_at"][0].startswith("10000-01-01")
    assert events["created_at"].team_id == deal.team_id
    for url in ("/", reverse("crm:deal_detail", args=[deal.pk]), reverse("crm:account_detail", args=[deal.account_id])):
        assert agent_client.get(url).status_code == 200
    assert api.get("/api/deals/").status_code == 200
    call_command("check_stored_data")  # clean now: no CommandError
    assert "No stored date is out of range." in capsys.readouterr().out
