# ruff: noqa: S608 - the SQL here is built from constants and column names only; values are parameters.
"""The streaming COPY path of the customer import, in SQL: Customer Profiles and Account Activity Logs
of any size, staged by the core (crm/copyimport.py), checked and merged set-based.

`check(cursor, team, stages)`: one pass per staged file turns its text into typed values and the
first failing column per row (the rules of notifications/parsing.py, without plpgsql or exception
handlers: a per-row exception block costs a subtransaction), into the temporary tables `nt_p` and
`nt_a`; then duplicates, activity rows naming no profile, and profiles with no activity row (a
warning), all reported into the core's `import_rejects`.

`merge(cursor, team, stages, run)`: one more pass joins the good rows with what the team already
holds (`nt_m`: new ids drawn from the sequences up front, and a changed flag per table), then each
table is written once: plain INSERTs for new customers (no ON CONFLICT arbitration, no join back
on external ids), UPDATE ... FROM for changed ones after their old values are copied to
`crm.ImportSnapshot` (what `undo` restores). Segments and risk are recomputed afterwards by the
importer's `after_import` (`facts.recompute`), outside the timed load.

Limits (reported, not hidden): dates as YYYY-MM-DD only; `line` is exact unless a quoted cell holds
a line break; the other three files go through the regular import.
"""

from __future__ import annotations

from crm.copyimport import bulk_gin_inserts
from crm.imports import Counts

# PostgreSQL's regex engine expands a bounded repetition ({m,n}) into states, and each costs per value:
# `[...]{0,63}` made the id check ~15 us a value. So the patterns spell short bounds out (\d\d\d\d) and
# test long ones as `*` or `+` plus a length check: the same verdicts, the typed pass over 200,000 ids
# 3.3 s -> 0.5 s, each date column 1.2 s -> 0.8 s, the amounts 0.8 s -> 0.5 s (load 8-9; docs/benchmarks.md).
# The classes are ASCII, so length() and strpos() count the same characters.
ID_RE = r"^[A-Za-z0-9][A-Za-z0-9_./-]*$"
BAD_ID = f"({{v}} !~ '{ID_RE}' OR length({{v}}) > 64)"
DATE_RE = r"^\d\d\d\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"
YES = "('yes','y','true','1','t')"
YESNO = "('yes','y','true','1','t','no','n','false','0','f','')"
SPEND_RE = r"^\d+(\.\d\d?)?$"  # and at most 6 digits before the point (`monthly_spend` below)
CHURN_RE = r"^(\d\d?\d?(\.\d+)?|\.\d+)%?$"


def _t(col: str) -> str:
    """The trimmed cell ('' for a blank), computed once per row in a fenced subquery (`_typed`)."""
    return f"s.r_{col}"


def _date(col: str) -> str:
    """A real date in 1900-2100, else NULL (CASE: evaluated in order, so no cast ever fails)."""
    v = _t(col)
    return (
        f"CASE WHEN {v} !~ '{DATE_RE}' OR left({v}, 4) NOT BETWEEN '1900' AND '2100' THEN NULL "
        f"WHEN substr({v}, 9, 2) <= '28' OR substr({v}, 9, 2)::int <= extract(day from "
        f"(substr({v}, 1, 8) || '01')::date + interval '1 month' - interval '1 day') THEN {v}::date END"
    )


def _bad(typed: str, col: str) -> str:
    """A cell that was not blank and did not convert."""
    return f"s.{typed} IS NULL AND {_t(col)} <> ''"


def _too_long(col: str, n: int) -> tuple[str, str, str]:
    return (col, f"length({_t(col)}) > {n}", f"longer than {n} characters")


