"""SQLite under pressure, through the real app: a database locked by another process, a full
disk and a read-only file system give clear errors and no corruption, Slack is not told the
message was taken (so it delivers it again), and the bot recovers when the condition clears.

The full-disk and read-only cases mount a 2 MB tmpfs; where mounting is not allowed (not root,
no CAP_SYS_ADMIN) they are skipped and say so."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.standin import SlackStandIn
from persistence.db import DatabaseUnavailableError
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.harness import (
    SUPPORT,
    RunningBot,
    classification,
    deliver,
    draft,
    scripted_llm,
)

# The SQLite backend itself (PostgreSQL's: tests/persistence/test_postgres.py).
pytestmark = pytest.mark.sqlite_only


def integrity(path: str) -> str:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


async def answered_once(bot: RunningBot, slack: SlackStandIn, ts: str) -> None:
    await bot.drained()
    assert await bot.ticket_states() == ["answered"]
    replies = slack.posts(channel=SUPPORT, thread_ts=ts)
    assert len(replies) == 1 and replies[0]["text"].startswith("Click Export.")


@pytest.fixture
def faq(llm: FakeOpenAI) -> None:
    llm.set_responder(scripted_llm(classification(), draft("Click Export.", [2])))


async def test_a_locked_database_refuses_the_message_clearly_and_slacks_retry_lands_once(
    make_bot: BotFactory,
    slack: SlackStandIn,
    faq: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot = await make_bot(database_busy_timeout=0.3)
    path = bot.db.path
    # Another process holds the write lock (taken off the event loop, which the bot needs to
    # finish the transaction it may be in).
    locker = sqlite3.connect(path, isolation_level=None, timeout=10, check_same_thread=False)
    await asyncio.to_thread(locker.execute, "BEGIN IMMEDIATE")
    ts, event_id = bot.send.new_ts(), bot.send.new_event_id()
    with caplog.at_level(logging.ERROR):
        status = await deliver(bot, ts, event_id)
    assert status >= 500  # not acknowledged: Slack will deliver it again
    assert "locked by another process" in caplog.text
    locker.execute("ROLLBACK")
    locker.close()
    assert await deliver(bot, ts, event_id, retry=1) == 200
    await answered_once(bot, slack, ts)
    assert integrity(path) == "ok"


@contextlib.contextmanager
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(folder: Path) -> Path:
    """Take every free byte of the file system."""
    filler = folder / "filler"
    with contextlib.suppress(OSError), filler.open("wb", buffering=0) as out:
        while True:
            out.write(b"\0" * 4096)
    return filler


async def test_a_full_disk_is_reported_and_the_bot_recovers_when_space_returns(
    make_bot: BotFactory,
    slack: SlackStandIn,
    faq: None,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with small_filesystem(tmp_path) as disk:
        bot = await make_bot(database_url=f"sqlite:///{disk / 'bot.db'}", kb=False)
        filler = fill(disk)
        ts, event_id = bot.send.new_ts(), bot.send.new_event_id()
        with caplog.at_level(logging.ERROR):
            status = await deliver(bot, ts, event_id)
        assert status >= 500
        assert "is full" in caplog.text
        filler.unlink()
        assert await deliver(bot, ts, event_id, retry=1) == 200
        await bot.drained()
        assert len(await bot.ticket_states()) == 1
        assert len(slack.posts(channel=SUPPORT, thread_ts=ts)) == 1
        await bot.stop()
        assert integrity(str(disk / "bot.db")) == "ok"


async def test_a_read_only_database_stops_the_start_clearly_and_starts_once_writable(
    make_bot: BotFactory, slack: SlackStandIn, faq: None, tmp_path: Path
) -> None:
    with small_filesystem(tmp_path) as disk:
        url = f"sqlite:///{disk / 'bot.db'}"
        bot = await make_bot(database_url=url, kb=False)
        ts = await bot.ask("How do I export a report as CSV?")
        await bot.drained()
        await bot.stop()
        readonly = ["mount", "-o", "remount,ro", str(disk)]
        assert subprocess.run(readonly, capture_output=True).returncode == 0
        with pytest.raises(DatabaseUnavailableError, match="read-only"):
            await bot.start()
        writable = ["mount", "-o", "remount,rw", str(disk)]
        assert subprocess.run(writable, capture_output=True).returncode == 0
        await bot.start()
        await bot.ask("And as PDF?", thread_ts=ts)
        await bot.drained()
        turns = await bot.db.fetchall("SELECT text FROM ticket_turns WHERE role = 'customer'")
        assert [t["text"] for t in turns] == ["How do I export a report as CSV?", "And as PDF?"]
        await bot.stop()
        assert integrity(str(disk / "bot.db")) == "ok"
