# ruff: noqa: S608 - the SQL here is built from constants and column names only; values are parameters.
"""PostgreSQL bulk path for large Customer Profiles and Account Activity files: the file streams
through COPY into a temporary staging table (constant memory), the rows are checked in SQL (the same
rules as notifications/parsing.py, first failing column per row), and merged set-based with
INSERT ... ON CONFLICT / UPDATE ... FROM. Used by `import_customers --bulk` and bench/notifications.

Limits (reported, not hidden): ISO dates only (YYYY-MM-DD); the run is recorded with its report
but cannot be undone (no per-row snapshot at this size); segments and risk are recomputed
afterwards by `facts.recompute`, which is not part of the timed load.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection, transaction

from notifications import parsing

CHUNK = 1 << 20  # bytes per COPY write: 1 MiB keeps memory flat whatever the file size

ID_RE = r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,63}$"
DATE_RE = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"
YES = "('yes','y','true','1','t')"
YESNO = "('yes','y','true','1','t','no','n','false','0','f','')"

SETUP = """
CREATE OR REPLACE FUNCTION pg_temp.nt_is_date(v text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN PERFORM v::date; RETURN true; EXCEPTION WHEN others THEN RETURN false; END $$;
"""


def _date_ok(col: str) -> str:
    # The regex settles almost every value; only a day 29-31 pays for the exception-guarded cast.
    return (
        f"(coalesce({col},'') = '' OR ({col} ~ '{DATE_RE}' AND (right({col},2) <= '28' OR pg_temp.nt_is_date({col}))))"
    )


CHECKS = {
    "profiles": [
        ("customer_id", f"coalesce(customer_id,'') !~ '{ID_RE}'", "is not an id (letters, digits, - _ . /, up to 64)"),
        ("first_name", "length(coalesce(first_name,'')) > 100", "longer than 100 characters"),
        ("last_name", "length(coalesce(last_name,'')) > 100", "longer than 100 characters"),
        ("email", "length(coalesce(email,'')) > 254", "longer than 254 characters"),
        ("phone", "length(coalesce(phone,'')) > 40", "longer than 40 characters"),
        ("region", "length(coalesce(region,'')) > 100", "longer than 100 characters"),
        ("tariff", "length(coalesce(tariff,'')) > 100", "longer than 100 characters"),
        ("payment_method", "length(coalesce(payment_method,'')) > 50", "longer than 50 characters"),
        ("monthly_spend_gbp", r"coalesce(monthly_spend_gbp,'') <> '' AND replace(replace(monthly_spend_gbp,'£',''),',','') !~ '^\s*\d{1,6}(\.\d{1,2})?\s*$'", "is not an amount (0-999999.99)"),
        ("tenure_months", r"coalesce(tenure_months,'') <> '' AND (tenure_months !~ '^\s*\d{1,4}\s*$' OR tenure_months::int > 1200)", "is not a whole number 0-1200"),
        ("green_tariff", f"lower(coalesce(green_tariff,'')) NOT IN {YESNO}", "is not yes/no"),
        ("preferred_channel", "lower(coalesce(preferred_channel,'')) NOT IN ('','email','sms','text','phone','call','chat','app','whatsapp')", "is not a channel"),
        ("marketing_consent", f"lower(coalesce(marketing_consent,'')) NOT IN {YESNO}", "is not yes/no"),
    ],
    "activity": [
        ("customer_id", f"coalesce(customer_id,'') !~ '{ID_RE}'", "is not an id"),
        ("account_status", "length(coalesce(account_status,'')) > 50", "longer than 50 characters"),
        ("engagement_score", r"coalesce(engagement_score,'') !~ '^\s*\d{1,3}\s*$' OR engagement_score::int > 100", "is not a whole number 0-100"),
        ("churn_risk", r"coalesce(churn_risk,'') !~ '^\s*(0(\.\d+)?|1(\.0+)?)\s*$'", "is not a number 0-1"),
        ("last_login", f"NOT {_date_ok('last_login')}", "is not a date (YYYY-MM-DD)"),
        ("payment_status", "lower(replace(coalesce(payment_status,''),'_','')) NOT IN ('','ontime','paid','late','overdue','missed')", "is not on_time, late or missed"),
        ("contract_end", f"NOT {_date_ok('contract_end')}", "is not a date (YYYY-MM-DD)"),
        ("outcome", "lower(replace(coalesce(outcome,''),' ','')) NOT IN ('','none','active','closed','left','switched','switchedsupplier','churned')", "is not closed or switched"),
        ("outcome_date", f"NOT {_date_ok('outcome_date')}", "is not a date (YYYY-MM-DD)"),
    ],
}  # fmt: skip


# Activity values as SQL over a staged row `v` (one definition for the INSERT and the UPDATE).
ACT = {
    "account_status": "coalesce(v.account_status, '')",
    # Each cast sits behind its check in a CASE: rejected rows stay in the staging table, and the
    # planner may evaluate an expression before the anti-join that excludes them.
    "engagement_score": r"CASE WHEN v.engagement_score ~ '^\s*\d{1,3}\s*$' THEN trim(v.engagement_score)::int END",
    "churn_risk": r"CASE WHEN v.churn_risk ~ '^\s*(0(\.\d+)?|1(\.0+)?)\s*$' THEN trim(v.churn_risk)::float8 END",
    "last_login": f"CASE WHEN {_date_ok('v.last_login')} THEN nullif(v.last_login, '')::date END",
    "payment_status": "CASE lower(replace(coalesce(v.payment_status, ''), '_', '')) WHEN 'late' THEN 'late' "
    "WHEN 'overdue' THEN 'late' WHEN 'missed' THEN 'missed' ELSE 'on_time' END",
    "contract_end": f"CASE WHEN {_date_ok('v.contract_end')} THEN nullif(v.contract_end, '')::date END",
    "outcome": "CASE WHEN lower(coalesce(v.outcome, '')) IN ('closed', 'left') THEN 'closed' "
    "WHEN lower(replace(coalesce(v.outcome, ''), ' ', '')) IN ('switched', 'switchedsupplier', 'churned') THEN 'switched' ELSE '' END",
    "outcome_on": f"CASE WHEN {_date_ok('v.outcome_date')} THEN nullif(v.outcome_date, '')::date END",
}


@dataclass
class BulkResult:
    rows: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    issues: list[parsing.Issue] = field(default_factory=list)


def _copy(cursor, kind: str, path: Path, table: str) -> int:
    """Stream `path` into `table`; returns the number of data rows."""
    with path.open("rb") as f:
        first = f.readline()
        header = next(csv.reader(io.StringIO(first.decode("utf-8-sig"))))
        index, missing, _unknown = parsing.map_header(kind, header)
        if missing:
            raise parsing.FileRefused(f"{path.name}: missing column(s) {', '.join(missing)}")
        by_pos = {i: name for name, i in index.items()}
        cols = [by_pos.get(i, f"_skip{i}") for i in range(len(header))]
        known = [c.name for c in parsing.COLUMNS[kind]]
        extra = [c for c in cols if c.startswith("_skip")]
        defs = ", ".join(f"{c} text" for c in [*known, *extra])
        cursor.execute(f"CREATE TEMP TABLE {table} (line bigserial, {defs}) ON COMMIT DROP")
        with cursor.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN WITH (FORMAT csv)") as copy:
            while chunk := f.read(CHUNK):
                copy.write(chunk)
    # Fresh temp tables have no statistics: without them the planner picks nested loops for the
    # merge joins (measured: 50x slower at 100,000 rows).
    cursor.execute(f"ANALYZE {table}")
    cursor.execute(f"SELECT count(*) FROM {table}")
    return cursor.fetchone()[0]


def _reject(cursor, kind: str, table: str, name: str) -> None:
    case = " ".join(f"WHEN {cond} THEN '{col}|{reason}'" for col, cond, reason in CHECKS[kind])
    cursor.execute(
        f"INSERT INTO nt_rejects (file, line, what) SELECT %s, line + 1, err FROM "
        f"(SELECT line, CASE {case} END AS err FROM {table}) x WHERE err IS NOT NULL",
        [name],
    )
    cursor.execute(
        f"INSERT INTO nt_rejects (file, line, what) SELECT %s, line + 1, 'customer_id|duplicate customer_id (first on line ' || first_line + 1 || ')' "
        f"FROM (SELECT line, min(line) OVER (PARTITION BY customer_id) AS first_line FROM {table} s "
        f"WHERE NOT EXISTS (SELECT 1 FROM nt_rejects r WHERE r.file = %s AND r.line = s.line + 1)) d "
        f"WHERE line <> first_line",
        [name, name],
    )


def _good(kind: str) -> str:
    return f"NOT EXISTS (SELECT 1 FROM nt_rejects r WHERE r.file = '{kind}' AND r.line = s.line + 1)"


def load(*, team, profiles: Path | None = None, activity: Path | None = None) -> BulkResult:
    """Profiles and/or activity into the team, in one transaction."""
    out = BulkResult()
    with transaction.atomic(), connection.cursor() as c:
        cur = c.cursor  # psycopg's own cursor: COPY
        cur.execute(SETUP)
        # Temp tables drop on commit; a second load inside one outer transaction finds them still there.
        cur.execute("DROP TABLE IF EXISTS nt_rejects, nt_stage_profiles, nt_stage_activity")
        cur.execute("CREATE TEMP TABLE nt_rejects (file text, line bigint, what text) ON COMMIT DROP")
        cur.execute("CREATE INDEX ON nt_rejects (file, line)")
        # Activity is staged and checked first, so new customers get their activity in the same INSERT
        # (an UPDATE afterwards rewrote every new row and its index entries: measured 2x slower).
        if activity is not None:
            out.rows["activity"] = _copy(cur, "activity", activity, "nt_stage_activity")
            _reject(cur, "activity", "nt_stage_activity", "activity")
            va = f"(SELECT v.* FROM nt_stage_activity v WHERE {_good('activity').replace('s.line', 'v.line')})"
        else:
            va = (
                "(SELECT NULL::text AS customer_id, "
                + ", ".join(
                    f"NULL::text AS {c}"
                    for c in (
                        "account_status",
                        "engagement_score",
                        "churn_risk",
                        "last_login",
                        "payment_status",
                        "contract_end",
                        "outcome",
                        "outcome_date",
                    )
                )
                + " WHERE false)"
            )
        if profiles is not None:
            out.rows["profiles"] = _copy(cur, "profiles", profiles, "nt_stage_profiles")
            _reject(cur, "profiles", "nt_stage_profiles", "profiles")
            good = _good("profiles")
            cur.execute(
                f"""INSERT INTO crm_account (team_id, name, kind, external_id, industry, total_spend, lifetime_value,
                        churn_risk, is_vip, segment, account_status, extra, created_at, updated_at)
                    SELECT %(team)s, left(coalesce(nullif(trim(concat_ws(' ', s.first_name, s.last_name)), ''), s.customer_id), 200),
                        'person', s.customer_id, '', 0, 0, coalesce({ACT["churn_risk"]}, 0), false, '',
                        coalesce({ACT["account_status"]}, ''), '{{}}', now(), now()
                    FROM nt_stage_profiles s LEFT JOIN {va} v ON v.customer_id = s.customer_id WHERE {good}
                    ON CONFLICT (team_id, external_id) WHERE NOT external_id = '' DO UPDATE SET name = EXCLUDED.name,
                        updated_at = now() WHERE crm_account.name IS DISTINCT FROM EXCLUDED.name""",
                {"team": team.pk},
            )
            channel = """CASE lower(coalesce(s.preferred_channel,'')) WHEN 'text' THEN 'sms' WHEN 'call' THEN 'phone'
                WHEN 'app' THEN 'chat' WHEN '' THEN 'email' ELSE lower(s.preferred_channel) END"""
            cur.execute(
                f"""INSERT INTO crm_contact (account_id, name, title, email, phone, preferred_channel, language, opted_out,
                        external_id, created_at, time_zone)
                    SELECT a.id, a.name, '', coalesce(s.email, ''), coalesce(s.phone, ''), {channel}, 'en',
                        lower(coalesce(s.marketing_consent, 'yes')) NOT IN {YES} AND coalesce(s.marketing_consent, '') <> '',
                        s.customer_id, now(), ''
                    FROM nt_stage_profiles s JOIN crm_account a ON a.team_id = %(team)s AND a.external_id = s.customer_id
                    WHERE {good} AND NOT EXISTS (SELECT 1 FROM crm_contact c WHERE c.account_id = a.id)""",
                {"team": team.pk},
            )
            cur.execute(
                f"""INSERT INTO notifications_customerrecord (team_id, account_id, customer_id, region, tariff, payment_method,
                        monthly_spend, tenure_months, green_tariff, marketing_consent, has_activity, account_status,
                        payment_status, outcome, engagement_score, churn_risk, last_login, contract_end, outcome_on,
                        segment, segment_reason, risk_score, risk_raw, risk_factors, priority, updated_at)
                    SELECT %(team)s, a.id, s.customer_id, coalesce(s.region, ''), coalesce(s.tariff, ''), coalesce(s.payment_method, ''),
                        coalesce(nullif(trim(replace(replace(s.monthly_spend_gbp, '£', ''), ',', '')), ''), '0')::numeric(9,2),
                        nullif(trim(s.tenure_months), '')::int,
                        lower(coalesce(s.green_tariff, '')) IN {YES},
                        coalesce(s.marketing_consent, '') = '' OR lower(s.marketing_consent) IN {YES},
                        v.customer_id IS NOT NULL, coalesce({ACT["account_status"]}, ''),
                        coalesce({ACT["payment_status"]}, ''), coalesce({ACT["outcome"]}, ''),
                        {ACT["engagement_score"]}, {ACT["churn_risk"]}, {ACT["last_login"]}, {ACT["contract_end"]}, {ACT["outcome_on"]},
                        '', '', 1, 0, '[]', 'Low', now()
                    FROM nt_stage_profiles s JOIN crm_account a ON a.team_id = %(team)s AND a.external_id = s.customer_id
                    LEFT JOIN {va} v ON v.customer_id = s.customer_id
                    WHERE {good}
                    ON CONFLICT (team_id, customer_id) DO UPDATE SET region = EXCLUDED.region, tariff = EXCLUDED.tariff,
                        payment_method = EXCLUDED.payment_method, monthly_spend = EXCLUDED.monthly_spend,
                        tenure_months = EXCLUDED.tenure_months, green_tariff = EXCLUDED.green_tariff,
                        marketing_consent = EXCLUDED.marketing_consent, updated_at = now()
                    WHERE (notifications_customerrecord.region, notifications_customerrecord.tariff,
                           notifications_customerrecord.payment_method, notifications_customerrecord.monthly_spend,
                           notifications_customerrecord.tenure_months, notifications_customerrecord.green_tariff,
                           notifications_customerrecord.marketing_consent)
                        IS DISTINCT FROM (EXCLUDED.region, EXCLUDED.tariff, EXCLUDED.payment_method, EXCLUDED.monthly_spend,
                           EXCLUDED.tenure_months, EXCLUDED.green_tariff, EXCLUDED.marketing_consent)""",
                {"team": team.pk},
            )
        if activity is not None:
            cur.execute(
                f"""INSERT INTO nt_rejects (file, line, what)
                    SELECT %(name)s, s.line + 1, 'customer_id|customer ' || s.customer_id || ' is defined by no profile'
                    FROM nt_stage_activity s WHERE {_good("activity")} AND NOT EXISTS (
                        SELECT 1 FROM notifications_customerrecord r WHERE r.team_id = %(team)s AND r.customer_id = s.customer_id)""",
                {"team": team.pk, "name": "activity"},
            )
            good = _good("activity")
            cur.execute(
                f"""UPDATE notifications_customerrecord r SET has_activity = true, account_status = {ACT["account_status"]}, engagement_score = {ACT["engagement_score"]}, churn_risk = {ACT["churn_risk"]}, last_login = {ACT["last_login"]}, payment_status = {ACT["payment_status"]}, contract_end = {ACT["contract_end"]}, outcome = {ACT["outcome"]}, outcome_on = {ACT["outcome_on"]}, updated_at = now()
                    FROM nt_stage_activity v WHERE r.team_id = %(team)s AND r.customer_id = v.customer_id
                    AND {good.replace("s.line", "v.line")}
                    AND (r.has_activity, r.account_status, r.engagement_score, r.churn_risk, r.last_login, r.payment_status, r.contract_end, r.outcome, r.outcome_on) IS DISTINCT FROM (true, {ACT["account_status"]}, {ACT["engagement_score"]}, {ACT["churn_risk"]}, {ACT["last_login"]}, {ACT["payment_status"]}, {ACT["contract_end"]}, {ACT["outcome"]}, {ACT["outcome_on"]})""",
                {"team": team.pk},
            )
            cur.execute(
                f"""UPDATE crm_account a SET account_status = {ACT["account_status"]}, churn_risk = {ACT["churn_risk"]}
                    FROM nt_stage_activity v WHERE a.team_id = %(team)s AND a.external_id = v.customer_id
                    AND {good.replace("s.line", "v.line")}
                    AND (a.account_status, a.churn_risk) IS DISTINCT FROM ({ACT["account_status"]}, {ACT["churn_risk"]})""",
                {"team": team.pk},
            )
        cur.execute("SELECT file, line, what FROM nt_rejects ORDER BY file, line LIMIT 10000")
        names = {"profiles": profiles.name if profiles else "", "activity": activity.name if activity else ""}
        for kind, line, what in cur.fetchall():
            column, _, reason = what.partition("|")
            out.issues.append(parsing.Issue(names[kind], line, column, reason))
        cur.execute("SELECT file, count(*) FROM nt_rejects GROUP BY file")
        counts = dict(cur.fetchall())
        out.rejected = {kind: counts.get(kind, 0) for kind, name in names.items() if name}
    return out
