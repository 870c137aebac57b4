"""Fast data for the inbox benchmark: accounts, tickets, one customer message each, and their
topic-alert keywords, loaded with COPY (psycopg 3) into tables whose secondary indexes are dropped
for the load and rebuilt afterwards."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection

from crm.models import Account, Team
from tickets import rules
from tickets.models import Message, Ticket, TicketKeyword

WORDS = (
    "order parcel delivery late tracking refund return size colour broken damaged missing invoice payment "
    "account password login address courier shipping package box item product question stock price discount "
    "voucher exchange replacement warranty cancel subscription email phone delay week today tomorrow help "
    "please thanks urgent again still never received wrong charged twice bank card receipt store online app"
).split()
ALERT_WORDS = ["chargeback", "fraud", "unauthorized"]
ALERT_SHARE = 0.005  # each alert word appears in 0.5% of tickets: a realistic "emerging issue"
CHANNELS = ["email", "sms", "chat", "phone"]
PRIORITIES = ["urgent", "high", "normal", "normal", "normal", "low"]


def _fmt(value) -> str:
    if value is None:
        return r"\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


class Loader:
    """Drop a table's secondary indexes and unique constraints, COPY, rebuild, ANALYZE."""

    def __init__(self, table: str):
        self.table = table

    def __enter__(self):
        with connection.cursor() as cur:
            cur.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'u'",
                [self.table],
            )
            self.constraints = cur.fetchall()
            for name, _ in self.constraints:
                cur.execute(f'ALTER TABLE "{self.table}" DROP CONSTRAINT "{name}"')
            cur.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT LIKE %s",
                [self.table, "%_pkey"],
            )
            self.indexes = cur.fetchall()
            for name, _ in self.indexes:
                cur.execute(f'DROP INDEX "{name}"')
        return self

    def __exit__(self, *exc):
        with connection.cursor() as cur:
            for _, definition in self.indexes:
                cur.execute(definition)
            for name, definition in self.constraints:
                cur.execute(f'ALTER TABLE "{self.table}" ADD CONSTRAINT "{name}" {definition}')
            cur.execute(f'ANALYZE "{self.table}"')


def copy_rows(table: str, columns: list[str], rows, chunk: int = 50_000) -> int:
    raw = connection.connection
    n = 0
    with raw.cursor() as cur:
        cur.execute("SET session_replication_role = replica")  # skip FK triggers during the bulk load
        with cur.copy(f'COPY "{table}" ({", ".join(columns)}) FROM STDIN') as copy:
            buf = []
            for row in rows:
                buf.append("\t".join(_fmt(v) for v in row))
                n += 1
                if len(buf) >= chunk:
                    copy.write("\n".join(buf) + "\n")
                    buf = []
            if buf:
                copy.write("\n".join(buf) + "\n")
        cur.execute("SET session_replication_role = DEFAULT")
    return n


def _columns(model, overrides: dict) -> tuple[list[str], list]:
    """Every concrete column except the id, with its default unless overridden per row."""
    cols, defaults = [], []
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        cols.append(f.column)
        if f.name in overrides:
            defaults.append(None)
        elif f.has_default():
            d = f.get_default()
            defaults.append("{}" if d == {} else "[]" if d == [] else d)
        else:
            defaults.append(None if f.null else "")
    return cols, defaults


