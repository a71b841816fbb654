"""Where a round stores its work: classification with search, draft with decision.

Each store is one transaction, so a round that fails between two model calls keeps what the
first one cost, and its retry does not ask the model again.
"""

from __future__ import annotations

import asyncio
import time

from bot.sandbox.standin import SlackStandIn
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.harness import RunningBot, classification, draft, scripted_llm

EXPORT_ARTICLE = 2


def _answering(llm: FakeOpenAI) -> None:
    llm.set_responder(
        scripted_llm(
            classification(),
            draft("Open the report, click *Export* and choose CSV.", [EXPORT_ARTICLE]),
        )
    )


async def _steps(bot: RunningBot) -> list[str]:
    rows = await bot.db.fetchall("SELECT step FROM ticket_events ORDER BY id")
    return [r["step"] for r in rows]


async def _state_and_version(bot: RunningBot) -> list[object]:
    row = await bot.db.fetchone("SELECT state, version FROM tickets")
    assert row is not None
    return [row["state"], row["version"]]


async def test_a_round_stores_twice_and_keeps_every_step_on_the_trail(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    _answering(llm)
    bot = await make_bot()
    ts = await bot.ask("How do I export a report as CSV?")
    await bot.drained()
    assert "choose CSV" in bot.thread(ts)[0]["text"]
    steps = await _steps(bot)
    assert steps[:5] == ["received", "classified", "searched", "drafted", "decided"]
    # received → retrieved (classification and search) → answered (draft and decision): two
    # moves of the ticket, not five.
    assert await _state_and_version(bot) == ["answered", 2]
    assert len(llm.requests) == 2


async def _rename(bot: RunningBot, table: str, to: str) -> None:
    async with bot.db.transaction() as tx:
        await tx.execute(f"ALTER TABLE {table} RENAME TO {to}")


async def _retried(bot: RunningBot, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while "retried" not in await _steps(bot):
        assert time.monotonic() < deadline, "the round was never retried"
        await asyncio.sleep(0.02)


async def test_a_failed_search_keeps_the_classification_and_the_retry_does_not_reclassify(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    _answering(llm)
    bot = await make_bot(job_retry_base_seconds=1.0)
    await _rename(bot, "kb_chunks", "kb_chunks_away")  # the passages cannot be read
    ts = await bot.ask("How do I export a report as CSV?")
    await _retried(bot)
    assert await bot.ticket_states() == ["classified"]
    await _rename(bot, "kb_chunks_away", "kb_chunks")
    await bot.drained(timeout=20)
    assert "choose CSV" in bot.thread(ts)[0]["text"]
    steps = await _steps(bot)
    assert steps.count("classified") == 1 and steps.count("searched") == 1
    assert len(llm.requests) == 2  # one classification, one draft: nothing asked twice


async def test_a_failed_decision_keeps_the_draft_and_the_retry_does_not_redraft(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(
        scripted_llm(
            classification("complex_issue", 0.8, summary="Export crashes on large reports."),
            draft("We are looking into export crashes; please retry in an hour.", [EXPORT_ARTICLE]),
        )
    )
    bot = await make_bot(job_retry_base_seconds=1.0)
    await _rename(bot, "escalations", "escalations_away")  # escalating cannot be stored
    await bot.ask("The CSV export crashes every time for our big report!")
    await _retried(bot)
    assert await bot.ticket_states() == ["drafted"]
    await _rename(bot, "escalations_away", "escalations")
    await bot.drained(timeout=20)
    assert await bot.ticket_states() == ["awaiting_review"] and len(bot.cards()) == 1
    steps = await _steps(bot)
    assert steps.count("drafted") == 1 and steps.count("decided") == 1
    assert len(llm.requests) == 2
