"""Lexical playbook search: PostgreSQL full-text search with ranking, SQLite FTS5 on the default.

The question is reduced to its content words and searched with OR semantics (a passage that holds
some of the words still ranks, by how many and how rare), which suits natural-language questions
better than the AND of `websearch_to_tsquery`. Both backends use an index built by the migration
(`0002_search_indexes`): a generated `search_vector` column with a GIN index on PostgreSQL, an FTS5 table on SQLite that
`index()` / `forget()` keep in step with imports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import combinations

from django.db import connection

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most my
    myself no nor not now of off on once only or other our ours ourselves out over own same she should so
    some such than that the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves much many tell give get so far say says said""".split()
)
_WORD = re.compile(r"[a-z0-9]+")
MAX_TERMS = 24  # a 50,000-character question must not become a 5,000-term query


def terms(query: str, limit: int | None = MAX_TERMS) -> list[str]:
    seen: dict[str, None] = {}
    for w in _WORD.findall((query or "").lower()):
        if w not in STOPWORDS and len(w) > 1:
            seen.setdefault(w)
    return list(seen)[:limit]


_SUFFIXES = ("ing", "ed", "es", "s", "e")


def stem(word: str) -> str:
    """A crude suffix stripper ("pricing", "prices" and "price" all give "pric"): enough to compare a
    sentence with a passage, where the databases' own stemmers are not at hand."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def stems(text: str) -> set[str]:
    return {stem(w) for w in terms(text, limit=None)}


@dataclass(frozen=True)
class Hit:
    passage_id: int
    score: float


def search(team_ids: list[int] | None, query: str, *, limit: int = 5) -> list[Hit]:
    words = terms(query)
    if not words:
        return []
    if connection.vendor == "postgresql":
        return _search_pg(team_ids, words, limit)
    return _search_sqlite(team_ids, words, limit)


# Relaxation steps are one query each; a step with more clauses than this is skipped (C(8, 4) = 70).
MAX_CLAUSES = 70
RELAX_TERMS = 8


def _relaxed(words: list[str]) -> list[str]:
    """tsqueries from "every word" down to "any two words" (as OR of AND-clauses), then any word."""
    head = words[:RELAX_TERMS]
    steps = [" & ".join(head)] if len(head) > 1 else []
    for k in range(len(head) - 1, 1, -1):
        clauses = list(combinations(head, k))
        if len(clauses) <= MAX_CLAUSES:
            steps.append(" | ".join("(" + " & ".join(c) + ")" for c in clauses))
    steps.append(" | ".join(words))
    return steps


def _search_pg(team_ids, words, limit) -> list[Hit]:
    """Passages holding every word, else most of them, else any: the first step that matches
    answers. Each step ranks only the rows it matches, so a question mixing rare and common words
    never ranks every passage that holds one common word (ranking is per matching row: filling five
    results from the broad steps cost 150 ms over 10,000 passages), and a passage that holds more of
    the question's words always beats one that holds fewer."""
    for tsquery in _relaxed(words):
        hits = _pg_query(team_ids, tsquery, limit)
        if hits:
            return hits
    return []


def _pg_query(team_ids, tsquery: str, limit: int) -> list[Hit]:
    team_sql, params = ("", [])
    if team_ids is not None:
        team_sql, params = "AND d.team_id = ANY(%s)", [list(team_ids)]
    sql = f"""
        SELECT p.id, ts_rank_cd(p.search_vector, q) AS rank
        FROM assistant_passage p
        JOIN assistant_playbookdocument d ON d.id = p.document_id,
             to_tsquery('english', %s) q
        WHERE p.search_vector @@ q {team_sql}
        ORDER BY rank DESC, p.id
        LIMIT %s
    """  # noqa: S608 - only the fixed team clause is formatted in; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [tsquery, *params, limit])
        return [Hit(pk, float(rank)) for pk, rank in cursor.fetchall()]


def _search_sqlite(team_ids, words, limit) -> list[Hit]:
    match = " OR ".join(f'"{w}"' for w in words)
    team_sql, params = "", []
    if team_ids is not None:
        if not team_ids:
            return []
        team_sql = f"AND d.team_id IN ({','.join('%s' for _ in team_ids)})"
        params = list(team_ids)
    sql = f"""
        SELECT f.rowid, bm25(assistant_passage_fts) AS rank
        FROM assistant_passage_fts f
        JOIN assistant_passage p ON p.id = f.rowid
        JOIN assistant_playbookdocument d ON d.id = p.document_id
        WHERE assistant_passage_fts MATCH %s {team_sql}
        ORDER BY rank, f.rowid
        LIMIT %s
    """  # noqa: S608 - only placeholders are formatted in
    with connection.cursor() as cursor:
        cursor.execute(sql, [match, *params, limit])
        # bm25 is lower-is-better and negative; flip it so every backend says "higher is better".
        return [Hit(pk, -float(rank)) for pk, rank in cursor.fetchall()]


def index(passage_ids: list[int]) -> None:
    if connection.vendor != "sqlite" or not passage_ids:
        return  # PostgreSQL indexes the expression itself
    with connection.cursor() as cursor:
        for start in range(0, len(passage_ids), 500):
            chunk = passage_ids[start : start + 500]
            marks = ",".join("%s" for _ in chunk)
            cursor.execute(
                "INSERT INTO assistant_passage_fts(rowid, heading, text) "  # noqa: S608
                f"SELECT id, heading, text FROM assistant_passage WHERE id IN ({marks})",
                chunk,
            )


def forget(passage_ids: list[int]) -> None:
    if connection.vendor != "sqlite" or not passage_ids:
        return
    with connection.cursor() as cursor:
        for start in range(0, len(passage_ids), 500):
            chunk = passage_ids[start : start + 500]
            marks = ",".join("%s" for _ in chunk)
            cursor.execute(f"DELETE FROM assistant_passage_fts WHERE rowid IN ({marks})", chunk)  # noqa: S608