SPEND = f"replace(replace({_t('monthly_spend_gbp')}, '£', ''), ',', '')"
# "82%" and 82 both mean 0.82 (notifications/parsing.py `_churn`).
_CHURN_NUM = f"rtrim({_t('churn_risk')}, '%')::numeric"
CHURN = (
    f"CASE WHEN right({_t('churn_risk')}, 1) = '%' OR {_CHURN_NUM} > 1 THEN {_CHURN_NUM} / 100 ELSE {_CHURN_NUM} END"
)
CHECKS = {
    "profiles": [
        ("customer_id", BAD_ID.format(v=_t("customer_id")), "is not an id (letters, digits, - _ . /, up to 64)"),
        _too_long("first_name", 100),
        _too_long("last_name", 100),
        _too_long("email", 254),
        _too_long("phone", 40),
        _too_long("region", 100),
        _too_long("tariff", 100),
        _too_long("payment_method", 50),
        ("monthly_spend_gbp", "s.monthly_spend IS NULL", "is not an amount (0-999999.99)"),
        ("tenure_months", f"{_bad('tenure_months', 'tenure_months')} OR s.tenure_months > 1200", "is not a whole number 0-1200"),
        ("green_tariff", f"lower({_t('green_tariff')}) NOT IN {YESNO}", "is not yes/no"),
        ("preferred_channel", "s.preferred_channel NOT IN ('email','sms','phone','chat','whatsapp')", "is not a channel"),
        ("marketing_consent", f"lower({_t('marketing_consent')}) NOT IN {YESNO}", "is not yes/no"),
    ],
    "activity": [
        ("customer_id", BAD_ID.format(v=_t("customer_id")), "is not an id (letters, digits, - _ . /, up to 64)"),
        _too_long("account_status", 50),
        ("engagement_score", f"{_bad('engagement_score', 'engagement_score')} OR s.engagement_score > 100", "is not a whole number 0-100"),
        ("churn_risk", f"{_bad('churn_risk', 'churn_risk')} OR s.churn_risk > 1", "is not 0-1 (or 0-100 %)"),
        ("last_login", _bad("last_login", "last_login"), "is not a date (YYYY-MM-DD, 1900-2100)"),
        ("payment_status", "s.payment_status IS NULL", "is not on_time, late or missed"),
        ("contract_end", _bad("contract_end", "contract_end"), "is not a date (YYYY-MM-DD, 1900-2100)"),
        ("outcome", "s.outcome IS NULL", "is not closed or switched"),
        ("outcome_date", _bad("outcome_on", "outcome_date"), "is not a date (YYYY-MM-DD, 1900-2100)"),
    ],
}  # fmt: skip

# Typed values, each cast behind its check: NULL where the cell does not convert (the row is rejected).
TYPED = {
    "profiles": {
        "name": f"left(coalesce(nullif(trim(concat_ws(' ', nullif({_t('first_name')}, ''), nullif({_t('last_name')}, ''))), ''), {_t('customer_id')}), 200)",
        "email": _t("email"),
        "phone": _t("phone"),
        "region": _t("region"),
        "tariff": _t("tariff"),
        "payment_method": _t("payment_method"),
        "monthly_spend": f"CASE WHEN {SPEND} = '' THEN 0 WHEN {SPEND} ~ '{SPEND_RE}' "
        f"AND strpos({SPEND} || '.', '.') <= 7 THEN {SPEND}::numeric(9,2) END",
        "tenure_months": rf"CASE WHEN {_t('tenure_months')} ~ '^\d\d?\d?\d?$' THEN {_t('tenure_months')}::int END",
        "green_tariff": f"lower({_t('green_tariff')}) IN {YES}",
        "preferred_channel": f"CASE lower({_t('preferred_channel')}) WHEN 'text' THEN 'sms' WHEN 'call' THEN 'phone' "
        f"WHEN 'app' THEN 'chat' WHEN '' THEN 'email' ELSE lower({_t('preferred_channel')}) END",
        "marketing_consent": f"{_t('marketing_consent')} = '' OR lower({_t('marketing_consent')}) IN {YES}",
    },
    "activity": {
        "account_status": _t("account_status"),
        "engagement_score": rf"CASE WHEN {_t('engagement_score')} ~ '^\d\d?\d?$' THEN {_t('engagement_score')}::int END",
        "churn_risk": f"CASE WHEN {_t('churn_risk')} ~ '{CHURN_RE}' THEN round({CHURN}, 4)::float8 END",
        "last_login": _date("last_login"),
        "payment_status": f"CASE lower(replace({_t('payment_status')}, '_', '')) WHEN '' THEN 'on_time' "
        "WHEN 'ontime' THEN 'on_time' WHEN 'paid' THEN 'on_time' WHEN 'late' THEN 'late' "
        "WHEN 'overdue' THEN 'late' WHEN 'missed' THEN 'missed' END",
        "contract_end": _date("contract_end"),
        "outcome": f"CASE lower(replace({_t('outcome')}, ' ', '')) WHEN '' THEN '' WHEN 'none' THEN '' "
        "WHEN 'active' THEN '' WHEN 'closed' THEN 'closed' WHEN 'left' THEN 'closed' WHEN 'switched' THEN 'switched' "
        "WHEN 'switchedsupplier' THEN 'switched' WHEN 'churned' THEN 'switched' END",
        "outcome_on": _date("outcome_date"),
    },
}
TEMP = {"profiles": "nt_p", "activity": "nt_a"}
PROFILE_RECORD = (
    "region",
    "tariff",
    "payment_method",
    "monthly_spend",
    "tenure_months",
    "green_tariff",
    "marketing_consent",
)
ACTIVITY_RECORD = ("has_activity", "account_status", "engagement_score", "churn_risk", "last_login", "payment_status",
                   "contract_end", "outcome", "outcome_on")  # fmt: skip
