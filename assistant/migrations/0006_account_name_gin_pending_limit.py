"""The client lookup's GIN indexes keep their pending list small (PostgreSQL only).

A GIN index with `fastupdate` queues new entries in a pending list (up to 4 MB by default) that
every search scans in full until a vacuum or a flush merges it. Measured over 100,000 accounts,
2,357 pending entries (124 pages) after a bulk load added about 10 ms to every lookup (p50 24 ms
before the vacuum, 13 ms after; docs/benchmarks.md, Co-pilot). 64 kB, the smallest limit, keeps
the scan under a millisecond while inserts still go through the list in batches.
"""

from django.db import migrations

INDEXES = ("assistant_account_name_trgm_idx", "assistant_account_name_words_idx")


def _set(limit):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for index in INDEXES:
            if limit is None:
                schema_editor.execute(f"ALTER INDEX IF EXISTS {index} RESET (gin_pending_list_limit)")
            else:
                schema_editor.execute(f"ALTER INDEX IF EXISTS {index} SET (gin_pending_list_limit = {limit})")
                schema_editor.execute(f"SELECT gin_clean_pending_list('{index}'::regclass)")

    return run


class Migration(migrations.Migration):
    dependencies = [("assistant", "0005_account_name_words_gin")]

    operations = [migrations.RunPython(_set(64), _set(None))]
