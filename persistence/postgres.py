"""The PostgreSQL backend: any number of bot replicas on one server (``postgresql://``).

It implements the interface of ``persistence/db.py`` as the SQLite backend does, with the same
guarantees across processes: write transactions run one at a time across replicas (an
advisory lock), ``serial=False`` ones interleave safely, urgent ones have their own pool, and
``durable=False`` is ``synchronous_commit = off``. Statements are written once for both
backends with ``?`` placeholders and numbered (``$1``...) here. Why: docs/design.md, "Storage".
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlparse, urlunparse

import asyncpg

from persistence.db import (
    BUSY_TIMEOUT_MS,
    DatabaseUnavailableError,
    Dialect,
    Row,
    TxState,
    Written,
    apply_migrations,
    recorded_migrations,
)
from persistence.migrations_pg import PG_MIGRATIONS
from persistence.writer_lock import WriterLock

# pg_advisory_xact_lock keys: serial write transactions, and migrations.
WRITE_LOCK = 0x53_55_50_57  # "SUPW"
MIGRATE_LOCK = 0x53_55_50_4D  # "SUPM"
POOL_SIZE = 10
URGENT_POOL_SIZE = 2

# What means "the database cannot be reached or written", as opposed to a bug in a statement.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InsufficientResourcesError,
    asyncpg.OperatorInterventionError,
    asyncpg.LockNotAvailableError,
    asyncpg.ReadOnlySQLTransactionError,
    asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.InvalidCatalogNameError,
)


@functools.lru_cache(maxsize=4096)
def numbered(sql: str) -> str:
    """``?`` placeholders as ``$1``, ``$2``...; a ``?`` inside a quoted string or identifier
    stays as it is."""
    if "?" not in sql:
        return sql
    out: list[str] = []
    n = 0
    quote = ""
    for ch in sql:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in ("'", '"'):
            quote = ch
        elif ch == "?":
            n += 1
            out.append(f"${n}")
            continue
        out.append(ch)
    return "".join(out)


# JSON's escape of U+0000, not itself escaped (preceded by an even number of backslashes).
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def _storable(value: Any) -> Any:
    """PostgreSQL's text cannot hold U+0000, in plain text or (for ``jsonb``, which the JSON
    functions parse) escaped in JSON: it is stored as U+FFFD, the replacement character."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "\ufffd")
        if "\\u0000" in value:
            value = _JSON_NUL.sub(r"\1\\ufffd", value)
    return value


def _args(params: Sequence[Any]) -> list[Any]:
    return [_storable(p) for p in params]


