"""The SQLite owner: URL parsing, migrations, pragmas and transactions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from persistence.connect import database_from_url
from persistence.db import DatabaseConfigError, DatabaseUnavailableError
from persistence.migrations import MIGRATIONS
from persistence.postgres import PostgresDatabase
from persistence.sqlite import SqliteDatabase, sqlite_path_from_url

# The SQLite backend itself (PostgreSQL's: tests/persistence/test_postgres.py).
pytestmark = pytest.mark.sqlite_only

CORE_TABLES = {
    "tickets",
    "ticket_turns",
    "escalations",
    "jobs",
    "ticket_events",
    "ignored_messages",
    "kb_articles",
    "kb_chunks",
    "kb_fts",
    "schema_migrations",
}

ALL_MIGRATIONS = [name for name, _ in MIGRATIONS]


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {r[0] for r in rows}


async def test_migrations_on_a_blank_file_create_the_tables(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    db = SqliteDatabase(str(path))
    await db.open(migrate=False)
    try:
        assert await db.migrate() == ALL_MIGRATIONS
        assert await db.applied_migrations() == ALL_MIGRATIONS
        assert await db.migrate() == []
        assert await db.applied_migrations() == ALL_MIGRATIONS
    finally:
        await db.close()
    assert _tables(path) >= CORE_TABLES


async def test_open_migrates_and_reopening_applies_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = SqliteDatabase(str(path))
    await db.open()
    await db.close()
    assert _tables(path) >= CORE_TABLES
    again = SqliteDatabase(str(path))
    await again.open(migrate=False)
    try:
        assert await again.migrate() == []
        assert await again.applied_migrations() == [name for name, _ in MIGRATIONS]
    finally:
        await again.close()


async def test_open_without_migrate_leaves_the_file_empty(tmp_path: Path) -> None:
    path = tmp_path / "bare.db"
    db = SqliteDatabase(str(path))
    await db.open(migrate=False)
    await db.close()
    assert _tables(path) == set()


async def test_wal_mode_and_foreign_keys_are_on(db: SqliteDatabase) -> None:
    row = await db.fetchone("PRAGMA journal_mode")
    assert row is not None and row[0] == "wal"
    row = await db.fetchone("PRAGMA foreign_keys")
    assert row is not None and row[0] == 1
    async with db.transaction() as tx:
        row = await tx.fetchone("PRAGMA foreign_keys")
        assert row is not None and row[0] == 1


async def test_foreign_keys_are_enforced(db: SqliteDatabase) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as tx:
            await tx.execute(
                "INSERT INTO ticket_turns(ticket_id, role, text, created_at)"
                " VALUES (999, 'customer', 'x', 0)"
            )


async def test_a_failing_transaction_rolls_back(db: SqliteDatabase) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO ignored_messages(reason, created_at) VALUES ('first', 0)")
            row = await tx.fetchone("SELECT COUNT(*) FROM ignored_messages")
            assert row is not None and row[0] == 1  # visible inside the transaction
            raise RuntimeError("boom")
    row = await db.fetchone("SELECT COUNT(*) FROM ignored_messages")
    assert row is not None and row[0] == 0
    # The writer is usable again afterwards, and commits.
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO ignored_messages(reason, created_at) VALUES ('second', 0)")
    rows = await db.fetchall("SELECT reason FROM ignored_messages")
    assert [r["reason"] for r in rows] == ["second"]


async def test_a_failing_statement_rolls_back_earlier_writes(db: SqliteDatabase) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as tx:
            await tx.execute(
                "INSERT INTO jobs(kind, dedupe_key, payload, available_at, created_at)"
                " VALUES ('k', 'same', '{}', 0, 0)"
            )
            await tx.execute(
                "INSERT INTO jobs(kind, dedupe_key, payload, available_at, created_at)"
                " VALUES ('k', 'same', '{}', 0, 0)"
            )
    row = await db.fetchone("SELECT COUNT(*) FROM jobs")
    assert row is not None and row[0] == 0


async def test_committed_writes_survive_reopening(tmp_path: Path) -> None:
    path = str(tmp_path / "durable.db")
    db = SqliteDatabase(path)
    await db.open()
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO ignored_messages(reason, created_at) VALUES ('kept', 0)")
    await db.close()
    db = SqliteDatabase(path)
    await db.open()
    try:
        rows = await db.fetchall("SELECT reason FROM ignored_messages")
        assert [r["reason"] for r in rows] == ["kept"]
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///support-bot.db", "support-bot.db"),
        ("sqlite:///data/bot.db", "data/bot.db"),
        ("sqlite:////var/lib/support-bot.db", "/var/lib/support-bot.db"),
        ("sqlite:///:memory:", ":memory:"),
        ("sqlite://:memory:", ":memory:"),
    ],
)
def test_database_url_parsing(url: str, path: str) -> None:
    assert sqlite_path_from_url(url) == path


@pytest.mark.parametrize("url", ["postgresql://u:p@host/db", "postgres://host/db"])
def test_postgres_urls_name_the_postgres_backend(url: str) -> None:
    db = database_from_url(url)
    assert isinstance(db, PostgresDatabase) and db.dialect == "postgresql"
    assert ":p@" not in db.path
    with pytest.raises(DatabaseConfigError, match="must start with sqlite:///"):
        sqlite_path_from_url(url)


@pytest.mark.parametrize("url", ["http://example.com/db", "mysql://h/db", "support-bot.db"])
def test_the_backend_names_both_schemes_when_refusing_another(url: str) -> None:
    with pytest.raises(DatabaseConfigError, match="or postgresql://"):
        database_from_url(url)


@pytest.mark.parametrize("url", ["http://example.com/db", "mysql://h/db", "support-bot.db", ""])
def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(DatabaseConfigError, match="must start with sqlite:///"):
        sqlite_path_from_url(url)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite://host/bot.db"])
def test_malformed_sqlite_urls_are_refused(url: str) -> None:
    with pytest.raises(DatabaseConfigError, match="must look like sqlite:///"):
        sqlite_path_from_url(url)


def test_from_url_uses_the_parsed_path(tmp_path: Path) -> None:
    assert database_from_url(f"sqlite:///{tmp_path}/x.db").path == f"{tmp_path}/x.db"


async def test_in_memory_database_works(tmp_path: Path) -> None:
    db = database_from_url("sqlite:///:memory:")
    await db.open()
    try:
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO ignored_messages(reason, created_at) VALUES ('m', 0)")
        row = await db.fetchone("SELECT COUNT(*) FROM ignored_messages")
        assert row is not None and row[0] == 1
    finally:
        await db.close()


async def test_missing_folder_is_database_unavailable(tmp_path: Path) -> None:
    db = SqliteDatabase(str(tmp_path / "no" / "such" / "folder" / "bot.db"))
    with pytest.raises(DatabaseUnavailableError, match="folder for the database does not exist"):
        await db.open()
    assert not (tmp_path / "no").exists()


async def test_a_file_that_is_not_a_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not sqlite" * 100)
    db = SqliteDatabase(str(path))
    with pytest.raises(DatabaseUnavailableError, match=r"cannot open the database.*not a database"):
        await db.open()


async def test_using_a_closed_database_is_unavailable(tmp_path: Path) -> None:
    db = SqliteDatabase(str(tmp_path / "bot.db"))
    with pytest.raises(DatabaseUnavailableError):
        await db.fetchone("SELECT 1")
    with pytest.raises(DatabaseUnavailableError):
        async with db.transaction():
            pass


async def test_reads_see_the_last_commit_while_other_reads_overlap(db: SqliteDatabase) -> None:
    """Found by bench/throughput.py: overlapping reads kept the reader connection in one read
    transaction, so a read after a commit could return the row as it was seconds before."""
    import asyncio

    async with db.transaction() as tx:
        await tx.execute("CREATE TABLE counters(id INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
        await tx.executemany("INSERT INTO counters VALUES (?, 0)", [(i,) for i in range(50)])
    stale: list[tuple[int, int, int]] = []
    done = False

    async def bump(i: int) -> None:
        for v in range(1, 15):
            async with db.transaction() as tx:
                await tx.execute("UPDATE counters SET v = ? WHERE id = ?", (v, i))
            row = await db.fetchone("SELECT v FROM counters WHERE id = ?", (i,))
            assert row is not None
            if row["v"] != v:
                stale.append((i, v, row["v"]))

    async def overlapping_reads() -> None:
        while not done:
            await db.fetchall("SELECT * FROM counters")

    noise = [asyncio.create_task(overlapping_reads()) for _ in range(3)]
    await asyncio.gather(*(bump(i) for i in range(50)))
    done = True
    await asyncio.gather(*noise)
    assert stale == []


async def test_urgent_transactions_go_before_waiting_ordinary_ones(db: SqliteDatabase) -> None:
    """Acknowledging Slack waits on the inbound insert: under a backlog it must not queue
    behind the worker's transactions."""
    import asyncio

    order: list[str] = []
    async with db.transaction() as tx:
        await tx.execute("CREATE TABLE log(name TEXT)")

    async def write(name: str, urgent: bool) -> None:
        async with db.transaction(urgent=urgent) as tx:
            order.append(name)
            await tx.execute("INSERT INTO log VALUES (?)", (name,))

    async with db.transaction() as tx:  # hold the lock while the others queue up
        tasks = [asyncio.create_task(write(f"worker-{i}", False)) for i in range(3)]
        tasks.append(asyncio.create_task(write("ack", True)))
        await asyncio.sleep(0.01)
        await tx.execute("INSERT INTO log VALUES ('holder')")
    await asyncio.gather(*tasks)
    assert order == ["ack", "worker-0", "worker-1", "worker-2"]
    rows = await db.fetchall("SELECT name FROM log")
    assert len(rows) == 5


