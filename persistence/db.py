"""The database seam: what repositories need from a database, and which backend a URL names.

Two backends implement it. ``sqlite:///`` (``persistence/sqlite.py``): one bot process, one
file, no server to run. ``postgresql://`` (``persistence/postgres.py``): any number of bot
replicas sharing one PostgreSQL. Repositories write their SQL once, with ``?`` placeholders and
SQLite's spelling of the few functions they use (``json_extract`` and friends); the PostgreSQL
backend numbers the placeholders and its migrations define those functions. Where the two
really differ (full-text search), a repository asks ``db.dialect``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeAlias
from urllib.parse import urlparse

log = logging.getLogger(__name__)

# A result row: ``sqlite3.Row`` or ``asyncpg.Record``; both index by column name and position.
Row: TypeAlias = Any
Dialect = Literal["sqlite", "postgresql"]
BUSY_TIMEOUT_MS = 5000


class DatabaseConfigError(ValueError):
    """DATABASE_URL names something this build cannot open."""


class DatabaseUnavailableError(RuntimeError):
    """The database cannot be opened or written (permissions, disk, lock, server down)."""


def now() -> float:
    return time.time()


@dataclass(frozen=True)
class Written:
    """What a write statement did: the rows it changed (inserts read ids with ``RETURNING``)."""

    rowcount: int


class TxState:
    """What every backend's open transaction keeps besides its connection: whether it is
    durable, and what to run once it has committed."""

    def __init__(self, *, durable: bool) -> None:
        self.durable = durable
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` once this transaction has committed (never if it rolls back)."""
        self._after_commit.append(fn)

    def committed(self) -> None:
        """Run the after-commit callbacks; one that fails is logged, the others still run."""
        for fn in self._after_commit:
            try:
                fn()
            except Exception:
                log.exception("an after-commit callback failed")


class Tx(Protocol):
    """An open write transaction. Repositories take one so several writes commit together."""

    durable: bool

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` once this transaction has committed (never if it rolls back)."""

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> Written: ...

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None: ...

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...


class Database(Protocol):
    """Owns the connections. ``transaction()`` for writes, ``fetchone``/``fetchall`` for reads.

    ``transaction(urgent=True)``: someone waits on it (Slack's acknowledgement), so it goes
    before ordinary ones. ``durable=False``: it may be lost to a power cut together with what
    followed it; only for what can be worked out again (see ``persistence/sqlite.py``).
    ``serial=False``: every statement in it is safe to interleave with other writers' (one
    atomic statement guarded by its own WHERE); PostgreSQL then lets it run beside other
    replicas' transactions, where SQLite runs every write transaction alone anyway.
    ``inline=True`` on a read: a point look-up by key, which the backend may serve on the
    loop's thread."""

    dialect: Dialect
    # Where the data lives, for messages: a file path, or a URL without its password.
    path: str

    async def open(self, *, migrate: bool = True) -> None: ...

    async def close(self) -> None: ...

    async def migrate(self) -> list[str]: ...

    async def applied_migrations(self) -> list[str]: ...

    def transaction(
        self, *, urgent: bool = False, durable: bool = True, serial: bool = True
    ) -> AbstractAsyncContextManager[Tx]: ...

    async def fetchone(
        self, sql: str, params: Sequence[Any] = (), *, inline: bool = False
    ) -> Row | None: ...

    async def fetchall(
        self, sql: str, params: Sequence[Any] = (), *, inline: bool = False
    ) -> list[Row]: ...


async def apply_migrations(
    tx: Tx, steps: Sequence[tuple[str, Sequence[str]]], *, time_type: str
) -> list[str]:
    """Run the steps not yet recorded in ``schema_migrations`` (made if missing, its time
    column of ``time_type``), each recorded as it is applied; their names."""
    await tx.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        f" name TEXT PRIMARY KEY, applied_at {time_type} NOT NULL)"
    )
    done = {r["name"] for r in await tx.fetchall("SELECT name FROM schema_migrations")}
    applied: list[str] = []
    for name, statements in steps:
        if name in done:
            continue
        for statement in statements:
            await tx.execute(statement)
        await tx.execute(
            "INSERT INTO schema_migrations(name, applied_at) VALUES (?, ?)", (name, now())
        )
        applied.append(name)
    return applied


async def recorded_migrations(db: Database) -> list[str]:
    rows = await db.fetchall("SELECT name FROM schema_migrations ORDER BY name")
    return [r["name"] for r in rows]


def backend_of(url: str) -> Dialect:
    scheme = urlparse(url).scheme
    if scheme in ("postgres", "postgresql"):
        return "postgresql"
    if scheme == "sqlite":
        return "sqlite"
    raise DatabaseConfigError(
        "DATABASE_URL must start with sqlite:/// (one process) or postgresql:// (replicas);"
        f" got scheme {scheme!r}"
    )
