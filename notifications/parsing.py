"""The five customer files as documented in docs/data-formats.md: which file is which, header
variants, and one converter per column that turns a cell into a typed value or a reason.

Pure: strings in, values out, no database. Decoding, reading rows and reporting are the import
core's (crm/imports.py); notifications/importing.py is the importer, and the PostgreSQL COPY path
(notifications/bulkload.py) checks the same rules in SQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from notifications.sampledata import FILES

KINDS = tuple(FILES)  # profiles, activity, interactions, notifications, actions
FILE_LABELS = {
    "profiles": "Customer Profiles",
    "activity": "Account Activity Logs",
    "interactions": "Interaction History",
    "notifications": "Notification History",
    "actions": "Recommended Actions",
}


def norm(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


# --- value converters: raise ValueError with the reason shown in the report ------------------


def _text(limit: int) -> Callable[[str], str]:
    def conv(v: str) -> str:
        if "\x00" in v:
            raise ValueError("contains a NUL character")
        if len(v) > limit:
            raise ValueError(f"longer than {limit} characters")
        return v

    return conv


def _date(v: str) -> date | None:
    if not v:
        return None
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            d = datetime.strptime(v, fmt).date()
        except ValueError:
            continue
        if not 1900 <= d.year <= 2100:
            raise ValueError(f"year {d.year} is out of range")
        return d
    raise ValueError(f"{v!r} is not a date (use YYYY-MM-DD or DD/MM/YYYY)")


_YES = {"yes", "y", "true", "1", "t"}
_NO = {"no", "n", "false", "0", "f", ""}


def _bool(v: str) -> bool:
    low = v.lower()
    if low in _YES:
        return True
    if low in _NO:
        return False
    raise ValueError(f"{v!r} is not yes/no")


def _int_range(lo: int, hi: int) -> Callable[[str], int | None]:
    def conv(v: str) -> int | None:
        if not v:
            return None
        try:
            n = int(float(v)) if re.fullmatch(r"-?\d+(\.0+)?", v) else int(v)
        except ValueError:
            raise ValueError(f"{v!r} is not a whole number") from None
        if not lo <= n <= hi:
            raise ValueError(f"{n} is outside {lo}-{hi}")
        return n

    return conv


def _money(v: str) -> Decimal:
    raw = v.replace("£", "").replace(",", "").strip()
    if not raw:
        return Decimal("0")
    try:
        d = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"{v!r} is not an amount") from None
    if not d.is_finite() or not Decimal("0") <= d < Decimal("1000000"):
        raise ValueError(f"{v!r} is outside 0-999999")
    return d.quantize(Decimal("0.01"))


def _churn(v: str) -> float | None:
    if not v:
        return None
    raw = v.rstrip("%")
    try:
        x = float(raw)
    except ValueError:
        raise ValueError(f"{v!r} is not a number") from None
    if v.endswith("%") or x > 1:  # "82%" or 82 mean 0.82
        x = x / 100
    if not 0 <= x <= 1:
        raise ValueError(f"{v!r} is outside 0-1 (or 0-100 %)")
    return round(x, 4)


_SENTIMENT_WORDS = {"positive": 0.6, "neutral": 0.0, "negative": -0.6, "very negative": -0.9, "very positive": 0.9}


def _sentiment(v: str) -> float | None:
    if not v:
        return None
    if v.lower() in _SENTIMENT_WORDS:
        return _SENTIMENT_WORDS[v.lower()]
    try:
        x = float(v)
    except ValueError:
        raise ValueError(f"{v!r} is not a sentiment (-1 to 1, or positive/neutral/negative)") from None
    if not -1 <= x <= 1:
        raise ValueError(f"{x} is outside -1 to 1")
    return x


def _choice(options: dict[str, str]) -> Callable[[str], str]:
    def conv(v: str) -> str:
        key = norm(v)
        if key in options:
            return options[key]
        raise ValueError(f"{v!r} is not one of {', '.join(sorted(set(options.values())))}")

    return conv


_CHANNELS = _choice(
    {
        "email": "email",
        "sms": "sms",
        "text": "sms",
        "phone": "phone",
        "call": "phone",
        "chat": "chat",
        "app": "chat",
        "whatsapp": "whatsapp",
    }
)
_PAYMENT = _choice(
    {"ontime": "on_time", "": "on_time", "paid": "on_time", "late": "late", "missed": "missed", "overdue": "late"}
)
_OUTCOME = _choice(
    {
        "": "",
        "none": "",
        "active": "",
        "closed": "closed",
        "switched": "switched",
        "switchedsupplier": "switched",
        "churned": "switched",
        "left": "closed",
    }
)
_PRIORITY = _choice(
    {
        "": "",
        "high": "High",
        "medium": "Medium",
        "low": "Low",
        "critical": "High",
        "important": "Medium",
        "routine": "Low",
    }
)
_CUSTOMER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,63}$")


def _customer_id(v: str) -> str:
    if not _CUSTOMER_ID.match(v):
        raise ValueError(f"{v!r} is not an id (letters, digits, - _ . /, up to 64)")
    return v


@dataclass(frozen=True)
class Column:
    name: str
    convert: Callable[[str], object]
    required: bool = True  # the column must be in the header
    aliases: tuple[str, ...] = ()
    blank_ok: bool = True  # a blank cell is allowed


CID = ("customerid", "custid", "customer", "customerno", "customernumber", "accountid", "accountnumber")
COLUMNS: dict[str, tuple[Column, ...]] = {
    "profiles": (
        Column("customer_id", _customer_id, aliases=CID, blank_ok=False),
        Column("first_name", _text(100), aliases=("firstname", "forename", "givenname")),
        Column("last_name", _text(100), aliases=("lastname", "surname", "familyname")),
        Column("email", _text(254), aliases=("emailaddress", "mail")),
        Column("phone", _text(40), required=False, aliases=("phonenumber", "mobile", "telephone", "tel")),
        Column("region", _text(100), required=False, aliases=("area", "location")),
        Column("tariff", _text(100), required=False, aliases=("tariffname", "plan", "product")),
        Column("payment_method", _text(50), required=False, aliases=("paymenttype", "paymethod")),
        Column("monthly_spend_gbp", _money, required=False, aliases=("monthlyspend", "monthlybill", "monthlybillgbp", "spend", "avgmonthlyspend")),
        Column("tenure_months", _int_range(0, 1200), required=False, aliases=("tenure", "monthsascustomer")),
        Column("green_tariff", _bool, required=False, aliases=("green", "greenenergy")),
        Column("preferred_channel", _CHANNELS, required=False, aliases=("channel", "preferredcontact", "contactpreference")),
        Column("marketing_consent", _bool, required=False, aliases=("consent", "optin", "marketingoptin")),
    ),
    "activity": (
        Column("customer_id", _customer_id, aliases=CID, blank_ok=False),
        Column("account_status", _text(50), required=False, aliases=("status", "accountstate")),
        Column("engagement_score", _int_range(0, 100), aliases=("engagement", "engagementscore0100")),
        Column("churn_risk", _churn, aliases=("churnrisk", "churnprobability", "churnscore", "risk")),
        Column("last_login", _date, required=False, aliases=("lastlogin", "lastlogindate", "lastseen")),
        Column("payment_status", _PAYMENT, required=False, aliases=("paymentstatus", "payments")),
        Column("contract_end", _date, required=False, aliases=("contractend", "contractenddate", "enddate")),
        Column("outcome", _OUTCOME, required=False, aliases=("laterstatus", "churned", "result")),
        Column("outcome_date", _date, required=False, aliases=("outcomedate", "closedon", "leftdate")),
    ),
    "interactions": (
        Column("interaction_id", _customer_id, aliases=("interactionid", "id", "ref", "reference"), blank_ok=False),
        Column("customer_id", _customer_id, aliases=CID, blank_ok=False),
        Column("date", _date, aliases=("interactiondate", "occurredat", "timestamp", "when"), blank_ok=False),
        Column("channel", _CHANNELS, required=False, aliases=("medium",)),
        Column("category", _text(100), aliases=("type", "reason", "topic", "interactiontype"), blank_ok=False),
        Column("summary", _text(2000), required=False, aliases=("notes", "description", "details")),
        Column("sentiment", _sentiment, aliases=("sentimentscore", "mood")),
    ),
    "notifications": (
        Column("notification_id", _customer_id, aliases=("notificationid", "id", "messageid"), blank_ok=False),
        Column("customer_id", _customer_id, aliases=CID, blank_ok=False),
        Column("sent_at", _date, aliases=("sent", "sentdate", "date", "senton"), blank_ok=False),
        Column("channel", _CHANNELS, required=False),
        Column("subject", _text(300), aliases=("title", "topic"), blank_ok=False),
        Column("opened", _bool, required=False, aliases=("wasopened", "open")),
        Column("clicked", _bool, required=False, aliases=("wasclicked", "click")),
        Column("responded", _bool, required=False, aliases=("wasresponded", "response", "replied")),
    ),
    "actions": (
        Column("action_id", _customer_id, aliases=("actionid", "id", "recommendationid"), blank_ok=False),
        Column("customer_id", _customer_id, aliases=CID, blank_ok=False),
        Column("action", _text(300), aliases=("recommendedaction", "recommendation", "nextbestaction"), blank_ok=False),
        Column("offer", _text(300), required=False, aliases=("offerdetails", "incentive")),
        Column("priority", _PRIORITY, required=False),
        Column("valid_until", _date, required=False, aliases=("validuntil", "expires", "expiry")),
    ),
}  # fmt: skip
KEY = {"profiles": "customer_id", "activity": "customer_id", "interactions": "interaction_id",
       "notifications": "notification_id", "actions": "action_id"}  # fmt: skip


def map_header(kind: str, header: list[str]) -> tuple[dict[str, int], list[str], list[str]]:
    """({column: index}, missing required columns, unknown headers)."""
    by_norm: dict[str, str] = {}
    for col in COLUMNS[kind]:
        by_norm[norm(col.name)] = col.name
        for a in col.aliases:
            by_norm.setdefault(a, col.name)
    index: dict[str, int] = {}
    unknown = []
    for i, h in enumerate(header):
        name = by_norm.get(norm(h))
        if name is None or name in index:
            unknown.append(h)
        else:
            index[name] = i
    missing = [c.name for c in COLUMNS[kind] if c.required and c.name not in index]
    return index, missing, unknown


def detect_kind(name: str, header: list[str]) -> str | None:
    """Which of the five files this is: by its name first, else by the best-fitting header."""
    n = norm(name.rsplit("/", 1)[-1].removesuffix(".csv"))
    for kind, file in FILES.items():
        if norm(file.removesuffix(".csv")) == n:
            return kind
    words = {"profile": "profiles", "activity": "activity", "interaction": "interactions",
             "notification": "notifications", "action": "actions", "recommend": "actions"}  # fmt: skip
    for word, kind in words.items():
        if word in n:
            return kind
    best = None
    for kind in KINDS:
        index, missing, _ = map_header(kind, header)
        if not missing and (best is None or len(index) > best[1]):
            best = (kind, len(index))
    return best[0] if best else None


def convert(kind: str, values: dict[str, str]) -> tuple[dict, tuple[str, str] | None]:
    """One row read by the import core ({column: cell}) as typed values, or the first (column, reason)."""
    row: dict = {}
    for col in COLUMNS[kind]:
        if col.name not in values:
            continue
        raw = values[col.name].strip()
        if not raw and not col.blank_ok:
            return row, (col.name, "is empty")
        try:
            row[col.name] = col.convert(raw)
        except ValueError as exc:
            return row, (col.name, str(exc))
    return row, None
