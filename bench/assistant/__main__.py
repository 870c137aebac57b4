"""Co-pilot benchmark on PostgreSQL, with the naive approach timed in the same run.

    .venv/bin/python -m bench.assistant
    BENCH_ACCOUNTS=100000 BENCH_PASSAGES=10000 .venv/bin/python -m bench.assistant
    BENCH_REUSE=1 ...   # keep the data loaded by the previous run

Uses DATABASE_URL (default postgres://postgres@127.0.0.1:5432/nt_bench_assistant; the name must
contain "bench"; created when missing). Measures, each over BENCH_SAMPLES (200) samples:
  1. playbook search over BENCH_PASSAGES passages (GIN full-text index, ranked), p50/p95 ms, against
     the naive approach (fetch the team's passages, score word overlap in Python);
  2. client fuzzy lookup over BENCH_ACCOUNTS accounts, a typo in the full name: the two-stage lookup
     (whole words, then pg_trgm above their best), against the single-stage trigram search it
     replaced and the naive approach (difflib over every visible name: the SQLite fallback);
  3. the offline answer end to end (route, tools, answer, check, store) for the seed's three
     questions, cold (tool cache empty) and warm, p50/p95 ms;
  4. the database queries a repeated tool call makes (0 when served from the tool cache).
The load average is printed with each figure (the sandbox is shared).
"""

from __future__ import annotations

import difflib
import os
import random
import statistics
import time

ACCOUNTS = int(os.environ.get("BENCH_ACCOUNTS", "100000"))
PASSAGES = int(os.environ.get("BENCH_PASSAGES", "10000"))
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "200"))
NAIVE_SAMPLES = int(os.environ.get("BENCH_NAIVE_SAMPLES", "10"))
REUSE = os.environ.get("BENCH_REUSE") == "1"

from bench.common import setup_django  # noqa: E402

setup_django("postgres://postgres@127.0.0.1:5432/nt_bench_assistant")

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.cache import cache as django_cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from assistant import search, services, tools  # noqa: E402
from assistant.demo import SAMPLE_PDF, ensure_techgiant  # noqa: E402
from assistant.models import Passage, PlaybookDocument  # noqa: E402
from assistant.playbook import import_playbook  # noqa: E402
from crm.models import Account, Membership, Team  # noqa: E402

SYLLABLES = (
    "ka lo mi ne ra tu vo xe zi bra cor dal fen gri hol jun kel mar nor pel quin ros sta tor umb vel wex yor".split()
)
SUFFIXES = ["", " Ltd", " Group", " Systems", " Holdings", " Labs", " & Co"]
# A playbook's vocabulary: the domain words plus a long tail of other words, so a query matches a
# fraction of the passages as in real text (with 60 words every query matched every passage).
TAIL = [
    "".join(random.Random(i).choice("bcdfghklmnprstvz") + random.Random(i * 7 + j).choice("aeiou") for j in range(3))
    for i in range(3000)
]
WORDS = (
    "pricing discount renewal approval contract policy product pitch electronics retail healthcare finance logistics "
    "media campaign launch budget quarter meeting competitor escalation ticket upsell volume banner display listing "
    "sponsorship newsletter video social regional target spend client account executive manager director term hold"
).split()


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def company(rng: random.Random) -> str:
    # Two words of a 3,000-word tail (letters drawn with English-like vowel weight) and a syllable: 27
    # million names, so a name is (nearly) unique and "the right client" is well defined.
    return f"{rng.choice(TAIL).title()}{rng.choice(SYLLABLES)} {rng.choice(TAIL).title()}{rng.choice(SUFFIXES)}"


def build(rng: random.Random):
    call_command("migrate", verbosity=0)
    team, _ = Team.objects.get_or_create(slug="bench-assistant", defaults={"name": "Bench assistant"})
    user, _ = get_user_model().objects.get_or_create(username="bench-assistant-rep")
    Membership.objects.get_or_create(user=user, team=team)
    if REUSE and Account.objects.filter(team=team).count() >= ACCOUNTS:
        return team, user
    Account.objects.filter(team=team).delete()
    PlaybookDocument.objects.filter(team=team).delete()
    started = time.perf_counter()
    batch = [
        Account(
            team=team,
            name=company(rng),
            industry=rng.choice(["Electronics", "Retail", "Media"]),
            total_spend=rng.randrange(1000, 300000),
        )
        for _ in range(ACCOUNTS - 1)
    ]
    Account.objects.bulk_create(batch, batch_size=5000)
    ensure_techgiant(team, user)
    import_playbook(team=team, data=SAMPLE_PDF.read_bytes(), file_name=SAMPLE_PDF.name, title="Sales playbook")
    doc = PlaybookDocument.objects.create(team=team, title="Bench playbook", kind="text", sha256="0" * 64)
    Passage.objects.bulk_create(
        (
            Passage(
                document=doc,
                ordinal=i,
                heading=" ".join(rng.sample(WORDS, 3)).title(),
                text=" ".join(
                    rng.choice(WORDS) if rng.random() < 0.15 else rng.choice(TAIL) for _ in range(rng.randint(40, 120))
                )
                + ".",
            )
            for i in range(1, PASSAGES + 1)
        ),
        batch_size=2000,
    )
    # What autovacuum does shortly after a bulk load (and a DBA right after one): statistics, hint
    # bits and the visibility map set, GIN pending lists merged. Without it the first pass over the
    # fresh rows also writes their hint bits (docs/benchmarks.md, Co-pilot, run L).
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE crm_account")
        cursor.execute("VACUUM ANALYZE assistant_passage")
    print(f"loaded {ACCOUNTS:,} accounts and {PASSAGES:,} passages in {time.perf_counter() - started:.1f} s ({load()})")
    return team, user


