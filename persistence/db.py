"""The SQLite connection owner: one writer behind a lock, one reader, migrations at open.

Why one writer: SQLite allows a single writer at a time; serialising writes in-process with an
``asyncio.Lock`` and ``BEGIN IMMEDIATE`` turns "database is locked" races into an orderly queue.

Why ``synchronous=FULL``: a customer's question is acknowledged to Slack only after its job is
committed. FULL makes that commit survive a power cut, not just a process crash, at the cost of
one fsync per write transaction, which is small next to a Slack or LLM round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aiosqlite

from persistence.migrations import MIGRATIONS

BUSY_TIMEOUT_MS = 5000


class DatabaseConfigError(ValueError):
    """DATABASE_URL names something this build cannot open."""


class DatabaseUnavailableError(RuntimeError):
    """The database file cannot be opened or written (permissions, disk, lock)."""


def _read_only(path: str) -> bool:
    """The file or its folder cannot be written (SQLite also needs to create -wal and -shm)."""
    if path == ":memory:":
        return False
    folder = os.path.dirname(os.path.abspath(path))
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return True
    except OSError:
        return False
    return not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK))


def describe(exc: sqlite3.Error, path: str) -> str:
    """What an operator should know about a failed write, in one line."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return (
            f"the database {path} is locked by another process (waited for its lock and gave"
            " up); the write will be retried"
        )
    if "full" in text:
        return f"the disk holding {path} is full: free space; the write will be retried"
    if "readonly" in text or "read-only" in text or _read_only(path):
        return (
            f"the database {path} is read-only (file, folder or file system): make it"
            " writable; the write will be retried"
        )
    return f"the database {path} failed: {exc}"


def sqlite_path_from_url(url: str) -> str:
    """Turn ``sqlite:///relative.db`` or ``sqlite:////abs.db`` (or ``:memory:``) into a path."""
    parsed = urlparse(url)
    if parsed.scheme in ("postgres", "postgresql"):
        raise DatabaseConfigError(
            "DATABASE_URL points at PostgreSQL, which this version does not support yet; "
            "use sqlite:///support-bot.db"
        )
    if parsed.scheme != "sqlite":
        raise DatabaseConfigError(
            f"DATABASE_URL must start with sqlite:/// (got scheme {parsed.scheme!r})"
        )
    rest = url[len("sqlite://") :]
    if rest in (":memory:", "/:memory:"):
        return ":memory:"
    if not rest.startswith("/") or rest == "/":
        raise DatabaseConfigError(
            "DATABASE_URL must look like sqlite:///support-bot.db (relative) "
            "or sqlite:////var/lib/support-bot.db (absolute)"
        )
    return rest[1:]


def _check_folder(path: str) -> None:
    parent = Path(os.path.abspath(path)).parent
    if not parent.is_dir():
        raise DatabaseUnavailableError(f"the folder for the database does not exist: {parent}")


async def _run_to_end(conn: aiosqlite.Connection, sql: str) -> None:
    """Execute and drain a statement, so no half-read cursor keeps a lock open."""
    async with conn.execute(sql) as cur:
        await cur.fetchall()


def now() -> float:
    return time.time()


@dataclass(frozen=True)
class Tx:
    """An open write transaction. Repositories take one so several writes commit together."""

    conn: aiosqlite.Connection

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Cursor:
        return await self.conn.execute(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self.conn.executemany(sql, rows)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        async with self.conn.execute(sql, params) as cur:
            row = await cur.fetchone()
        return row

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self.conn.execute(sql, params) as cur:
            rows = await cur.fetchall()
        return list(rows)


class Database:
    """Owns the connections. ``transaction()`` for writes, ``fetchone``/``fetchall`` for reads."""

    def __init__(self, path: str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Database:
        return cls(sqlite_path_from_url(url), busy_timeout_ms=busy_timeout_ms)

    async def open(self, *, migrate: bool = True) -> None:
        if self.path != ":memory:":
            _check_folder(self.path)
        try:
            self._writer = await self._connect()
            await _run_to_end(self._writer, "PRAGMA journal_mode=WAL")
            if migrate:
                await self.migrate()
            # An in-memory database is private to its connection, so reads share the writer.
            self._reader = self._writer if self.path == ":memory:" else await self._connect()
        except sqlite3.Error as exc:
            await self.close()
            raise DatabaseUnavailableError(
                f"cannot open the database: {describe(exc, self.path)}"
            ) from exc

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            for pragma in (
                f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}",
                "PRAGMA synchronous=FULL",
                "PRAGMA foreign_keys=ON",
            ):
                await _run_to_end(conn, pragma)
        except BaseException:
            # An unclosed aiosqlite connection keeps its thread, and the process, alive.
            await conn.close()
            raise
        return conn

    async def close(self) -> None:
        for conn in {id(c): c for c in (self._reader, self._writer) if c is not None}.values():
            await conn.close()
        self._writer = None
        self._reader = None

    async def migrate(self) -> list[str]:
        """Apply migrations not yet recorded in ``schema_migrations``; return their names."""
        applied: list[str] = []
        async with self.transaction() as tx:
            await tx.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
            )
            done = {r["name"] for r in await tx.fetchall("SELECT name FROM schema_migrations")}
            for name, statements in MIGRATIONS:
                if name in done:
                    continue
                for statement in statements:
                    await tx.execute(statement)
                await tx.execute(
                    "INSERT INTO schema_migrations(name, applied_at) VALUES (?, ?)", (name, now())
                )
                applied.append(name)
        return applied

    async def applied_migrations(self) -> list[str]:
        rows = await self.fetchall("SELECT name FROM schema_migrations ORDER BY name")
        return [r["name"] for r in rows]

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        if self._writer is None:
            raise DatabaseUnavailableError("database is not open")
        async with self._lock:
            try:
                await self._writer.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise DatabaseUnavailableError(describe(exc, self.path)) from exc
            try:
                yield Tx(self._writer)
                await self._writer.commit()
            except BaseException as exc:
                # A failed commit (disk full, read-only) can leave the transaction open: end it,
                # or every later write on this connection would fail too.
                with contextlib.suppress(Exception):
                    await self._writer.rollback()
                if isinstance(exc, sqlite3.OperationalError):
                    raise DatabaseUnavailableError(describe(exc, self.path)) from exc
                raise

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        conn = self._reader_conn()
        async with conn.execute(sql, params) as cur:
            row = await cur.fetchone()
        return row

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        conn = self._reader_conn()
        async with conn.execute(sql, params) as cur:
            rows = await cur.fetchall()
        return list(rows)

    def _reader_conn(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise DatabaseUnavailableError("database is not open")
        return self._reader
