"""Opening the database a URL names: SQLite for one process, PostgreSQL for replicas.

``persistence/db.py`` is the interface both backends implement; this module is the one that
knows both of them.
"""

from __future__ import annotations

from typing import Protocol

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


class DatabaseSettings(Protocol):
    """What ``database_for`` reads of the bot's settings (``bot/settings/environment.py``)."""

    @property
    def database_url(self) -> str: ...
    @property
    def database_busy_timeout(self) -> float: ...
    @property
    def database_pool_size(self) -> int: ...


def database_for(settings: DatabaseSettings) -> Database:
    """The database the settings name, with their timeouts and pool size; not yet opened."""
    return database_from_url(
        settings.database_url,
        busy_timeout_ms=int(settings.database_busy_timeout * 1000),
        pool_size=settings.database_pool_size,
    )
