"""The SQLite backend: one process on one machine (``sqlite:///``), behind the interface of
``persistence/db.py`` (``persistence/postgres.py`` is the backend for replicas).

It promises: one writer at a time, queued in-process (urgent transactions first); durable
transactions survive a power cut (``synchronous=FULL``), ``durable=False`` ones a process crash;
short writes and point reads run on the event loop's thread, searches and scans on reader
threads, fsyncs and checkpoints on the writer's thread. Why each of these: docs/design.md,
"Storage".
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import aiosqlite

from persistence.db import (
    BUSY_TIMEOUT_MS,
    DatabaseConfigError,
    DatabaseUnavailableError,
    Dialect,
    TxState,
    Written,
    apply_migrations,
    recorded_migrations,
)
from persistence.migrations import MIGRATIONS
from persistence.writer_lock import WriterLock

READERS = 3
# A transaction running statements inline gives the loop a turn after this long.
BREATHE_SECONDS = 0.004
# Commits between the writer's own WAL checkpoints (SQLite's default is every 1000 pages).
CHECKPOINT_EVERY = 64
PRAGMAS = ("PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON")
T = TypeVar("T")


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


def _busy(exc: sqlite3.OperationalError) -> bool:
    """Another connection holds a lock the statement needs (worth waiting for off the loop)."""
    name = getattr(exc, "sqlite_errorname", "")
    return (
        name.startswith("SQLITE_BUSY")
        or name.startswith("SQLITE_LOCKED")
        or (not name and "locked" in str(exc).lower())
    )


class _Reader:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self.busy = 0


class _Writer:
    """The write connection: statements inline on the loop's thread, waits on its own thread."""

    def __init__(self, conn: sqlite3.Connection, busy_timeout_ms: int) -> None:
        self.conn = conn
        self.busy_timeout_ms = busy_timeout_ms
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._turn_at = time.perf_counter()
        self._durable = True  # the connection's synchronous level: FULL (True) or NORMAL
        self._commits = 0  # since the last checkpoint

    @classmethod
    def connect(cls, path: str, busy_timeout_ms: int) -> _Writer:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        try:
            for pragma in ("PRAGMA busy_timeout=0", *PRAGMAS, "PRAGMA wal_autocheckpoint=0"):
                conn.execute(pragma).fetchall()
        except BaseException:
            conn.close()
            raise
        return cls(conn, busy_timeout_ms)

    def durability(self, durable: bool) -> None:
        """Set the next transaction's commit durability (only outside a transaction)."""
        if durable != self._durable:
            self.conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}").close()
            self._durable = durable

    def commit(self) -> None:
        self.conn.execute("COMMIT").close()
        self._commits += 1

    def commit_durably(self) -> None:
        """COMMIT (fsynced), and the periodic checkpoint: on the writer's thread."""
        self.commit()
        if self._commits >= CHECKPOINT_EVERY:
            self._commits = 0
            self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _patiently(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` waiting up to the busy timeout for other processes' locks (on the thread)."""
        self.conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
        try:
            return fn()
        finally:
            self.conn.execute("PRAGMA busy_timeout=0")

    async def off_loop(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the writer's thread; if cancelled meanwhile, wait for it to finish, so
        no later statement can overtake it on the connection."""
        future = asyncio.get_running_loop().run_in_executor(self._thread, self._patiently, fn)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            await asyncio.wait([future])
            raise

    async def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` inline; if it meets another process's lock, again off the loop."""
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
        return await self.off_loop(fn)

    async def breathe(self) -> None:
        """Give the loop a turn if this transaction has held it for a while."""
        if time.perf_counter() - self._turn_at > BREATHE_SECONDS:
            await asyncio.sleep(0)
            self._turn_at = time.perf_counter()

    def started(self) -> None:
        self._turn_at = time.perf_counter()

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return await self.run(lambda: self.conn.execute(sql, params).fetchall())

    async def close(self) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(self._thread, self.conn.close)
        finally:
            self._thread.shutdown(wait=False)


class SqliteTx(TxState):
    """An open write transaction. Repositories take one so several writes commit together."""

    def __init__(self, writer: _Writer, *, durable: bool = True) -> None:
        super().__init__(durable=durable)
        self._writer = writer

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> Written:
        def run() -> Written:
            cur = self._writer.conn.execute(sql, params)
            try:
                return Written(cur.rowcount)
            finally:
                cur.close()

        done = await self._writer.run(run)
        await self._writer.breathe()
        return done

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = list(rows)
        await self._writer.run(lambda: self._writer.conn.executemany(sql, batch).close())
        await self._writer.breathe()

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        rows = await self._writer.fetchall(sql, params)
        await self._writer.breathe()
        return rows


class SqliteDatabase:
    """Owns the connections. ``transaction()`` for writes, ``fetchone``/``fetchall`` for reads."""

    dialect: Dialect = "sqlite"

    def __init__(
        self, path: str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS, readers: int = READERS
    ) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self.reader_count = max(1, readers)
        self._writer: _Writer | None = None
        self._readers: list[_Reader] = []
        # Point look-ups on the loop's thread (a file database; in memory they use the writer).
        self._inline: sqlite3.Connection | None = None
        self._lock = WriterLock()

    @classmethod
    def from_url(cls, url: str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> SqliteDatabase:
        return cls(sqlite_path_from_url(url), busy_timeout_ms=busy_timeout_ms)

    async def open(self, *, migrate: bool = True) -> None:
        if self.path != ":memory:":
            _check_folder(self.path)
        try:
            self._writer = _Writer.connect(self.path, self.busy_timeout_ms)
            await self._writer.fetchall("PRAGMA journal_mode=WAL")
            if migrate:
                await self.migrate()
            # An in-memory database is private to its connection, so reads use the writer.
            if self.path != ":memory:":
                for _ in range(self.reader_count):
                    self._readers.append(_Reader(await self._connect()))
                self._inline = sqlite3.connect(self.path, isolation_level=None)
                self._inline.row_factory = sqlite3.Row
                for pragma in ("PRAGMA busy_timeout=0", *PRAGMAS):
                    self._inline.execute(pragma).fetchall()
        except sqlite3.Error as exc:
            await self.close()
            raise DatabaseUnavailableError(
                f"cannot open the database: {describe(exc, self.path)}"
            ) from exc

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            for pragma in (f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}", *PRAGMAS):
                await _run_to_end(conn, pragma)
        except BaseException:
            # An unclosed aiosqlite connection keeps its thread, and the process, alive.
            await conn.close()
            raise
        return conn

    async def close(self) -> None:
        readers, self._readers = self._readers, []
        writer, self._writer = self._writer, None
        inline, self._inline = self._inline, None
        if inline is not None:
            inline.close()
        for reader in readers:
            await reader.conn.close()
        if writer is not None:
            await writer.close()

    async def migrate(self) -> list[str]:
        """Apply migrations not yet recorded in ``schema_migrations``; return their names."""
        async with self.transaction() as tx:
            return await apply_migrations(tx, MIGRATIONS, time_type="REAL")

    async def applied_migrations(self) -> list[str]:
        return await recorded_migrations(self)

    @asynccontextmanager
    async def transaction(
        self, *, urgent: bool = False, durable: bool = True, serial: bool = True
    ) -> AsyncIterator[SqliteTx]:
        """A write transaction. ``urgent``: someone is waiting on it (Slack's acknowledgement),
        so it goes before ordinary waiting transactions. ``durable=False``: it may be lost to a
        power cut together with what followed it (see the module notes); only for what can be
        worked out again. ``serial`` is PostgreSQL's: here every write transaction is serial."""
        writer = self._writer
        if writer is None:
            raise DatabaseUnavailableError("database is not open")
        await self._lock.acquire(urgent=urgent)
        try:
            try:
                writer.durability(durable)
                await writer.run(lambda: writer.conn.execute("BEGIN IMMEDIATE").close())
            except sqlite3.OperationalError as exc:
                raise DatabaseUnavailableError(describe(exc, self.path)) from exc
            writer.started()
            tx = SqliteTx(writer, durable=durable)
            try:
                yield tx
                if durable:
                    await writer.off_loop(writer.commit_durably)
                else:
                    await writer.run(writer.commit)  # no fsync: inline, unless it meets a lock
            except BaseException as exc:
                # A failed commit (disk full, read-only) can leave the transaction open: end it,
                # or every later write on this connection would fail too.
                if writer.conn.in_transaction:
                    with contextlib.suppress(Exception):
                        writer.conn.execute("ROLLBACK").close()
                if isinstance(exc, sqlite3.OperationalError):
                    raise DatabaseUnavailableError(describe(exc, self.path)) from exc
                raise
        finally:
            self._lock.release()
        tx.committed()

    # Reads run the statement to its end in one go. Executing and fetching in two hops let other
    # coroutines' reads start while a statement was still open: the connection then stayed in
    # one read transaction for as long as reads overlapped, and under load kept answering from a
    # snapshot seconds old (a ticket "did not settle").
    async def fetchone(
        self, sql: str, params: Sequence[Any] = (), *, inline: bool = False
    ) -> sqlite3.Row | None:
        for row in await self.fetchall(sql, params, inline=inline):
            return row
        return None

    async def fetchall(
        self, sql: str, params: Sequence[Any] = (), *, inline: bool = False
    ) -> list[sqlite3.Row]:
        """``inline``: a point look-up by key, run on the loop's thread (see the module notes);
        anything that may scan goes to the least busy reader thread."""
        if self._writer is None:
            raise DatabaseUnavailableError("database is not open")
        if not self._readers:  # in memory: the writer's connection holds the data
            return await self._writer.fetchall(sql, params)
        if inline and self._inline is not None:
            # The writer's connection when no transaction is using it: its page cache stays
            # warm (only it writes), while any other connection drops its whole cache at each
            # read after a write, and a point look-up re-read its pages (~80 µs, not ~10).
            writer = self._writer.conn
            conn = writer if not self._lock.held and not writer.in_transaction else self._inline
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
        reader = min(self._readers, key=lambda r: r.busy)
        reader.busy += 1
        try:
            rows = await reader.conn.execute_fetchall(sql, params)
        finally:
            reader.busy -= 1
        return list(rows)
