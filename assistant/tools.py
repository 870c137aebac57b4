"""The co-pilot's tools. Each is scoped to the asker's visible teams, returns JSON-ready data (so it
can be cached), and names every fact it returns as a citable source:

- `lookup_client(name)`: fuzzy account lookup (trigram similarity on PostgreSQL, difflib on SQLite)
  with the account's facts: industry, spend year to date, account manager, value, risk, segment.
- `account_records(account_id)`: the account's deals, recent orders and open tickets.
- `search_playbook(query)`: ranked playbook passages.

A source id is stable and says what it points at: `A12.total_spend` (account 12's spend field),
`D40.amount`, `O7.status`, `T3.status`, `P88` (playbook passage 88).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.urls import reverse

from assistant import cache, search, semantic
from assistant.models import Passage
from crm import timeline
from crm.models import Account, Deal, Order

CLIENT_FIELDS = {
    # field: label shown in the citation ("TechGiant · spend YTD · $120,000")
    "industry": "industry",
    "total_spend": "spend YTD",
    "account_manager": "account manager",
    "lifetime_value": "lifetime value",
    "segment": "segment",
    "account_status": "status",
    "churn_risk": "churn risk",
    "is_vip": "VIP",
}
# Trigram similarity below this is noise for company names ("Acme" vs "Apex" is 0.14); measured on
# the demo names, true matches with a typo or a missing suffix score 0.35 and up.
MIN_SIMILARITY = 0.3
# difflib's ratio runs higher on unrelated names ("Secret Corp" vs "Swiftline Logistics" is 0.4), so
# the SQLite fallback needs a stricter bar; a typo ("TechGaint") or a suffix ("TechGiant Ltd") still
# scores 0.8 and up.
MIN_RATIO = 0.75
MAX_CLIENT_MATCHES = 3
# Names the first stage of the PostgreSQL lookup reads per query word (see _WORDS_SQL).
WORD_CAP = 200
# Thresholds the trigram stage tries, highest first, before the first stage's best: a capped first
# stage can miss the client when the query misspells its one rare word ("Nordlict Energy"), and a
# trigram search at 0.3 over 60,000 names took ~300 ms where one at 0.6 took ~12 ms.
TRIGRAM_STEPS = (0.6, 0.45)
# A step just above the first stage's best saves little and costs a query ("Nordlicht" at 0.59: 12 ms
# more with a step at 0.6).
STEP_MARGIN = 0.1


@dataclass(frozen=True)
class Source:
    id: str
    kind: str  # "field" or "passage"
    label: str
    value: str
    url: str
    text: str  # what a supporting sentence is checked against

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "value": self.value,
            "url": self.url,
            "text": self.text,
        }


def money(value, currency: str = "USD") -> str:
    amount = Decimal(str(value))
    text = f"{amount:,.2f}".removesuffix(".00")
    return f"${text}" if currency == "USD" else f"{text} {currency}"


def _field_value(account: Account, field: str) -> str:
    value = getattr(account, field)
    if field in {"total_spend", "lifetime_value"}:
        return money(value)
    if field == "account_manager":
        return value.get_full_name() or value.get_username() if value else ""
    if field == "churn_risk":
        return f"{value:.0%}" if value else ""
    if field == "is_vip":
        return "yes" if value else ""
    return str(value or "")


def _client(account: Account, score: float) -> dict:
    fields = {f: v for f in CLIENT_FIELDS if (v := _field_value(account, f))}
    return {"account_id": account.pk, "name": account.name, "score": round(score, 3), "fields": fields}


# Names sharing a whole word with the query, at most WORD_CAP of them per word: a word as common as
# "energy" or "company" is shared by thousands of names, and ranking them all was the stage's whole
# cost. The stage only sets the trigram stage's threshold, so a sample of a common word's names loses
# nothing but speed there; a rare word (the one that tells the client apart) brings all its few names.
_WORDS_SQL = r"""
    SELECT DISTINCT hit.id, similarity(lower(hit.name), %s) AS s
    FROM unnest(%s::text[]) AS w(word)
    CROSS JOIN LATERAL (
        SELECT id, name FROM crm_account
        WHERE regexp_split_to_array(lower(name), '\W+') && ARRAY[w.word] {team}
        LIMIT %s
    ) AS hit
"""
_TRIGRAM_SQL = """
    SELECT id, similarity(lower(name), %s) AS s
    FROM crm_account
    WHERE lower(name) %% %s {team}
    ORDER BY s DESC, id
    LIMIT %s
