"""PostgreSQL going away under the running bot: a message that arrives meanwhile is refused
clearly (Slack delivers it again), nothing reaches Slack as a traceback, and once the server is
back the bot carries on with new connections and answers the redelivered message once."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from bot.sandbox.standin import SlackStandIn
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.databases import PostgresServer
from tests.utils.harness import (
    SUPPORT,
    classification,
    deliver,
    draft,
    scripted_llm,
)

pytestmark = pytest.mark.postgresql_only


@pytest.fixture
def server() -> Iterator[PostgresServer]:
    """A server of this test's own: it is stopped and started again mid-test."""
    own = PostgresServer()
    own.start()
    yield own
    own.stop()


async def test_a_server_outage_refuses_messages_clearly_and_the_bot_recovers(
    server: PostgresServer,  # first: it outlives the bot
    make_bot: BotFactory,
    slack: SlackStandIn,
    llm: FakeOpenAI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    llm.set_responder(scripted_llm(classification(), draft("Click Export.", [2])))
    url = server.fresh_database()
    bot = await make_bot(database_url=url, database_busy_timeout=1.0)
    first = bot.send.new_ts()
    assert await deliver(bot, first, bot.send.new_event_id()) == 200
    await bot.drained()
    # The job completions were committed without waiting for the WAL (durable=False); a
    # server crash right after would lose them and the jobs would run again once their lease
    # ran out. Flush the WAL, so the crash below loses nothing this test waits for.
    server.psql("CHECKPOINT")

    server.pause()
    ts, event_id = bot.send.new_ts(), bot.send.new_event_id()
    with caplog.at_level(logging.ERROR):
        status = await deliver(bot, ts, event_id)
    assert status >= 500  # not acknowledged: Slack will deliver it again
    assert "cannot be reached" in caplog.text or "did not answer in time" in caplog.text
    assert "Traceback" not in str(slack.posts())

    server.resume()
    assert await deliver(bot, ts, event_id, retry=1) == 200
    await bot.drained()
    assert await bot.ticket_states() == ["answered", "answered"]
    for thread in (first, ts):
        replies = slack.posts(channel=SUPPORT, thread_ts=thread)
        assert len(replies) == 1 and replies[0]["text"].startswith("Click Export.")


async def test_a_bot_stopping_while_the_server_is_down_exits_cleanly(
    server: PostgresServer,
    make_bot: BotFactory,
    llm: FakeOpenAI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    llm.set_responder(scripted_llm(classification(), draft("Click Export.", [2])))
    bot = await make_bot(database_url=server.fresh_database(), database_busy_timeout=1.0)
    server.pause()
    with caplog.at_level(logging.WARNING):
        await bot.stop()  # raises nothing
    assert "could not hand back this process's jobs while stopping" in caplog.text