def generate(*, tickets: int, teams: int, accounts_per_team: int, seed: int = 4, now: datetime) -> dict:
    rng = random.Random(seed)
    started = time.perf_counter()
    team_ids = []
    for i in range(teams):
        team, _ = Team.objects.get_or_create(slug=f"bench-team-{i}", defaults={"name": f"Bench team {i}"})
        team_ids.append(team.pk)

    # Accounts.
    acc_cols, acc_defaults = _columns(Account, {})
    idx = {c: i for i, c in enumerate(acc_cols)}

    def account_rows():
        for t, team_id in enumerate(team_ids):
            for a in range(accounts_per_team):
                row = list(acc_defaults)
                row[idx["team_id"]] = team_id
                row[idx["name"]] = f"Customer {t}-{a}"
                row[idx["kind"]] = "person"
                ltv = round(rng.lognormvariate(6.5, 1.0), 2)
                row[idx["lifetime_value"]] = ltv
                row[idx["churn_risk"]] = round(rng.random(), 3)
                row[idx["is_vip"]] = ltv > 3000
                row[idx["created_at"]] = now
                row[idx["updated_at"]] = now
                yield row

    with Loader("crm_account"):
        copy_rows("crm_account", acc_cols, account_rows())
    accounts = {}
    for pk, team_id, ltv, churn, vip in Account.objects.filter(team_id__in=team_ids).values_list(
        "pk", "team_id", "lifetime_value", "churn_risk", "is_vip"
    ):
        accounts.setdefault(team_id, []).append((pk, float(ltv), churn, vip))
    t_accounts = time.perf_counter() - started

    # Tickets, generated with their text so messages and keywords agree.
    texts: list[str] = []
    t_cols, t_defaults = _columns(Ticket, {})
    ti = {c: i for i, c in enumerate(t_cols)}
    first = settings.TICKETS_SLA_FIRST_RESPONSE

    def ticket_rows():
        for n in range(tickets):
            team_id = team_ids[n % teams]
            pk, ltv, churn, vip = rng.choice(accounts[team_id])
            words = rng.sample(WORDS, 7)
            for w in ALERT_WORDS:
                if rng.random() < ALERT_SHARE:
                    words[rng.randrange(7)] = w
            text = " ".join(words)
            texts.append(text)
            created = now - timedelta(minutes=rng.randrange(60 * 24 * 30))
            roll = rng.random()
            status = "open" if roll < 0.90 else "pending" if roll < 0.97 else "resolved"
            priority = rng.choice(PRIORITIES)
            row = list(t_defaults)
            row[ti["team_id"]] = team_id
            row[ti["account_id"]] = pk
            row[ti["subject"]] = " ".join(words[:4])
            row[ti["channel"]] = CHANNELS[n % 4]
            row[ti["status"]] = status
            row[ti["priority"]] = priority
            row[ti["created_at"]] = created
            row[ti["updated_at"]] = created
            row[ti["last_customer_message_at"]] = created
            row[ti["customer_churn"]] = churn
            row[ti["customer_ltv"]] = ltv
            row[ti["customer_vip"]] = vip
            row[ti["difficulty"]] = rng.choice(["easy", "normal", "complex", ""])
            row[ti["sentiment"]] = round(rng.random(), 2)
            if status == "open":
                row[ti["waiting_since"]] = created
                row[ti["waiting_since_ts"]] = created.timestamp()
                row[ti["response_target_s"]] = first[priority] * 60
                row[ti["sla_due_at"]] = created + timedelta(minutes=first[priority])
            yield row

    with Loader("tickets_ticket"):
        copy_rows("tickets_ticket", t_cols, ticket_rows())
    ids = list(Ticket.objects.filter(team_id__in=team_ids).order_by("pk").values_list("pk", "team_id"))
    t_tickets = time.perf_counter() - started - t_accounts

    m_cols, m_defaults = _columns(Message, {})
    mi = {c: i for i, c in enumerate(m_cols)}

    def message_rows():
        for (pk, _), text in zip(ids, texts, strict=True):
            row = list(m_defaults)
            row[mi["ticket_id"]] = pk
            row[mi["direction"]] = "in"
            row[mi["channel"]] = "email"
            row[mi["body"]] = text
            row[mi["created_at"]] = now
            yield row

    with Loader("tickets_message"):
        copy_rows("tickets_message", m_cols, message_rows())

    def keyword_rows():
        for (pk, team_id), text in zip(ids, texts, strict=True):
            subject = " ".join(text.split()[:4])
            for kw in rules.keywords(subject + "\n" + text):
                yield (pk, team_id, kw)

    with Loader("tickets_ticketkeyword"):
        kw_count = copy_rows(TicketKeyword._meta.db_table, ["ticket_id", "team_id", "keyword"], keyword_rows())
    return {
        "teams": teams,
        "accounts": teams * accounts_per_team,
        "tickets": len(ids),
        "keywords": kw_count,
        "seconds_accounts": round(t_accounts, 1),
        "seconds_tickets": round(t_tickets, 1),
        "seconds_total": round(time.perf_counter() - started, 1),
    }
