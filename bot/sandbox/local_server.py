"""An aiohttp application served on 127.0.0.1 at a free port, over TLS when given a context:
the base of the Slack stand-in here and of the tests' fakes (the model, help centres, APIs)."""

from __future__ import annotations

import ssl
from abc import ABC, abstractmethod
from typing import Self

from aiohttp import web


class LocalServer(ABC):
    """Subclasses build the application (``application``) and may wake parked handlers before
    the server stops (``wake_waiting``); ``async with`` starts and stops it."""

    name = "the local server"

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @abstractmethod
    def application(self) -> web.Application:
        """The routes this server answers."""

    async def start(self) -> None:
        # A short shutdown timeout: stop() must not wait a minute on a parked handler.
        self._runner = web.AppRunner(self.application(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.tls)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def wake_waiting(self) -> None:
        """Wake handlers that wait (delayed or held answers), so stopping does not wait on them.
        Nothing waits by default."""
        return None

    async def stop(self) -> None:
        await self.wake_waiting()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._port

    @property
    def origin(self) -> str:
        """``http(s)://127.0.0.1:PORT``."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"
