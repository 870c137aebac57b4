"""An index of the words of each account name, for the client lookup's first stage (PostgreSQL only).

A name with a typo nearly always keeps one word intact ("Bbuebobra Huhohe" for "Bubeobra Huhohe"):
the accounts sharing a whole word with the question are found through this index in about a
millisecond, and their trigram similarity then sets the threshold of the trigram search, so that
search only has to find names at least as close as the best of them (bench/assistant,
docs/benchmarks.md).
"""

from django.db import migrations

FORWARD = [
    r"CREATE INDEX IF NOT EXISTS assistant_account_name_words_idx ON crm_account "
    r"USING gin (regexp_split_to_array(lower(name), '\W+'))",
]
BACKWARD = ["DROP INDEX IF EXISTS assistant_account_name_words_idx"]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("assistant", "0004_account_name_trigram_gin")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