CONTACT = ("name", "email", "phone", "preferred_channel", "opted_out")


def _typed(cur, kind: str, source: str) -> None:
    """One pass: typed values and the first failing column ('column|reason') per staged row. Two
    fenced subqueries (OFFSET 0) make each trim and each conversion run once per row."""
    raw = ", ".join(f"coalesce(trim({c}), '') AS r_{c}" for c in _raw_columns(kind))
    values = ", ".join(f"{expr} AS {name}" for name, expr in TYPED[kind].items())
    case = " ".join(
        f"WHEN {cond} THEN '{col}|' || left(quote_literal({_t(col)}), 60) || ' {reason}'"
        for col, cond, reason in CHECKS[kind]
    )
    cur.execute(
        f"CREATE TEMP TABLE {TEMP[kind]} ON COMMIT DROP AS "
        f"SELECT s.line, s.r_customer_id AS customer_id, {', '.join(f's.{n}' for n in TYPED[kind])}, "
        f"CASE {case} END AS err "
        f"FROM (SELECT s.*, {values} FROM (SELECT line, {raw} FROM {source} OFFSET 0) s OFFSET 0) s"
    )
    # Duplicates among the rows that are otherwise good: every copy after the first is rejected.
    cur.execute(
        f"""UPDATE {TEMP[kind]} t SET err = 'customer_id|duplicate customer_id ' || quote_literal(t.customer_id)
                || ' (first on line ' || d.first || ')'
            FROM (SELECT customer_id, min(line) AS first FROM {TEMP[kind]} WHERE err IS NULL
                  GROUP BY customer_id HAVING count(*) > 1) d
            WHERE t.customer_id = d.customer_id AND t.line <> d.first AND t.err IS NULL"""
    )


def check(cur, team, stages: dict) -> None:
    """Typed staging tables `nt_p` / `nt_a` and every reject and warning in `import_rejects`."""
    # Temp tables drop on commit; a second run inside one outer transaction finds them still there.
    cur.execute("DROP TABLE IF EXISTS nt_p, nt_a, nt_m")
    for kind in ("profiles", "activity"):
        if kind in stages:
            _typed(cur, kind, stages[kind].table)
        else:  # an empty typed table keeps the SQL below one shape
            empty = ", ".join(f"NULL::text AS {c}" for c in _raw_columns(kind))
            _typed(cur, kind, f"(SELECT 0::bigint AS line, {empty} WHERE false) e")
        # Statistics for the anti-joins below and the join of profiles with activity.
        cur.execute(f"ANALYZE {TEMP[kind]}")
    cur.execute(
        """UPDATE nt_a a SET err = 'customer_id|customer ' || a.customer_id || ' is defined by no profile'
           WHERE a.err IS NULL
             AND NOT EXISTS (SELECT 1 FROM nt_p p WHERE p.customer_id = a.customer_id AND p.err IS NULL)
             AND NOT EXISTS (SELECT 1 FROM notifications_customerrecord r
                             WHERE r.team_id = %s AND r.customer_id = a.customer_id)""",
        [team.pk],
    )
    for kind in ("profiles", "activity"):
        if kind in stages:
            cur.execute(
                f"INSERT INTO import_rejects (file, line, col, reason) SELECT %s, line, split_part(err, '|', 1), "
                f"substr(err, strpos(err, '|') + 1) FROM {TEMP[kind]} WHERE err IS NOT NULL",
                [stages[kind].name],
            )
    if "profiles" in stages:
        cur.execute(
            """INSERT INTO import_rejects (file, line, col, reason, warning)
               SELECT %s, p.line, 'customer_id',
                      'customer ' || p.customer_id || ' has no row in Account Activity Logs (imported without one)', true
               FROM nt_p p WHERE p.err IS NULL
                 AND NOT EXISTS (SELECT 1 FROM nt_a a WHERE a.customer_id = p.customer_id AND a.err IS NULL)
                 AND NOT EXISTS (SELECT 1 FROM notifications_customerrecord r
                                 WHERE r.team_id = %s AND r.customer_id = p.customer_id AND r.has_activity)""",
            [stages["profiles"].name, team.pk],
        )