def timed(fn, n: int) -> list[float]:
    out = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t) * 1000)
    return out


def summary(name: str, ms: list[float]) -> tuple[float, float]:
    ms = sorted(ms)
    p50 = statistics.median(ms)
    p95 = ms[max(0, round(0.95 * len(ms)) - 1)]
    print(f"  {name:<46} p50 {p50:8.2f} ms   p95 {p95:8.2f} ms   (n={len(ms)}, {load()})")
    return p50, p95


def naive_search(team_id: int, query: str, limit: int = 5) -> list[int]:
    wanted = set(search.terms(query))
    scored = []
    for pk, heading, text in Passage.objects.filter(document__team_id=team_id).values_list("pk", "heading", "text"):
        overlap = len(wanted & set(search.terms(f"{heading} {text}", limit=None)))
        if overlap:
            scored.append((-overlap, pk))
    return [pk for _, pk in sorted(scored)[:limit]]


def naive_lookup(team_id: int, name: str) -> list[int]:
    wanted = name.lower()
    scored = [
        (difflib.SequenceMatcher(None, wanted, n.lower()).ratio(), pk)
        for pk, n in Account.objects.filter(team_id=team_id).values_list("pk", "name")
    ]
    return [pk for s, pk in sorted(scored, reverse=True)[:3] if s >= 0.75]


def single_stage_lookup(team_id: int, name: str) -> list[int]:
    """The lookup before the word stage: one trigram search at pg_trgm's default threshold (0.3)."""
    query = tools._core(name)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, similarity(lower(name), %s) AS s FROM crm_account "
            "WHERE lower(name) %% %s AND team_id = %s ORDER BY s DESC, id LIMIT 3",
            [query, query, team_id],
        )
        return [pk for pk, _ in cursor.fetchall()]


def typo(name: str, rng: random.Random) -> str:
    """The full name with two neighbouring letters of its first word swapped."""
    first, _, rest = name.partition(" ")
    i = rng.randrange(1, len(first) - 1)
    return f"{first[:i]}{first[i + 1]}{first[i]}{first[i + 2 :]} {rest}".strip()


def main() -> None:
    rng = random.Random(14)
    team, user = build(rng)
    team_ids = {team.pk}
    # Questions about something a passage says: a few of its words, rare and common mixed, as a rep
    # would ask; and the worst case, only common domain words (most passages match every OR term).
    texts = list(Passage.objects.filter(document__team=team).order_by("?").values_list("text", flat=True)[:SAMPLES])
    queries = ["what does the playbook say about " + " ".join(rng.sample(t.rstrip(".").split(), 4)) for t in texts]
    common = [" ".join(rng.sample(WORDS, rng.randint(3, 6))) for _ in range(SAMPLES)]
    names = list(Account.objects.filter(team=team).order_by("?").values_list("name", flat=True)[:SAMPLES])
    lookups = [typo(n, rng) for n in names]
    print(f"\nco-pilot benchmark on PostgreSQL: {ACCOUNTS:,} accounts, {PASSAGES:,} passages")

    print("1. playbook search")
    summary(
        "full-text search, questions about a passage", timed(lambda i: search.search(team_ids, queries[i]), SAMPLES)
    )
    summary("full-text search, only common words", timed(lambda i: search.search(team_ids, common[i]), SAMPLES))
    naive = summary(
        "naive: fetch all passages, overlap in Python",
        timed(lambda i: naive_search(team.pk, queries[i]), NAIVE_SAMPLES),
    )

    print("2. client fuzzy lookup (one typo)")
    ours = summary(
        "two stages: whole words, then pg_trgm above their best",
        timed(lambda i: tools.lookup_client(team_ids, lookups[i]), SAMPLES),
    )
    found = sum(
        1
        for i in range(SAMPLES)
        if any(m["name"] == names[i] for m in tools.lookup_client(team_ids, lookups[i])["matches"])
    )
    print(f"  right client among the matches: {found}/{SAMPLES}")
    # The candidate search alone (no account fetch), this lookup's two stages against the single
    # trigram search it replaced, interleaved so both see the same machine.
    two, one = [], []
    for i in range(SAMPLES):
        two += timed(lambda _i, q=lookups[i]: tools._candidates_pg(team_ids, q), 1)
        one += timed(lambda _i, q=lookups[i]: single_stage_lookup(team.pk, q), 1)
    two_stage = summary("  candidates: two stages", two)
    single = summary("  candidates: single trigram stage (before)", one)
    print(f"  ratio single/two stages at p95: {single[1] / two_stage[1]:.1f}x")
    naive_l = summary(
        "naive: difflib over every name", timed(lambda i: naive_lookup(team.pk, lookups[i]), NAIVE_SAMPLES)
    )
    print(f"  ratio naive/ours at p50: {naive_l[0] / ours[0]:.0f}x")

    print("3. offline answer end to end (route, tools, answer, check, store)")
    questions = [
        "How much has TechGiant spent so far?",
        "What is our policy on discussing 2026 pricing?",
        "I have a meeting with TechGiant. Based on their spending and industry, what product should I pitch?",
    ]

    def cold(i):
        django_cache.clear()
        services.ask(user=user, question=questions[i % 3])

    summary("cold tool cache", timed(cold, 60))
    summary("warm tool cache", timed(lambda i: services.ask(user=user, question=questions[i % 3]), 60))

    print("4. repeated tool call")
    tools.run("lookup_client", team_ids, {"name": "TechGiant"})
    with CaptureQueriesContext(connection) as q:
        _, cached = tools.run("lookup_client", team_ids, {"name": "TechGiant"})
    print(f"  served from the tool cache: {cached}, database queries: {len(q)}")
    print(f"\nsearch: naive p50 {naive[0]:.1f} ms")


if __name__ == "__main__":
    main()
