"""Search indexes the ORM cannot declare portably.

PostgreSQL: a stored, generated tsvector column with a GIN index for full-text search over passages
(stored, so ranking a match reads the vector instead of parsing the text again), and pg_trgm with a
trigram (GiST) index on lower(account name) for the client lookup. SQLite: an FTS5 table that
assistant/search.py keeps in step with imports.
"""

from django.db import migrations

PG_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "ALTER TABLE assistant_passage ADD COLUMN search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english', heading || ' ' || text)) STORED",
    "CREATE INDEX IF NOT EXISTS assistant_passage_fts_idx ON assistant_passage USING gin (search_vector)",
    # GiST, not GIN: it answers "the nearest names" (ORDER BY <-> LIMIT) straight from the index.
    "CREATE INDEX IF NOT EXISTS assistant_account_name_trgm_idx ON crm_account USING gist (lower(name) gist_trgm_ops)",
]
PG_BACKWARD = [
    "DROP INDEX IF EXISTS assistant_account_name_trgm_idx",
    "DROP INDEX IF EXISTS assistant_passage_fts_idx",
    "ALTER TABLE assistant_passage DROP COLUMN IF EXISTS search_vector",
]
SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS assistant_passage_fts USING fts5(heading, text, tokenize='porter unicode61')",
]
SQLITE_BACKWARD = ["DROP TABLE IF EXISTS assistant_passage_fts"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("assistant", "0001_initial"), ("crm", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": PG_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        )
    ]
