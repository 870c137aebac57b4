import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from crm.models import Account, Activity, Contact, Deal
from nudges import importers

FIXTURES = Path(__file__).parent / "fixtures"
HEADER = "deal_id,amount_eur,last_activity,stage\n"


@pytest.fixture
def seed_csv():
    return (FIXTURES / "crm_events.csv").read_bytes()


@pytest.fixture
def seed_json():
    return (FIXTURES / "emails.json").read_bytes()


def test_seed_example_files_import_into_deals_contacts_and_emails(team, agent, stages, seed_csv, seed_json):
    report = importers.import_crm_events(seed_csv, team=team, actor=agent)
    assert (report.rows, report.created, report.errors, report.failed) == (2, 2, [], "")
    deal = Deal.objects.get(team=team, external_id="123")
    assert deal.amount == 5000
    assert deal.stage == stages["negotiation"]
    assert deal.status == Deal.Status.OPEN
    assert deal.owner == agent
    assert deal.last_activity_at == datetime(2024, 1, 15, tzinfo=UTC)
    assert Deal.objects.get(team=team, external_id="124").stage == stages["proposal"]

    report = importers.import_emails(seed_json, team=team, actor=agent)
    assert (report.rows, report.created, report.errors, report.failed) == (1, 1, [], "")
    email = Activity.objects.get(deal=deal)
    assert email.kind == Activity.Kind.EMAIL
    assert email.direction == Activity.Direction.OUTBOUND  # sales opened the thread
    assert (email.from_addr, email.to_addr) == ("sales@company.com", "client@company.com")
    assert email.occurred_at == datetime(2024, 1, 15, 10, tzinfo=UTC)
    deal.refresh_from_db()
    assert deal.primary_contact.email == "client@company.com"
    assert deal.account.name == "company.com"
    assert deal.last_activity_at == datetime(2024, 1, 15, 10, tzinfo=UTC)


def test_rerunning_imports_updates_instead_of_duplicating(team, stages, seed_csv, seed_json):
    importers.import_crm_events(seed_csv, team=team)
    importers.import_emails(seed_json, team=team)
    counts = (Account.objects.count(), Deal.objects.count(), Contact.objects.count(), Activity.objects.count())
    again = importers.import_crm_events(seed_csv, team=team)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert importers.import_emails(seed_json, team=team).created == 0
    assert (Account.objects.count(), Deal.objects.count(), Contact.objects.count(), Activity.objects.count()) == counts
    changed = importers.import_crm_events(HEADER + "123,7000,2024-01-20,proposal\n", team=team)
    assert (changed.updated, changed.created) == (1, 0)
    deal = Deal.objects.get(external_id="123")
    assert (deal.amount, deal.stage.slug) == (7000, "proposal")


def test_same_deal_id_in_two_teams_stays_two_deals(team, other_team, stages, seed_csv):
    importers.import_crm_events(seed_csv, team=team)
    importers.import_crm_events(seed_csv, team=other_team)
    assert Deal.objects.filter(external_id="123").count() == 2


@pytest.mark.parametrize(
    "row, reason",
    [
        (",5000,2024-01-15,proposal", "missing deal_id"),
        ("9,abc,2024-01-15,proposal", "amount_eur 'abc' is not a number"),
        ("9,,2024-01-15,proposal", "amount_eur '' is not a number"),
        ("9,-5,2024-01-15,proposal", "amount_eur '-5' is not a valid amount"),
        ("9,NaN,2024-01-15,proposal", "amount_eur 'NaN' is not a valid amount"),
        ("9,5000,15/01/2024,proposal", "last_activity '15/01/2024' is not a date (YYYY-MM-DD)"),
        ("9,5000,,proposal", "last_activity '' is not a date (YYYY-MM-DD)"),
        ("9,5000,2024-01-15,discovery", "unknown stage 'discovery'"),
        ("9,5000,2024-01-15", "expected 4 fields, got 3"),
    ],
)
def test_bad_csv_rows_are_reported_with_line_and_reason_and_good_rows_imported(team, stages, row, reason):
    text = HEADER + "1,100,2024-01-01,lead\n" + row + "\n" + "2,200,2024-01-02,proposal\n"
    report = importers.import_crm_events(text, team=team)
    assert report.created == 2
    assert len(report.errors) == 1
    assert report.errors[0].line == 3
    assert report.errors[0].reason.startswith(reason)
    assert set(Deal.objects.values_list("external_id", flat=True)) == {"1", "2"}
    assert not Stage_exists("discovery")


