"""Opening the database a URL names: SQLite for one process, PostgreSQL for replicas.

``persistence/db.py`` is the interface both backends implement; this module is the one that
knows both of them.
"""

from __future__ import annotations

from persistence.db import BUSY_TIMEOUT_MS, Database, backend_of


def database_from_url(
    url: str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS, pool_size: int = 10
) -> Database:
    """The backend ``url`` names, not yet opened. ``pool_size``: PostgreSQL's connections."""
    # Each backend's driver is imported only when it is used (asyncpg is not small).
    if backend_of(url) == "postgresql":
        from persistence.postgres import PostgresDatabase

        return PostgresDatabase(url, pool_size=pool_size, busy_timeout_ms=busy_timeout_ms)
    from persistence.sqlite import SqliteDatabase

    return SqliteDatabase.from_url(url, busy_timeout_ms=busy_timeout_ms)