async def test_a_write_meeting_another_process_lock_waits_off_the_loop(db: SqliteDatabase) -> None:
    """Inline statements do not wait for locks (the loop would stall); one that meets another
    connection's write lock is run again on the writer's thread, and the loop keeps running."""
    import asyncio

    other = sqlite3.connect(db.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    running = asyncio.create_task(ticker())
    loop = asyncio.get_running_loop()
    loop.call_later(0.3, other.execute, "COMMIT")
    try:
        async with db.transaction() as tx:
            await tx.execute("CREATE TABLE waited (x INTEGER)")
            await tx.execute("INSERT INTO waited VALUES (1)")
    finally:
        running.cancel()
        other.close()
    row = await db.fetchone("SELECT COUNT(*) AS n FROM waited", inline=True)
    assert row is not None and row["n"] == 1
    assert ticks >= 10  # the loop ran while the transaction waited for the lock


def test_waking_waiting_replies_uses_its_index() -> None:
    conn = sqlite3.connect(":memory:")
    for _, statements in MIGRATIONS:
        for statement in statements:
            conn.execute(statement)
    plan = conn.execute(
        "EXPLAIN QUERY PLAN UPDATE jobs SET available_at = 1 WHERE kind = 'inbound_message'"
        " AND state = 'pending' AND json_extract(payload, '$.channel_id') = ?"
        " AND json_extract(payload, '$.thread_ts') = ?"
        " AND json_extract(payload, '$.orphan_waits') IS NOT NULL",
        ("C1", "1.0"),
    ).fetchall()
    assert "jobs_waiting_replies" in str(plan)


async def test_after_commit_runs_once_committed_and_never_after_a_rollback(
    db: SqliteDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []
    async with db.transaction() as tx:
        await tx.execute("CREATE TABLE t (x INTEGER)")
        tx.after_commit(lambda: seen.append("committed"))
        assert seen == []  # not before the commit
    assert seen == ["committed"]
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO t VALUES (1)")
            tx.after_commit(lambda: seen.append("rolled back"))
            raise RuntimeError("later step failed")
    assert seen == ["committed"]

    def broken() -> None:
        raise ValueError("callback bug")

    async with db.transaction() as tx:
        await tx.execute("INSERT INTO t VALUES (2)")
        tx.after_commit(broken)
        tx.after_commit(lambda: seen.append("after the broken one"))
    assert seen[-1] == "after the broken one"  # one failing callback does not stop the rest
    assert "after-commit callback failed" in caplog.text
    assert (await db.fetchone("SELECT COUNT(*) AS n FROM t"))["n"] == 1  # type: ignore[index]


async def test_inline_reads_never_see_an_open_transaction(db: SqliteDatabase) -> None:
    async with db.transaction() as tx:
        await tx.execute("CREATE TABLE t (x INTEGER)")
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO t VALUES (1)")
        # Another coroutine reading now must not see the uncommitted row, even though inline
        # reads use the writer's connection whenever it is free.
        row = await db.fetchone("SELECT COUNT(*) AS n FROM t", inline=True)
        assert row is not None and row["n"] == 0
    row = await db.fetchone("SELECT COUNT(*) AS n FROM t", inline=True)
    assert row is not None and row["n"] == 1


async def test_a_transaction_that_need_not_be_durable_commits_without_fsync(
    tmp_path: Path,
) -> None:
    path = tmp_path / "levels.db"
    db = SqliteDatabase(str(path))
    await db.open()
    try:
        async with db.transaction() as tx:
            await tx.execute("CREATE TABLE t (x INTEGER)")
            full = await tx.fetchone("PRAGMA synchronous")
        async with db.transaction(durable=False) as tx:
            await tx.execute("INSERT INTO t VALUES (1)")
            normal = await tx.fetchone("PRAGMA synchronous")
        async with db.transaction() as tx:  # and the next one is durable again
            await tx.execute("INSERT INTO t VALUES (2)")
            again = await tx.fetchone("PRAGMA synchronous")
        assert full is not None and normal is not None and again is not None
        assert (full[0], normal[0], again[0]) == (2, 1, 2)  # FULL, NORMAL, FULL
    finally:
        await db.close()
    reopened = SqliteDatabase(str(path))
    await reopened.open()
    try:
        rows = await reopened.fetchall("SELECT x FROM t ORDER BY x")
        assert [r["x"] for r in rows] == [1, 2]  # both committed, the lazy one included
    finally:
        await reopened.close()


async def test_the_writer_checkpoints_the_wal_itself(tmp_path: Path) -> None:
    from persistence.sqlite import CHECKPOINT_EVERY

    path = tmp_path / "wal.db"
    db = SqliteDatabase(str(path))
    await db.open()
    try:
        async with db.transaction() as tx:
            await tx.execute("CREATE TABLE t (x BLOB)")
        commits = 512
        assert commits >= CHECKPOINT_EVERY * 4
        for _ in range(commits):
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO t VALUES (?)", (b"x" * 4000,))
        # Automatic checkpoints are off on the writer; without its own the WAL would hold
        # every commit (about 4 MB here). Checkpointed, it is reused from its start; a passive
        # checkpoint may lag a few commits behind on a loaded machine, hence the margin.
        wal = Path(f"{path}-wal").stat().st_size
        assert wal < 2_000_000
    finally:
        await db.close()
