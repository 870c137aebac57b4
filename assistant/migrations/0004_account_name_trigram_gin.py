"""The client lookup's trigram index becomes GIN again (PostgreSQL only).

0002 made it GiST for nearest-name (KNN) ordering; measured over 100,000 accounts, the KNN scan
cost 160 ms where GIN's `%` filter ranked with similarity() cost 0.4 ms for a short name and 40 to
80 ms for the worst case (bench/assistant, docs/benchmarks.md).
"""

from django.db import migrations

FORWARD = [
    "DROP INDEX IF EXISTS assistant_account_name_trgm_idx",
    "CREATE INDEX IF NOT EXISTS assistant_account_name_trgm_idx ON crm_account USING gin (lower(name) gin_trgm_ops)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS assistant_account_name_trgm_idx",
    "CREATE INDEX IF NOT EXISTS assistant_account_name_trgm_idx ON crm_account USING gist (lower(name) gist_trgm_ops)",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("assistant", "0003_passage_embedding")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