def _raw_columns(kind: str) -> list[str]:
    from notifications import parsing

    return [c.name for c in parsing.COLUMNS[kind]]


def merge(cur, team, stages: dict, run) -> dict[str, Counts]:
    """Write the good rows; returns the counts per staged file kind."""
    _merged(cur, team)
    _snapshot(cur, run)
    # New rows carry the run's start as their creation time: undo removes only what the run created.
    params = {"team": team.pk, "run": run.pk, "at": run.started_at}
    # New customers: an account, a contact, a record, each written by one plain INSERT. The account
    # names feed the co-pilot's GIN indexes: their pending lists are raised for the load, merged once.
    with bulk_gin_inserts(cur, "crm_account"):
        cur.execute(
            """INSERT INTO crm_account (id, team_id, name, kind, external_id, industry, total_spend, lifetime_value,
                   churn_risk, is_vip, segment, account_status, extra, created_at, updated_at)
               SELECT m.account_id, %(team)s, m.name, 'person', m.customer_id, '', 0, 0, coalesce(m.churn_risk, 0),
                   false, '', m.account_status, '{}', %(at)s, %(at)s
               FROM nt_m m WHERE m.new_account""",
            params,
        )
        cur.execute(
            """UPDATE crm_account a SET name = m.name, account_status = m.account_status,
                   churn_risk = coalesce(m.churn_risk, 0), updated_at = now()
               FROM nt_m m WHERE a.id = m.account_id AND m.account_changed""",
        )
    cur.execute(
        """INSERT INTO crm_contact (account_id, name, title, email, phone, preferred_channel, language, opted_out,
               external_id, created_at, time_zone)
           SELECT m.account_id, m.name, '', m.email, m.phone, m.preferred_channel, 'en', m.opted_out, m.customer_id,
               %(at)s, ''
           FROM nt_m m WHERE m.has_profile AND m.contact_id IS NULL""",
        params,
    )
    cur.execute(
        """INSERT INTO notifications_customerrecord (team_id, account_id, customer_id, region, tariff, payment_method,
               monthly_spend, tenure_months, green_tariff, marketing_consent, has_activity, account_status,
               payment_status, outcome, engagement_score, churn_risk, last_login, contract_end, outcome_on,
               segment, segment_reason, risk_score, risk_raw, risk_factors, priority, updated_at, import_run_id)
           SELECT %(team)s, m.account_id, m.customer_id, m.region, m.tariff, m.payment_method, m.monthly_spend,
               m.tenure_months, m.green_tariff, m.marketing_consent, m.has_activity, m.account_status,
               m.payment_status, m.outcome, m.engagement_score, m.churn_risk, m.last_login, m.contract_end,
               m.outcome_on, '', '', 1, 0, '[]', 'Low', %(at)s, %(run)s
           FROM nt_m m WHERE m.record_id IS NULL""",
        params,
    )
    # Customers the team already holds (accounts above): only what changed, after its old values were
    # snapshotted.
    cur.execute(
        f"""UPDATE crm_contact c SET {", ".join(f"{f} = m.{f}" for f in CONTACT)}
            FROM nt_m m WHERE c.id = m.contact_id AND m.contact_changed""",
    )
    cur.execute(
        f"""UPDATE notifications_customerrecord r SET {", ".join(f"{f} = m.{f}" for f in PROFILE_RECORD + ACTIVITY_RECORD)},
                import_run_id = %(run)s, updated_at = now()
            FROM nt_m m WHERE r.id = m.record_id AND (m.profile_changed OR m.activity_changed)""",
        params,
    )
    cur.execute(
        """SELECT count(*) FILTER (WHERE has_profile AND record_id IS NULL),
                  count(*) FILTER (WHERE has_profile AND record_id IS NOT NULL
                                   AND (account_changed OR contact_changed OR profile_changed)),
                  count(*) FILTER (WHERE has_profile),
                  count(*) FILTER (WHERE activity_row AND (record_id IS NULL OR NOT had_activity)),
                  count(*) FILTER (WHERE activity_row AND record_id IS NOT NULL AND had_activity AND activity_changed),
                  count(*) FILTER (WHERE activity_row)
           FROM nt_m"""
    )
    pc, pu, pn, ac, au, an = cur.fetchone()
    out = {}
    if "profiles" in stages:
        out["profiles"] = Counts(pc, pu, pn - pc - pu)
    if "activity" in stages:
        out["activity"] = Counts(ac, au, an - ac - au)
    return out