def Stage_exists(slug):  # noqa: N802
    from crm.models import Stage

    return Stage.objects.filter(slug=slug).exists()


def test_duplicate_rows_report_the_first_line(team, stages):
    report = importers.import_crm_events(HEADER + "1,100,2024-01-01,lead\n1,100,2024-01-01,lead\n", team=team)
    assert [(e.line, e.reason) for e in report.errors] == [(3, "duplicate deal_id 1 (first on line 2)")]
    assert Deal.objects.count() == 1


def test_bom_and_windows_line_endings_are_accepted_and_noted(team, stages, seed_csv):
    raw = b"\xef\xbb\xbf" + seed_csv.replace(b"\n", b"\r\n")
    report = importers.import_crm_events(raw, team=team)
    assert (report.created, report.errors) == (2, [])
    assert any("byte order mark" in n for n in report.notes)
    assert any("CRLF" in n for n in report.notes)


@pytest.mark.parametrize(
    "raw, failed",
    [
        (b"", "the file is empty"),
        (b"id,amount\n1,2\n", "line 1: missing column(s) deal_id, amount_eur, last_activity, stage"),
        (b"\xff\xfe\x00d", "the file is not UTF-8 text"),
    ],
)
def test_unusable_csv_files_import_nothing(team, stages, raw, failed):
    report = importers.import_crm_events(raw, team=team)
    assert report.failed.startswith(failed)
    assert Deal.objects.count() == 0


def test_seed_stage_spellings_map_onto_existing_stages(team, stages):
    report = importers.import_crm_events(
        HEADER + "1,10,2024-01-01,Closed Won\n2,10,2024-01-01, Negotiation \n", team=team
    )
    assert report.errors == []
    assert Deal.objects.get(external_id="1").status == Deal.Status.WON
    assert Deal.objects.get(external_id="2").stage == stages["negotiation"]


