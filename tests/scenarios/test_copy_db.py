"""``support-bot copy-db FROM TO``: a SQLite installation moves to PostgreSQL and carries on.

A question escalated on SQLite is approved on the card after the move, by a bot on PostgreSQL:
the copy kept every id the card and the thread refer to. New tickets continue the ids, the
knowledge base answers from PostgreSQL's own index, and copying back the other way gives the
same rows. A copy refuses a non-empty target, a source whose schema is behind, and a source a
running bot still works on.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from bot.kb.retrieval import Retriever
from bot.sandbox.standin import SlackStandIn
from bot.slack import ids
from persistence.connect import database_from_url
from persistence.copy import TABLES, CopyError, copy_database
from persistence.csat import CsatRepository
from persistence.knowledge import KnowledgeRepository
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.databases import database_url, postgres_server
from tests.utils.harness import (
    CUSTOMER,
    SUPPORT,
    classification,
    click,
    draft,
    scripted_llm,
)
from tests.utils.process import SUPPORT_BOT, base_env

pytestmark = pytest.mark.postgresql_only

EXPORT_ARTICLE = 2


def copy_db(tmp_path: Path, source: str, target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SUPPORT_BOT, "copy-db", source, target],
        env=base_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def counts(url: str) -> dict[str, int]:
    db = database_from_url(url)
    await db.open(migrate=False)
    try:
        found = {}
        for table, _ in TABLES:
            row = await db.fetchone(f"SELECT COUNT(*) AS n FROM {table}")
            assert row is not None
            found[table] = int(row["n"])
        return found
    finally:
        await db.close()


async def test_a_sqlite_installation_moves_to_postgres_and_carries_on(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI, tmp_path: Path
) -> None:
    llm.set_responder(
        scripted_llm(
            classification("complex_issue", 0.9),
            draft("We are looking into export crashes; retry in an hour.", [EXPORT_ARTICLE]),
        )
    )
    old = f"sqlite:///{tmp_path / 'old.db'}"
    bot = await make_bot(database_url=old)
    ts = await bot.ask("The CSV export crashes every time for our big report!")
    await bot.drained()
    card = bot.cards()[-1]
    # A satisfaction rating with its comment travels with the ticket (tests/scenarios/test_csat.py
    # makes them through the app).
    ratings = CsatRepository(bot.db)
    async with bot.db.transaction() as tx:
        await ratings.ask(tx, ticket_id=1, channel_id=SUPPORT, answered_by="ai")
        await ratings.rate(tx, ticket_id=1, score=4, user_id=CUSTOMER)
        await ratings.set_comment(tx, ticket_id=1, comment="gr8, ty!")
    await bot.stop()

    new = database_url(tmp_path)  # an empty, migrated PostgreSQL database
    done = copy_db(tmp_path, old, new)
    assert done.returncode == 0, done.stderr
    assert "tickets" in done.stdout and "copied" in done.stdout
    assert "postgres@" in done.stdout and ":***@" not in done.stdout  # no password to hide
    assert await counts(new) == await counts(old)
    assert (await counts(new))["csat_ratings"] == 1

    moved = await make_bot(database_url=new, kb=False)
    status, _ = await click(moved, ids.ACTION_APPROVE, card=card)
    assert status == 200
    await moved.drained()
    thread = moved.thread(ts)
    assert len(thread) == 2 and "retry in an hour" in thread[1]["text"]

    llm.set_responder(
        scripted_llm(classification(), draft("Click *Export*, then CSV.", [EXPORT_ARTICLE]))
    )
    second = await moved.ask("How do I export a report as CSV?")
    await moved.drained()
    assert "Click *Export*" in moved.thread(second)[0]["text"]
    rows = await moved.db.fetchall("SELECT id, state FROM tickets ORDER BY id")
    assert [(r["id"], r["state"]) for r in rows] == [(1, "replied"), (2, "answered")]
    lookup = await Retriever(KnowledgeRepository(moved.db)).lookup("export a report as CSV")
    assert lookup.fits and lookup.hits[0].title == "Exporting reports"
    await moved.stop()

    # And back: PostgreSQL to a new SQLite file, row for row.
    back = f"sqlite:///{tmp_path / 'back.db'}"
    returned = copy_db(tmp_path, new, back)
    assert returned.returncode == 0, returned.stderr
    assert await counts(back) == await counts(new)

    again = copy_db(tmp_path, old, new)
    assert again.returncode == 2 and "already holds data" in again.stderr


async def test_a_copy_refuses_a_source_a_bot_still_works_on(tmp_path: Path) -> None:
    source = database_from_url(f"sqlite:///{tmp_path / 'busy.db'}")
    target = database_from_url(database_url(tmp_path))
    await source.open()
    await target.open()
    try:
        async with source.transaction() as tx:
            await tx.execute(
                "INSERT INTO jobs(kind, dedupe_key, payload, state, available_at, created_at,"
                " lease_owner, lease_until) VALUES ('step', 'k', '{}', 'running', 0, 0, ?, ?)",
                ("host:1:abc", time.time() + 60),
            )
        with pytest.raises(CopyError, match="stop every bot process first"):
            await copy_database(source, target)
    finally:
        await source.close()
        await target.close()


async def test_a_copy_refuses_a_source_without_the_latest_schema(tmp_path: Path) -> None:
    server = postgres_server()
    behind = server.fresh_database()
    empty = database_from_url(behind)
    target = database_from_url(database_url(tmp_path))
    await empty.open()
    await target.open()
    try:
        async with empty.transaction() as tx:
            await tx.execute("DELETE FROM schema_migrations WHERE name > '0005'")
        with pytest.raises(CopyError, match="run `support-bot migrate` on it first"):
            await copy_database(empty, target)
    finally:
        await empty.close()
        await target.close()
        server.drop(behind)
