"""What the connector tests share: no proxy from the environment unless a test sets one, a
pooled HTTP session as the bot makes it, and a forward proxy for the tests that go through one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.settings.network import aiohttp_session, tls_context
from tests.fakes.proxy import ForwardProxy


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp_session(tls_context(), timeout=10) as client:
        yield client


@pytest.fixture
async def proxy(no_proxy_env: pytest.MonkeyPatch) -> AsyncIterator[ForwardProxy]:
    server = ForwardProxy()
    await server.start()
    no_proxy_env.setenv("HTTP_PROXY", server.url)
    no_proxy_env.setenv("HTTPS_PROXY", server.url)
    yield server
    await server.stop()