def test_a_database_failure_mid_file_leaves_nothing_half_written(team, stages, monkeypatch):
    calls = {"n": 0}
    original = Deal.objects.create

    def flaky(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return original(**kwargs)

    monkeypatch.setattr(Deal.objects, "create", flaky)
    with pytest.raises(RuntimeError):
        importers.import_crm_events(HEADER + "1,10,2024-01-01,lead\n2,10,2024-01-01,lead\n", team=team)
    assert Deal.objects.count() == 0
    assert Account.objects.count() == 0


def _emails(*items):
    import json

    return json.dumps(list(items), indent=2)


def test_emails_for_unknown_deals_and_bad_messages_are_reported_by_line(team, stages, seed_csv):
    importers.import_crm_events(seed_csv, team=team)
    text = _emails(
        {"deal_id": "999", "thread": [{"from": "a@x.com", "to": "b@y.com", "ts": "2024-01-01T00:00:00Z", "body": ""}]},
        {"deal_id": "123", "thread": [{"from": "a@x.com", "to": "b@y.com", "ts": "yesterday", "body": "x"}]},
        {"thread": []},
        {"deal_id": "124", "thread": "hello"},
        ["not", "an", "object"],
        {
            "deal_id": "124",
            "thread": [{"from": "me@x.com", "to": "you@y.com", "ts": "2024-01-02T09:00:00", "body": "Hi"}],
        },
    )
    report = importers.import_emails(text, team=team)
    reasons = {e.line: e.reason for e in report.errors}
    assert reasons[2] == "emails for unknown deal 999 (import crm_events.csv first)"
    assert "unparseable timestamp 'yesterday'" in reasons[13]
    assert reasons[24] == "missing deal_id"
    assert reasons[27] == "deal 124: 'thread' must be a list of messages"
    assert reasons[31] == "a thread must be an object with deal_id and thread"
    assert report.created == 1
    assert Activity.objects.filter(deal__external_id="124").count() == 1


def test_empty_and_one_message_threads_and_out_of_order_timestamps_import(team, stages, seed_csv):
    importers.import_crm_events(seed_csv, team=team)
    text = _emails(
        {"deal_id": "123", "thread": []},
        {
            "deal_id": "124",
            "thread": [
                {"from": "client@buyer.com", "to": "sales@seller.com", "ts": "2024-02-03T10:00:00Z", "body": "Yes"},
                {"from": "sales@seller.com", "to": "client@buyer.com", "ts": "2024-02-02T10:00:00Z", "body": "Ok?"},
            ],
        },
    )
    report = importers.import_emails(text, team=team)
    assert report.errors == []
    deal = Deal.objects.get(external_id="124")
    directions = list(deal.activities.order_by("occurred_at").values_list("direction", flat=True))
    assert directions == ["out", "in"]  # the earliest sender opened the thread: ours
    assert deal.last_activity_at == datetime(2024, 2, 3, 10, tzinfo=UTC)


def test_duplicate_messages_are_kept_once(team, stages, seed_csv):
    importers.import_crm_events(seed_csv, team=team)
    m = {"from": "sales@company.com", "to": "client@company.com", "ts": "2024-01-15T10:00:00Z", "body": "Hello"}
    report = importers.import_emails(_emails({"deal_id": "123", "thread": [m, m]}), team=team)
    assert Activity.objects.count() == 1
    assert any("duplicate" in n for n in report.notes)


def test_team_member_addresses_are_our_side(team, agent, stages, seed_csv):
    importers.import_crm_events(seed_csv, team=team)
    thread = [
        {"from": "buyer@client.com", "to": agent.email, "ts": "2024-01-01T10:00:00Z", "body": "Any news?"},
        {"from": agent.email, "to": "buyer@client.com", "ts": "2024-01-01T12:00:00Z", "body": "Yes!"},
    ]
    importers.import_emails(_emails({"deal_id": "123", "thread": thread}), team=team)
    got = list(Activity.objects.order_by("occurred_at").values_list("direction", flat=True))
    assert got == ["in", "out"]


@pytest.mark.parametrize(
    "raw, failed",
    [
        (b"{}", "line 1: expected a JSON list of threads"),
        (b'[{"deal_id": "1",}]', "line 1: invalid JSON"),
        (b"", "the file is empty"),
        (b"[] trailing", "line 1: unexpected text after the list"),
    ],
)
def test_unusable_json_files_import_nothing(team, stages, raw, failed):
    report = importers.import_emails(raw, team=team)
    assert report.failed.startswith(failed)


def test_import_commands_accept_the_seed_files(team, agent, stages, capsys):
    call_command("import_crm_events", str(FIXTURES / "crm_events.csv"), team="blue", user="agent")
    call_command("import_emails", str(FIXTURES / "emails.json"), team="blue")
    out = capsys.readouterr().out
    assert "crm_events.csv: 2 of 2 imported" in out
    assert "emails.json: 1 of 1 imported" in out
    assert Activity.objects.count() == 1


def test_import_command_refuses_a_team_the_user_is_not_in(team, other_team, agent, stages):
    with pytest.raises(CommandError, match="No team 'red' for agent"):
        call_command("import_crm_events", str(FIXTURES / "crm_events.csv"), team="red", user="agent")
    assert Deal.objects.count() == 0


# --- what the database cannot store or read back (issue 10, item 1) -------------------------------


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        ("9,10,9999-12-31T23:59:59-05:00,lead", "last_activity", "outside the years 1900-9999"),
        ("9,10,9999-12-31T20:00:00+00:00,lead", "last_activity", "outside the years 1900-9999"),
        ("9,10,0001-01-01,lead", "last_activity", "outside the years 1900-9999"),
        ("9,1e12,2024-01-01,lead", "amount_eur", "too large"),
        ("9,999999999999.999,2024-01-01,lead", "amount_eur", "too large"),
        ("9" * 96 + ",10,2024-01-01,lead", "deal_id", "deal_id longer than 95 characters"),
        ("9\x00,10,2024-01-01,lead", "deal_id", "NUL"),
    ],
)
def test_crm_events_rows_the_database_cannot_hold_are_rejected_by_line_and_column(team, stages, row, column, reason):
    report = importers.import_crm_events(HEADER + "1,10,2024-01-01,lead\n" + row + "\n", team=team)
    assert [(e.line, e.column) for e in report.errors] == [(3, column)]
    assert reason in report.errors[0].reason
    assert list(Deal.objects.values_list("external_id", flat=True)) == ["1"]
    assert Account.objects.get().external_id == "deal:1"