def _merged(cur, team) -> None:
    """`nt_m`: one row per good customer with its final values, its ids (new ones drawn up front) and
    what changed against what the team holds."""
    cur.execute("SELECT pg_get_serial_sequence('crm_account', 'id')")
    seq = cur.fetchone()[0]
    p_cols = ", ".join(f"p.{c}" for c in TYPED["profiles"])
    a_cols = ", ".join(f"a.{c}" for c in TYPED["activity"])
    # The good profiles with their good activity rows (and activity for stored customers alone).
    joined = f"""SELECT coalesce(p.customer_id, a.customer_id) AS customer_id, coalesce(p.line, a.line) AS line,
                   p.customer_id IS NOT NULL AS has_profile, a.customer_id IS NOT NULL AS has_activity,
                   {p_cols}, {a_cols.replace("a.account_status", "a.account_status AS act_status")}
            FROM (SELECT * FROM nt_p WHERE err IS NULL) p
            FULL JOIN (SELECT * FROM nt_a WHERE err IS NULL) a ON a.customer_id = p.customer_id"""
    # Existing rows of the team for these customers (an empty result on a first import).
    keep = lambda f, new: f"CASE WHEN i.has_profile THEN {new} ELSE r.{f} END"  # noqa: E731
    keep_a = lambda f, new: f"CASE WHEN i.has_activity THEN {new} ELSE r.{f} END"  # noqa: E731
    record_values = [
        *(f"{keep(f, 'i.' + f)} AS {f}" for f in PROFILE_RECORD),
        "(i.has_activity OR coalesce(r.has_activity, false)) AS has_activity",
        f"coalesce({keep_a('account_status', 'i.act_status')}, '') AS account_status",
        *(
            f"coalesce({keep_a(f, 'i.' + f)}, '') AS {f}"
            if f in ("payment_status", "outcome")
            else f"{keep_a(f, 'i.' + f)} AS {f}"
            for f in ACTIVITY_RECORD[2:]
        ),
    ]
    cur.execute(
        f"""CREATE TEMP TABLE nt_m ON COMMIT DROP AS
            SELECT i.customer_id, i.line, i.has_profile, i.has_activity AS activity_row,
                   coalesce(r.has_activity, false) AS had_activity,
                   coalesce(x.id, nextval(%(seq)s::regclass)) AS account_id,
                   x.id IS NULL AS new_account, c.id AS contact_id, r.id AS record_id,
                   CASE WHEN i.has_profile THEN i.name ELSE x.name END AS name,
                   i.email, i.phone, i.preferred_channel, NOT i.marketing_consent AS opted_out,
                   {", ".join(record_values)},
                   x.id IS NOT NULL AND (x.name, x.account_status, x.churn_risk) IS DISTINCT FROM
                       (CASE WHEN i.has_profile THEN i.name ELSE x.name END,
                        CASE WHEN i.has_activity THEN i.act_status ELSE x.account_status END,
                        CASE WHEN i.has_activity THEN coalesce(i.churn_risk, 0) ELSE x.churn_risk END)
                       AS account_changed,
                   c.id IS NOT NULL AND i.has_profile AND (c.name, c.email, c.phone, c.preferred_channel, c.opted_out)
                       IS DISTINCT FROM (i.name, i.email, i.phone, i.preferred_channel, NOT i.marketing_consent)
                       AS contact_changed,
                   r.id IS NOT NULL AND i.has_profile AND ({", ".join(f"r.{f}" for f in PROFILE_RECORD)})
                       IS DISTINCT FROM ({", ".join(f"i.{f}" for f in PROFILE_RECORD)}) AS profile_changed,
                   r.id IS NOT NULL AND i.has_activity
                       AND ({", ".join(f"r.{f}" for f in ACTIVITY_RECORD)}) IS DISTINCT FROM
                       (true, i.act_status, {", ".join(f"i.{f}" for f in ACTIVITY_RECORD[2:])}) AS activity_changed
            FROM ({joined}) i
            LEFT JOIN crm_account x ON x.team_id = %(team)s AND x.external_id = i.customer_id AND x.external_id <> ''
            LEFT JOIN notifications_customerrecord r ON r.team_id = %(team)s AND r.customer_id = i.customer_id
            LEFT JOIN (SELECT DISTINCT ON (account_id) account_id, id, name, email, phone, preferred_channel, opted_out
                       FROM crm_contact WHERE account_id IN (SELECT id FROM crm_account WHERE team_id = %(team)s)
                       ORDER BY account_id, id DESC) c ON c.account_id = x.id
            WHERE i.has_profile OR r.id IS NOT NULL""",
        {"team": team.pk, "seq": seq},
    )
    # No ANALYZE: nt_m is read by sequential scans filtered on its flags, joined by id to what exists.


