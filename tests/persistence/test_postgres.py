"""The PostgreSQL backend itself: placeholders, serial transactions across "replicas" (two
``PostgresDatabase`` instances on one database), claims that skip each other's rows, migrations
run once when replicas start together, durability levels, and a server that is not there."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from persistence.connect import database_from_url
from persistence.db import DatabaseUnavailableError
from persistence.jobs import JobRepository
from persistence.migrations_pg import PG_MIGRATIONS
from persistence.postgres import PostgresDatabase, numbered, redacted, rowcount
from tests.utils.databases import database_url, postgres_server

pytestmark = pytest.mark.postgresql_only


async def one(source: Any, sql: str, params: Sequence[Any] = ()) -> Any:
    row = await source.fetchone(sql, params)
    assert row is not None
    return row


def test_placeholders_are_numbered_outside_quotes() -> None:
    assert numbered("SELECT ? , ?") == "SELECT $1 , $2"
    assert numbered("SELECT '?', \"a?\", ? WHERE x = 'it''s ?'") == (
        "SELECT '?', \"a?\", $1 WHERE x = 'it''s ?'"
    )
    assert numbered("SELECT 1") == "SELECT 1"


def test_rowcount_from_command_status() -> None:
    assert rowcount("UPDATE 3") == 3
    assert rowcount("INSERT 0 1") == 1
    assert rowcount("DELETE 0") == 0
    assert rowcount("CREATE TABLE") == 0


def test_the_password_never_appears_in_the_path() -> None:
    url = "postgresql://bot:s3cret@db.internal:5432/support"
    assert redacted(url) == "postgresql://bot:***@db.internal:5432/support"
    assert "s3cret" not in PostgresDatabase(url).path
    assert redacted("postgresql://db/support") == "postgresql://db/support"


async def test_a_url_names_the_postgres_backend(tmp_path: Path) -> None:
    db = database_from_url(database_url(tmp_path), pool_size=3)
    assert isinstance(db, PostgresDatabase) and db.pool_size == 3
    await db.open()
    try:
        assert await db.applied_migrations() == [name for name, _ in PG_MIGRATIONS]
        assert await db.migrate() == []
    finally:
        await db.close()


async def test_replicas_starting_together_apply_each_migration_once() -> None:
    server = postgres_server()
    name = "migrate_race"
    server.psql(f"DROP DATABASE IF EXISTS {name}")
    server.psql(f"CREATE DATABASE {name}")
    url = server.url(name)
    replicas = [PostgresDatabase(url) for _ in range(3)]
    try:
        await asyncio.gather(*(r.open(migrate=False) for r in replicas))
        applied = await asyncio.gather(*(r.migrate() for r in replicas))
        assert sorted(len(a) for a in applied) == [0, 0, len(PG_MIGRATIONS)]
    finally:
        for r in replicas:
            await r.close()
        server.drop(url)


async def test_serial_transactions_of_two_replicas_never_interleave(tmp_path: Path) -> None:
    """A read followed by a write (as the repositories do) stays correct across replicas."""
    url = database_url(tmp_path)
    a, b = PostgresDatabase(url), PostgresDatabase(url)
    await a.open()
    await b.open(migrate=False)
    try:

        async def bump(db: PostgresDatabase) -> None:
            async with db.transaction() as tx:
                row = await one(tx, "SELECT value FROM kb_meta WHERE key = 'version'")
                await asyncio.sleep(0.001)  # give the other replica every chance to interleave
                await tx.execute(
                    "UPDATE kb_meta SET value = ? WHERE key = 'version'", (row["value"] + 1,)
                )

        await asyncio.gather(*(bump(db) for _ in range(25) for db in (a, b)))
        row = await one(a, "SELECT value FROM kb_meta WHERE key = 'version'")
        assert row["value"] == 50
    finally:
        await a.close()
        await b.close()


async def test_replicas_claiming_at_once_take_different_jobs(tmp_path: Path) -> None:
    url = database_url(tmp_path)
    replicas = [PostgresDatabase(url) for _ in range(3)]
    for r in replicas:
        await r.open()
    try:
        jobs = JobRepository(replicas[0])
        async with replicas[0].transaction() as tx:
            for i in range(90):
                await jobs.enqueue(tx, kind="step", dedupe_key=f"k{i}", payload={"i": i})

        async def claim_all(n: int) -> list[int]:
            repo = JobRepository(replicas[n])
            taken: list[int] = []
            while batch := await repo.claim(owner=f"r{n}", limit=4, lease_seconds=30):
                taken += [j.id for j in batch]
            return taken

        claimed = await asyncio.gather(*(claim_all(n) for n in range(3)))
        every = [job_id for taken in claimed for job_id in taken]
        assert len(every) == len(set(every)) == 90
        assert all(claimed), "each replica took a share"
    finally:
        for r in replicas:
            await r.close()


async def test_a_failed_transaction_rolls_back_and_skips_after_commit(tmp_path: Path) -> None:
    db = PostgresDatabase(database_url(tmp_path))
    await db.open()
    called: list[str] = []
    try:
        with pytest.raises(RuntimeError):
            async with db.transaction() as tx:
                tx.after_commit(lambda: called.append("x"))
                await tx.execute("UPDATE kb_meta SET value = 99 WHERE key = 'version'")
                raise RuntimeError("boom")
        row = await one(db, "SELECT value FROM kb_meta WHERE key = 'version'")
        assert row["value"] == 0 and called == []
        async with db.transaction() as tx:
            tx.after_commit(lambda: called.append("y"))
        assert called == ["y"]
    finally:
        await db.close()


async def test_only_non_durable_transactions_skip_the_commit_flush(tmp_path: Path) -> None:
    db = PostgresDatabase(database_url(tmp_path))
    await db.open()
    try:
        async with db.transaction(durable=False) as tx:
            row = await one(tx, "SHOW synchronous_commit")
            assert row[0] == "off"
        async with db.transaction() as tx:
            row = await one(tx, "SELECT current_setting('synchronous_commit') AS s")
            assert row["s"] == "on"  # the server's setting: only durable=False lowers it
    finally:
        await db.close()


async def test_an_urgent_transaction_does_not_wait_for_the_ordinary_pool(tmp_path: Path) -> None:
    db = PostgresDatabase(database_url(tmp_path), pool_size=2)
    await db.open()
    release = asyncio.Event()
    try:

        async def hold() -> None:
            async with db.transaction(serial=False) as tx:
                await tx.execute("SELECT 1")
                await release.wait()

        holders = [asyncio.create_task(hold()) for _ in range(2)]
        await asyncio.sleep(0.1)
        async with asyncio.timeout(2):
            async with db.transaction(urgent=True, serial=False) as tx:
                await tx.execute("UPDATE kb_meta SET value = 1 WHERE key = 'version'")
        release.set()
        await asyncio.gather(*holders)
    finally:
        await db.close()


async def test_a_server_that_is_not_there_is_a_clear_error() -> None:
    server = postgres_server()
    db = PostgresDatabase(f"postgresql://postgres:pw@127.0.0.1:{server.port + 1}/x")
    with pytest.raises(DatabaseUnavailableError, match="cannot be reached") as caught:
        await db.open()
    assert "pw@" not in str(caught.value)


async def test_a_database_that_does_not_exist_says_so() -> None:
    db = PostgresDatabase(postgres_server().url("no_such_database"))
    with pytest.raises(DatabaseUnavailableError, match="does not exist"):
        await db.open()


async def test_json_functions_mean_what_they_mean_in_sqlite(tmp_path: Path) -> None:
    db = PostgresDatabase(database_url(tmp_path))
    await db.open()
    try:
        row = await one(
            db,
            "SELECT json_extract(?, '$.a') AS a, json_extract(?, '$.b.c') AS c,"
            " json_extract(?, '$.t') AS t, json_extract(?, '$.missing') AS m,"
            " json_remove(?, '$.a') AS removed, json_valid(?) AS ok, json_valid('nope') AS bad",
            ['{"a": "x", "b": {"c": 2}, "t": false}'] * 6,
        )
        assert (row["a"], row["c"], row["t"], row["m"]) == ("x", "2", "0", None)
        assert row["removed"] == '{"b": {"c": 2}, "t": false}'
        assert row["ok"] is True and row["bad"] is False
    finally:
        await db.close()


async def test_nul_characters_are_stored_as_replacement_characters(tmp_path: Path) -> None:
    """PostgreSQL's text holds no U+0000, not even escaped in JSON the JSON functions read."""
    db = PostgresDatabase(database_url(tmp_path))
    await db.open()
    try:
        payload = json.dumps({"channel_id": "C\x00", "text": "a literal \\u0000 stays"})
        async with db.transaction() as tx:
            await tx.execute(
                "INSERT INTO jobs(kind, dedupe_key, payload, available_at, created_at)"
                " VALUES ('inbound_message', ?, ?, 0, 0)",
                ("k\x00", payload),
            )
        row = await one(
            db, "SELECT dedupe_key, json_extract(payload, '$.channel_id') AS c, payload FROM jobs"
        )
        assert row["dedupe_key"] == "k\ufffd" and row["c"] == "C\ufffd"
        assert json.loads(row["payload"])["text"] == "a literal \\u0000 stays"
    finally:
        await db.close()


def test_both_backends_name_their_migrations_alike() -> None:
    """doctor and copy-db compare a database's applied steps with one list of names."""
    from persistence.migrations import MIGRATIONS

    assert [name for name, _ in PG_MIGRATIONS] == [name for name, _ in MIGRATIONS]
