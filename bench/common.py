"""Helpers shared by the PostgreSQL benchmarks."""

import os
import sys


def setup_django(default_database_url: str) -> None:
    """What every benchmark does first: production settings, quiet logs, the offline
    provider with no key (a benchmark never reaches a model), its own database, then Django."""
    os.environ.setdefault("DATABASE_URL", default_database_url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # As production runs: DEBUG off (with it on, Django's debug cursor formats and logs every query:
    # ~0.4 ms a query, a tenth of a cached plan), so the settings want a key and hosts.
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 40)
    os.environ.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["LLM_PROVIDER"] = "offline"
    os.environ.pop("ANTHROPIC_API_KEY", None)
    ensure_database(os.environ["DATABASE_URL"])

    import django

    django.setup()


def ensure_database(url: str) -> None:
    """Create the benchmark database if missing; refuse any database not named for benchmarks.
    A SQLite file (the gateway benchmark's default, in a temporary folder) needs nothing."""
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(url)
    if cfg["ENGINE"] == "django.db.backends.sqlite3":
        return
    if "bench" not in cfg["NAME"]:
        sys.exit("Refusing to run against a database whose name does not contain 'bench'.")
    admin = psycopg.connect(
        host=cfg["HOST"],
        port=cfg["PORT"] or 5432,
        user=cfg["USER"],
        password=cfg["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    with admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [cfg["NAME"]]).fetchone():
            admin.execute(f'CREATE DATABASE "{cfg["NAME"]}"')


def load_average() -> str:
    """Printed beside every figure: the machine is shared, and a figure means little without it."""
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def rate(n: int, seconds: float) -> str:
    return f"{n:,} in {seconds:.2f}s = {n / seconds:,.0f}/s ({load_average()})"