def rowcount(status: str) -> int:
    """Rows a command changed, from its status (``UPDATE 3``, ``INSERT 0 1``, ``DELETE 0``)."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    netloc = parsed.netloc.rsplit("@", 1)[1]
    user = parsed.username or ""
    return urlunparse(parsed._replace(netloc=f"{user}:***@{netloc}"))


# What an operator should know about each kind of failure, after "the database <where>".
_EXPLAINED: list[tuple[type[BaseException], str]] = [
    (asyncio.TimeoutError, "did not answer in time (server overloaded or down)"),
    (asyncpg.LockNotAvailableError, "is locked by another transaction; the write will be retried"),
    (asyncpg.ReadOnlySQLTransactionError, "is read-only (a standby?): use the primary's URL"),
    (asyncpg.InsufficientResourcesError, "is out of resources (disk full?): {exc}"),
    (
        asyncpg.InvalidAuthorizationSpecificationError,
        "refused the login: check DATABASE_URL's user and password",
    ),
    (asyncpg.InvalidCatalogNameError, "does not exist: create it (createdb) first"),
]


def describe(exc: BaseException, where: str) -> str:
    """What an operator should know about a failed database call, in one line."""
    for kind, explanation in _EXPLAINED:
        if isinstance(exc, kind):
            return f"the database {where} " + explanation.format(exc=exc)
    return f"the database {where} cannot be reached: {type(exc).__name__}: {exc}"


class PostgresTx(TxState):
    """An open write transaction on one connection."""

    def __init__(self, conn: asyncpg.Connection, *, durable: bool) -> None:
        super().__init__(durable=durable)
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> Written:
        status = await self._conn.execute(numbered(sql), *_args(params))
        return Written(rowcount(status))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = [_args(r) for r in rows]
        if batch:
            await self._conn.executemany(numbered(sql), batch)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return await self._conn.fetchrow(numbered(sql), *_args(params))

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(await self._conn.fetch(numbered(sql), *_args(params)))


class PostgresDatabase:
    """Owns the connection pools. ``transaction()`` for writes, ``fetchone``/``fetchall``."""

    dialect: Dialect = "postgresql"

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = POOL_SIZE,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    ) -> None:
        self.url = url
        self.path = redacted(url)
        self.pool_size = max(2, pool_size)
        self.busy_timeout_ms = busy_timeout_ms
        self._pool: asyncpg.Pool | None = None
        self._urgent: asyncpg.Pool | None = None
        self._lock = WriterLock()

    @property
    def _timeout(self) -> float:
        return self.busy_timeout_ms / 1000

    async def open(self, *, migrate: bool = True) -> None:
        settings = {
            # A row or the write lock held longer than this by another replica fails the
            # statement (retried by its job) rather than hanging the worker.
            "lock_timeout": f"{int(self.busy_timeout_ms)}ms",
            "application_name": "support-bot",
        }
        try:
            self._pool = await asyncpg.create_pool(
                self.url,
                min_size=1,
                max_size=self.pool_size,
                timeout=self._timeout,
                server_settings=settings,
            )
            self._urgent = await asyncpg.create_pool(
                self.url,
                min_size=1,
                max_size=URGENT_POOL_SIZE,
                timeout=self._timeout,
                server_settings=settings,
            )
            if migrate:
                await self.migrate()
        except _UNAVAILABLE as exc:
            await self.close()
            raise DatabaseUnavailableError(
                f"cannot open the database: {describe(exc, self.path)}"
            ) from exc
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        pools = [p for p in (self._pool, self._urgent) if p is not None]
        self._pool = self._urgent = None
        for pool in pools:
            try:
                await asyncio.wait_for(pool.close(), timeout=max(self._timeout, 1.0))
            except Exception:  # closing: whatever went wrong, drop the connections
                pool.terminate()

    def _pool_for(self, urgent: bool) -> asyncpg.Pool:
        pool = self._urgent if urgent else self._pool
        if pool is None:
            raise DatabaseUnavailableError("database is not open")
        return pool

    async def migrate(self) -> list[str]:
        """Apply migrations not yet recorded in ``schema_migrations``; return their names.
        Replicas starting together take turns (an advisory lock), so each step runs once."""
        async with self.transaction() as tx:
            await tx.execute(f"SELECT pg_advisory_xact_lock({MIGRATE_LOCK})")
            return await apply_migrations(tx, PG_MIGRATIONS, time_type="DOUBLE PRECISION")

    async def applied_migrations(self) -> list[str]:
        return await recorded_migrations(self)

    @asynccontextmanager
    async def transaction(
        self, *, urgent: bool = False, durable: bool = True, serial: bool = True
    ) -> AsyncIterator[PostgresTx]:
        """A write transaction; see the module notes for ``urgent``, ``durable`` and
        ``serial``."""
        pool = self._pool_for(urgent)
        if serial:
            await self._lock.acquire(urgent=urgent)
        try:
            async with _Transaction(self, pool, durable=durable, serial=serial) as tx:
                yield tx
        finally:
            if serial:
                self._lock.release()
        tx.committed()

    async def fetchone(
        self, sql: str, params: Sequence[Any] = (), *, inline: bool = False
    ) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(
        self, sql: str, params: Sequence[Any] = (), *, inline: bool = False
    ) -> list[Row]:
        try:
            async with self._pool_for(False).acquire(timeout=self._timeout) as conn:
                return list(await conn.fetch(numbered(sql), *_args(params)))
        except _UNAVAILABLE as exc:
            raise DatabaseUnavailableError(describe(exc, self.path)) from exc


class _Transaction:
    """A connection from ``pool`` in a transaction for the length of an ``async with``;
    failures to reach the server become ``DatabaseUnavailableError``."""

    def __init__(
        self, db: PostgresDatabase, pool: asyncpg.Pool, *, durable: bool, serial: bool
    ) -> None:
        self._db = db
        self._pool = pool
        self._durable = durable
        self._serial = serial
        self._conn: asyncpg.pool.PoolConnectionProxy | None = None
        self._tx: asyncpg.transaction.Transaction | None = None

    async def __aenter__(self) -> PostgresTx:
        db = self._db
        try:
            conn = await self._pool.acquire(timeout=db._timeout)
        except _UNAVAILABLE as exc:
            raise DatabaseUnavailableError(describe(exc, db.path)) from exc
        self._conn = conn
        try:
            self._tx = conn.transaction()
            await self._tx.start()
            if not self._durable:
                await conn.execute("SET LOCAL synchronous_commit = off")
            if self._serial:
                await conn.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")
        except BaseException as exc:
            await self._end(rollback=True)
            if isinstance(exc, _UNAVAILABLE):
                raise DatabaseUnavailableError(describe(exc, db.path)) from exc
            raise
        return PostgresTx(conn, durable=self._durable)  # type: ignore[arg-type]

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is not None:
            await self._end(rollback=True)
            if isinstance(exc, _UNAVAILABLE):
                raise DatabaseUnavailableError(describe(exc, self._db.path)) from exc
            return
        try:
            assert self._tx is not None
            await self._tx.commit()
        except BaseException as failed:
            await self._end(rollback=True)
            if isinstance(failed, _UNAVAILABLE):
                raise DatabaseUnavailableError(describe(failed, self._db.path)) from failed
            raise
        await self._end(rollback=False)

    async def _end(self, *, rollback: bool) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if rollback and self._tx is not None and not conn.is_closed():
                try:
                    await self._tx.rollback()
                except Exception:
                    # A broken connection: the pool replaces it; the server rolls back.
                    conn.terminate()
        finally:
            await self._pool.release(conn)