def _snapshot(cur, run) -> None:
    """Old values of the rows about to change, for undo (none on a first import)."""
    for table, id_col, flag in (
        ("crm_account", "account_id", "m.account_changed"),
        ("crm_contact", "contact_id", "m.contact_changed"),
        ("notifications_customerrecord", "record_id", "(m.profile_changed OR m.activity_changed)"),
    ):
        cur.execute(
            f"""INSERT INTO crm_importsnapshot (run_id, table_name, row_id, before)
                SELECT %s, %s, t.id, to_jsonb(t) FROM {table} t JOIN nt_m m ON t.id = m.{id_col} WHERE {flag}""",
            [run.pk, table],
        )


# Tables whose rows point at a customer's account; undo deletes them first (no ON DELETE in the database).
ACCOUNT_CHILDREN = (
    "notifications_notification",
    "notifications_customerrecord",
    "notifications_pastnotification",
    "notifications_recommendedaction",
    "crm_contact",
    "crm_activity",
)


def undo(team, run) -> None:
    """Restore snapshotted rows, then delete the customers the run created (accounts created during it
    whose record it wrote and did not merely update)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS nt_undo")
        cur.execute(
            """CREATE TEMP TABLE nt_undo ON COMMIT DROP AS
               SELECT r.account_id FROM notifications_customerrecord r JOIN crm_account a ON a.id = r.account_id
               WHERE r.team_id = %s AND r.import_run_id = %s AND a.created_at >= %s
                 AND NOT EXISTS (SELECT 1 FROM crm_importsnapshot s WHERE s.run_id = %s
                                 AND s.table_name = 'notifications_customerrecord' AND s.row_id = r.id)""",
            [team.pk, run.pk, run.started_at, run.pk],
        )
        for table, columns in (
            ("crm_account", ("name", "account_status", "churn_risk", "updated_at")),
            ("crm_contact", CONTACT),
            ("notifications_customerrecord", (*PROFILE_RECORD, *ACTIVITY_RECORD, "import_run_id", "updated_at")),
        ):
            sets = ", ".join(f"{c} = o.{c}" for c in columns)
            cur.execute(
                f"""UPDATE {table} t SET {sets}
                    FROM crm_importsnapshot s, jsonb_populate_record(NULL::{table}, s.before) o
                    WHERE s.run_id = %s AND s.table_name = %s AND t.id = s.row_id""",
                [run.pk, table],
            )
        for table in ACCOUNT_CHILDREN:
            cur.execute(f"DELETE FROM {table} WHERE account_id IN (SELECT account_id FROM nt_undo)")
        cur.execute("DELETE FROM crm_account WHERE id IN (SELECT account_id FROM nt_undo)")
        cur.execute("DELETE FROM crm_importsnapshot WHERE run_id = %s", [run.pk])
