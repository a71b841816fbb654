"""Where a round stores its work: classification with search, draft with decision.

Each store is one transaction, so a round that fails between two model calls keeps what the
first one cost, and its retry does not ask the model again.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot import workflow
from bot.policy import decide
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


async def test_a_failed_search_keeps_the_classification_and_the_retry_does_not_reclassify(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    _answering(llm)
    bot = await make_bot()
    assert bot.runtime is not None and bot.runtime.services is not None
    knowledge = bot.runtime.services.knowledge
    lookup = knowledge.lookup
    failures: list[int] = []

    async def failing_once(*args: Any, **kwargs: Any) -> Any:
        if not failures:
            failures.append(1)
            raise RuntimeError("search index unavailable")
        return await lookup(*args, **kwargs)

    knowledge.lookup = failing_once  # type: ignore[method-assign]
    ts = await bot.ask("How do I export a report as CSV?")
    await bot.drained()
    assert failures == [1]
    assert "choose CSV" in bot.thread(ts)[0]["text"]
    steps = await _steps(bot)
    assert steps.count("classified") == 1 and steps.count("searched") == 1
    assert "retried" in steps
    assert len(llm.requests) == 2  # one classification, one draft: nothing asked twice


async def test_a_failed_decision_keeps_the_draft_and_the_retry_does_not_redraft(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    _answering(llm)
    bot = await make_bot()
    failures: list[int] = []

    def failing_once(**kwargs: Any) -> Any:
        if not failures:
            failures.append(1)
            raise RuntimeError("policy failed")
        return decide(**kwargs)

    monkeypatch.setattr(workflow, "decide", failing_once)
    ts = await bot.ask("How do I export a report as CSV?")
    await bot.drained()
    assert failures == [1]
    assert len(bot.thread(ts)) == 1 and "choose CSV" in bot.thread(ts)[0]["text"]
    steps = await _steps(bot)
    assert steps.count("drafted") == 1 and steps.count("decided") == 1
    assert len(llm.requests) == 2
