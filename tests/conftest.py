"""Shared fixtures: the local Slack and OpenAI fakes, and a bot factory over a real database
(a SQLite file, or a throwaway PostgreSQL: see ``tests/utils/databases.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.standin import SlackStandIn
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.databases import BACKEND, forget_databases
from tests.utils.harness import (
    BOT_TOKEN,
    CUSTOMER_TEAM,
    HOME_TEAM,
    LLM_KEY,
    RunningBot,
    import_kb,
    settings_for,
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: tests of the SQLite backend itself")
    config.addinivalue_line("markers", "postgresql_only: tests of the PostgreSQL backend itself")


def pytest_report_header() -> str:
    return f"database backend: {BACKEND} (SUPPORT_BOT_TEST_BACKEND)"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    other = "postgresql_only" if BACKEND == "sqlite" else "sqlite_only"
    skip = pytest.mark.skip(reason=f"not for the {BACKEND} backend")
    for item in items:
        if item.get_closest_marker(other) is not None:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _databases() -> Iterator[None]:
    """Drop the PostgreSQL databases a test made once it is over."""
    yield
    forget_databases()


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    fake = SlackStandIn(token=BOT_TOKEN, team_id=HOME_TEAM)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def llm() -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI(api_key=LLM_KEY)
    await fake.start()
    yield fake
    await fake.stop()


BotFactory = Callable[..., Awaitable[RunningBot]]


@pytest.fixture
async def make_bot(
    tmp_path: Path, slack: SlackStandIn, llm: FakeOpenAI
) -> AsyncIterator[BotFactory]:
    """Start the real bot in HTTP mode; ``offline=True`` runs it without an LLM key."""
    started: list[RunningBot] = []

    async def factory(*, offline: bool = False, kb: bool = True, **overrides: Any) -> RunningBot:
        settings = settings_for(tmp_path, slack, None if offline else llm, **overrides)
        if kb:
            await import_kb(settings)
        bot = RunningBot(settings, slack)
        started.append(bot)
        return await bot.start()

    yield factory
    for bot in started:
        await bot.stop()


__all__ = ["CUSTOMER_TEAM"]
