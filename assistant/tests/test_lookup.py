"""The client lookup: fuzzy, team-scoped, and on PostgreSQL the same best match as a plain trigram
search although it runs in two stages (whole words first, then trigrams above their best)."""

import random

import pytest
from django.db import connection

from assistant import tools
from crm.models import Account

pytestmark = pytest.mark.django_db

on_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_trgm runs on PostgreSQL only")


def _names(result):
    return [m["name"] for m in result["matches"]]


def test_a_typo_and_a_legal_suffix_still_find_the_client(team):
    Account.objects.create(team=team, name="TechGiant", industry="Electronics", total_spend=120000)
    Account.objects.create(team=team, name="Swiftline Logistics")
    assert _names(tools.lookup_client({team.pk}, "TechGaint"))[0] == "TechGiant"
    assert _names(tools.lookup_client({team.pk}, "TechGiant Ltd")) == ["TechGiant"]


def test_an_unrelated_name_finds_nothing(team):
    Account.objects.create(team=team, name="TechGiant")
    assert tools.lookup_client({team.pk}, "Blue Harbour Fisheries")["matches"] == []


def test_a_client_of_another_team_is_not_found(team, other_team):
    Account.objects.create(team=other_team, name="Secret Corp")
    assert tools.lookup_client({team.pk}, "Secret Corp")["matches"] == []
    assert _names(tools.lookup_client({other_team.pk}, "Secret Corp")) == ["Secret Corp"]


@on_postgres
def test_a_closer_name_sharing_no_whole_word_outranks_one_that_shares_a_word(team):
    # "bakery" is shared whole with the second name only; the first is closer in trigrams.
    Account.objects.create(team=team, name="Nordwind Bakeries")
    Account.objects.create(team=team, name="Oakfield Bakery")
    assert _names(tools.lookup_client({team.pk}, "Nordwnd Bakery"))[0] == "Nordwind Bakeries"


def _plain_trigram_best(team_id, name):
    query = tools._core(name)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, similarity(lower(name), %s) AS s FROM crm_account "
            "WHERE lower(name) %% %s AND team_id = %s ORDER BY s DESC, id LIMIT 1",
            [query, query, team_id],
        )
        row = cursor.fetchone()
    return row[0] if row and row[1] >= tools.MIN_SIMILARITY else None


@on_postgres
def test_the_best_match_is_the_plain_trigram_searchs_best(team):
    rng = random.Random(7)
    syllables = ["ka", "ro", "ni", "te", "lu", "ma", "so", "vi", "de", "ra"]

    def word():
        return "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))).title()

    names = [f"{word()} {word()} {rng.choice(['Ltd', 'Group', ''])}".strip() for _ in range(400)]
    Account.objects.bulk_create(Account(team=team, name=n) for n in names)
    queries = [n.replace(n[2:4], n[3] + n[2], 1) for n in rng.sample(names, 40)] + [
        word() + " " + word() for _ in range(20)
    ]
    for q in queries:
        found = tools._candidates_pg({team.pk}, q)
        assert (found[0][0] if found else None) == _plain_trigram_best(team.pk, q), q


@on_postgres
def test_the_lookup_indexes_keep_their_pending_list_small():
    # Every search scans a GIN index's pending list in full; 4 MB of it made each lookup ~10 ms slower.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reloptions FROM pg_class WHERE relname IN "
            "('assistant_account_name_trgm_idx', 'assistant_account_name_words_idx') ORDER BY relname"
        )
        rows = cursor.fetchall()
    assert [name for name, _ in rows] == ["assistant_account_name_trgm_idx", "assistant_account_name_words_idx"]
    assert all("gin_pending_list_limit=64" in (options or []) for _, options in rows)


@on_postgres
def test_a_word_thousands_of_names_share_is_read_at_most_word_cap_times_and_the_best_is_still_found(team):
    rng = random.Random(11)
    letters = "bcdfghklmnprstvz"

    def word():
        return "".join(rng.choice(letters) + rng.choice("aeiou") for _ in range(rng.randint(2, 4))).title()

    names = [f"{word()} Energy" for _ in range(tools.WORD_CAP * 5)] + ["Nordlicht Energy", "Nordlicht Solar"]
    Account.objects.bulk_create(Account(team=team, name=n) for n in names)
    with connection.cursor() as cursor:
        rows = tools._shared_word_rows(cursor, "nordlict energy", ["nordlict", "energy"], "", [])
    assert len(rows) <= tools.WORD_CAP  # "nordlict" (a typo) is in no name; "energy" is in 1,001
    queries = ["Nordlicht Energy", "Nordlict Energy", "Energy", "Energy Ltd", "Nordlicht"] + [
        n.replace(n[1:3], n[2] + n[1], 1) for n in rng.sample(names, 40)
    ]
    for q in queries:
        found = tools._candidates_pg({team.pk}, q)
        assert (found[0][0] if found else None) == _plain_trigram_best(team.pk, q), q
    assert _names(tools.lookup_client({team.pk}, "Nordlict Energy"))[0] == "Nordlicht Energy"