"""


def _candidates_pg(team_ids, name: str) -> list[tuple[int, float]]:
    """The names closest to `name` by trigram similarity (at least MIN_SIMILARITY), best first.

    Two stages, both served by GIN indexes. First the names sharing a whole word with the query (a
    typo rarely touches every word), WORD_CAP at most a word so that a word thousands of names share
    ("Energy") costs no more than a rare one: a word-array index finds them in about a millisecond.
    Then the trigram search (`%`), with pg_trgm's threshold raised to the best similarity the first
    stage found: only a name at least that close can outrank it, and a higher threshold lets the
    index skip most of the names that merely share common trigrams (the tail of the single-stage
    search); when that best is low, TRIGRAM_STEPS are tried first, highest first, up to the first
    that finds a name. The best match is therefore the same as a plain trigram search's; the other
    two slots hold the next closest names from either stage. Legal suffixes are left out of the query
    ("Acme Ltd" looks for "acme"): thousands of names share their trigrams and words."""
    query = _core(name)
    team_sql, team_params = "", []
    if team_ids is not None:
        team_sql, team_params = "AND team_id = ANY(%s)", [list(team_ids)]
    words = [w for w in re.split(r"\W+", query) if w]
    found: dict[int, float] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        rows = _shared_word_rows(cursor, query, words, team_sql, team_params)
        best = sorted(((pk, s) for pk, s in rows if s >= MIN_SIMILARITY), key=lambda item: (-item[1], item[0]))
        found.update(best[:MAX_CLIENT_MATCHES])
        floor = max([MIN_SIMILARITY, *found.values()])
        # SET LOCAL lasts to the end of the outermost transaction (a caller's, when there is one), so
        # the previous threshold is put back for any later `%` in it.
        cursor.execute("SELECT current_setting('pg_trgm.similarity_threshold', true)")
        previous = cursor.fetchone()[0] or "0.3"
        # Each step returns every name at least as close as its threshold, so the first step that
        # finds one has found the best; a lower step is only paid for when the higher found nothing.
        for threshold in [*(t for t in TRIGRAM_STEPS if t >= floor + STEP_MARGIN), floor]:
            cursor.execute("SELECT set_config('pg_trgm.similarity_threshold', %s, true)", [str(threshold)])
            cursor.execute(_TRIGRAM_SQL.format(team=team_sql), [query, query, *team_params, MAX_CLIENT_MATCHES])
            rows = [(pk, float(s)) for pk, s in cursor.fetchall() if s >= MIN_SIMILARITY]
            found.update(rows)
            if rows:
                break
        cursor.execute("SELECT set_config('pg_trgm.similarity_threshold', %s, true)", [previous])
    return sorted(found.items(), key=lambda item: (-item[1], item[0]))[:MAX_CLIENT_MATCHES]


def _shared_word_rows(cursor, query: str, words: list[str], team_sql: str, team_params: list):
    """(id, similarity) of the names sharing a whole word with the query, WORD_CAP at most a word."""
    if not words:
        return []
    cursor.execute(_WORDS_SQL.format(team=team_sql), [query, words, *team_params, WORD_CAP])
    return [(pk, float(s)) for pk, s in cursor.fetchall()]


_SUFFIX = re.compile(
    r"[\s,]+(ltd|limited|inc|llc|plc|gmbh|group|holdings|systems|labs|corp|corporation|& co|and co|co)\.?$", re.I
)


def _core(name: str) -> str:
    """ "Acme Holdings Ltd" -> "acme": the part of a company name that tells it apart."""
    core = name.lower().strip()
    while (stripped := _SUFFIX.sub("", core)) != core and stripped:
        core = stripped
    return core


def _candidates_sqlite(team_ids, name: str) -> list[tuple[int, float]]:
    qs = Account.objects.all() if team_ids is None else Account.objects.filter(team_id__in=team_ids)
    wanted = name.lower()
    scored = []
    for pk, account_name in qs.values_list("pk", "name").iterator(chunk_size=2000):
        lowered = account_name.lower()
        score = difflib.SequenceMatcher(None, wanted, lowered).ratio()
        if lowered.startswith(wanted) or wanted in lowered.split():
            score = max(score, 0.9)
        if score >= MIN_RATIO:
            scored.append((score, pk))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [(pk, score) for score, pk in scored[:MAX_CLIENT_MATCHES]]


def lookup_client(team_ids, name: str) -> dict:
    name = " ".join((name or "").split())[:200]
    if not name:
        return {"query": name, "matches": []}
    if team_ids is not None and not team_ids:
        return {"query": name, "matches": []}
    found = _candidates_pg(team_ids, name) if connection.vendor == "postgresql" else _candidates_sqlite(team_ids, name)
    accounts = Account.objects.select_related("account_manager").in_bulk([pk for pk, _ in found])
    matches = [_client(accounts[pk], score) for pk, score in found if pk in accounts]
    # A clear winner (exact name, or far ahead of the next) is the only match worth citing, unless
    # another visible account carries the very same name: then both are, and the answer says so
    # rather than silently picking one.
    if matches and (matches[0]["name"].lower() == name.lower() or matches[0]["score"] >= 0.9):
        matches = [m for m in matches if m["name"].lower() == matches[0]["name"].lower()]
    return {"query": name, "matches": matches}


def account_records(team_ids, account_id: int) -> dict:
    qs = Account.objects.all() if team_ids is None else Account.objects.filter(team_id__in=team_ids)
    account = qs.filter(pk=account_id).first()
    if account is None:
        return {"account_id": account_id, "found": False}
    deals = [
        {
            "id": d.pk,
            "name": d.name,
            "stage": d.stage.name,
            "status": d.get_status_display(),
            "amount": money(d.amount, d.currency),
            "next_step": d.next_step,
        }
        for d in Deal.objects.filter(account=account).select_related("stage").order_by("status", "-amount")[:10]
    ]
    orders = [
        {"id": o.pk, "number": o.number, "amount": money(o.amount, o.currency), "status": o.get_status_display()}
        for o in Order.objects.filter(account=account).order_by("-placed_at", "-pk")[:5]
    ]
    tickets = [
        {"id": e.pk, "title": e.title, "status": e.meta.get("status", ""), "url": e.url}
        for e in timeline.entries(account, "ticket", limit=20)
        if e.meta.get("status", "").lower() not in {"solved", "closed", "resolved"}
    ][:5]
    return {
        "account_id": account.pk,
        "name": account.name,
        "found": True,
        "deals": deals,
        "orders": orders,
        "tickets": tickets,
    }


# Candidates each ranking contributes to the fusion when semantic search is installed.
FUSION_DEPTH = 20


def ranked_passages(team_ids, query: str, limit: int) -> list[tuple[int, float]]:
    """Lexical ranking, fused with the semantic one when the optional package is installed."""
    if not semantic.available():
        return [(h.passage_id, h.score) for h in search.search(team_ids, query, limit=limit)]
    lexical = [h.passage_id for h in search.search(team_ids, query, limit=FUSION_DEPTH)]
    dense = [pk for pk, _ in semantic.search(team_ids, query, limit=FUSION_DEPTH)]
    return semantic.fuse(lexical, dense, limit=limit)


def search_playbook(team_ids, query: str, limit: int = 4) -> dict:
    hits = ranked_passages(team_ids, query, limit)
    passages = Passage.objects.select_related("document").in_bulk([pk for pk, _ in hits])
    out = []
    for pk, score in hits:
        p = passages.get(pk)
        if p is None:
            continue
        out.append(
            {
                "passage_id": p.pk,
                "document": p.document.title,
                "heading": p.heading,
                "page": p.page,
                "text": p.text,
                "score": round(score, 4),
                "url": p.get_absolute_url(),
            }
        )
    return {"query": query, "passages": out}


TOOLS = {"lookup_client": lookup_client, "account_records": account_records, "search_playbook": search_playbook}


def run(tool: str, team_ids, args: dict) -> tuple[dict, bool]:
    """Run one tool through the cache; returns `(result, cached)`."""
    fn = TOOLS[tool]
    return cache.get_or_call(tool, team_ids, args, lambda: fn(team_ids, **args))


def sources_of(tool: str, result: dict) -> list[Source]:
    out: list[Source] = []
    if tool == "lookup_client":
        for m in result.get("matches", []):
            url = reverse("crm:account_detail", args=[m["account_id"]])
            out.append(Source(f"A{m['account_id']}.name", "field", f"{m['name']} · name", m["name"], url, m["name"]))
            for field, value in m["fields"].items():
                label = f"{m['name']} · {CLIENT_FIELDS[field]}"
                out.append(Source(f"A{m['account_id']}.{field}", "field", label, value, url, f"{label}: {value}"))
    elif tool == "account_records" and result.get("found"):
        url = reverse("crm:account_detail", args=[result["account_id"]])
        for d in result["deals"]:
            label = f"{result['name']} · deal “{d['name']}”"
            text = f"{label}: {d['amount']}, {d['stage']}, {d['status']}"
            out.append(Source(f"D{d['id']}.amount", "field", label, d["amount"], url, text))
        for o in result["orders"]:
            label = f"{result['name']} · order #{o['number']}"
            out.append(
                Source(
                    f"O{o['id']}.status",
                    "field",
                    label,
                    f"{o['amount']} · {o['status']}",
                    url,
                    f"{label}: {o['amount']}, {o['status']}",
                )
            )
        for t in result["tickets"]:
            label = f"{result['name']} · ticket {t['title']}"
            out.append(
                Source(f"T{t['id']}.status", "field", label, t["status"], t["url"] or url, f"{label}: {t['status']}")
            )
    elif tool == "search_playbook":
        for p in result.get("passages", []):
            where = f"p. {p['page']}" if p["page"] else "passage"
            label = f"{p['document']} · {p['heading'] or 'passage'} · {where}"
            out.append(Source(f"P{p['passage_id']}", "passage", label, p["heading"], p["url"], p["text"]))
    return out