def test_a_95_character_deal_id_fits_once_prefixed(team, stages):
    report = importers.import_crm_events(HEADER + "9" * 95 + ",10,2024-01-01,lead\n", team=team)
    assert (report.created, report.errors) == (1, [])
    assert len(Account.objects.get().external_id) == 100


def _deep(depth):
    return "[" * depth + "]" * depth


def test_emails_nested_too_deep_nul_and_year_10000_are_rejected_per_thread(team, stages, seed_csv):
    importers.import_crm_events(seed_csv, team=team)
    ok = {
        "deal_id": "124",
        "thread": [{"from": "a@x.com", "to": "b@y.com", "ts": "2024-01-02T09:00:00Z", "body": "Hi"}],
    }
    nul = {
        "deal_id": "123",
        "thread": [{"from": "a@x.com", "to": "b@y.com", "ts": "2024-01-02T09:00:00Z", "body": "a\x00"}],
    }
    y10k = {"deal_id": "123", "thread": [{"from": "a@x.com", "ts": "9999-12-31T23:59:59-05:00", "body": "x"}]}
    long_from = {"deal_id": "123", "thread": [{"from": "a" * 90 + "@x.com", "ts": "2024-01-02", "body": "x"}]}
    text = "[\n" + _deep(5000) + ",\n" + ",\n".join(json.dumps(item) for item in (nul, y10k, long_from, ok)) + "\n]"
    report = importers.import_emails(text, team=team)
    reasons = {e.line: (e.column, e.reason) for e in report.errors}
    assert reasons[2] == ("", "JSON nested 5000 levels deep; at most 32 are accepted")
    assert "NUL" in reasons[3][1]
    assert reasons[4][0] == "ts" and "outside the years 1900-9999" in reasons[4][1]
    assert reasons[5][0] == "from" and "at most 94 fit" in reasons[5][1]
    assert report.created == 1
    assert Activity.objects.count() == 1


def test_strict_import_writes_nothing_and_dry_run_writes_nothing(team, stages):
    text = HEADER + "1,10,2024-01-01,lead\n2,oops,2024-01-01,lead\n"
    strict = importers.import_crm_events(text, team=team, strict=True)
    assert (strict.status, strict.created, strict.rejected) == ("rejected", 0, 1)
    dry = importers.import_crm_events(text, team=team, dry_run=True)
    assert (dry.status, dry.created, dry.rejected, dry.dry_run) == ("partial", 1, 1, True)
    assert Deal.objects.count() == 0


@pytest.mark.parametrize(
    ("content", "flags", "code", "deals"),
    [
        (HEADER + "1,10,2024-01-01,lead\n", [], 0, 1),
        (HEADER + "1,10,2024-01-01,lead\n2,x,2024-01-01,lead\n", [], 1, 1),
        (HEADER + "1,10,2024-01-01,lead\n2,x,2024-01-01,lead\n", ["--strict"], 1, 0),
        (HEADER + "1,10,2024-01-01,lead\n", ["--dry-run"], 0, 0),
        ("nope\n", [], 2, 0),
    ],
)
def test_import_command_exit_codes(team, stages, tmp_path, capsys, content, flags, code, deals):
    path = tmp_path / "crm_events.csv"
    path.write_text(content)
    if code:
        with pytest.raises(CommandError) as caught:
            call_command("import_crm_events", str(path), "--team", "blue", *flags)
        assert caught.value.returncode == code
    else:
        call_command("import_crm_events", str(path), "--team", "blue", *flags)
    assert Deal.objects.count() == deals
    assert "crm_events.csv" in capsys.readouterr().out
