"""The connector for each kind of source, built from its stored settings, with one pooled HTTP
session (the bot's proxies and certificates) shared by every sync of this process."""

from __future__ import annotations

import aiohttp

from bot.kb.sources.base import Connector
from bot.kb.sources.sync import Progress
from bot.kb.sources.website import WebsiteSource
from bot.settings.network import aiohttp_session, tls_context
from persistence.sources import KbSource

# Kinds a source may have, and what each reads (the README's "Knowledge sources").
KINDS = ("files", "website")
HTTP_TIMEOUT_SECONDS = 30.0


class UnknownKind(ValueError):
    """A source of a kind this version of the bot cannot sync."""


class Connectors:
    def __init__(self, *, ca_bundle: str | None = None) -> None:
        self.ca_bundle = ca_bundle
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp_session(
                tls_context(self.ca_bundle), timeout=HTTP_TIMEOUT_SECONDS
            )
        return self._session

    def connector_for(self, source: KbSource, progress: Progress | None) -> Connector:
        settings = source.settings
        if source.kind == "website":
            return WebsiteSource(
                start_url=str(settings["url"]),
                session=self.session(),
                max_pages=int(settings.get("max_pages", 500)),
                crawl_delay=float(settings.get("crawl_delay", 0.5)),
                on_progress=progress,
            )
        raise UnknownKind(f"this bot cannot sync a source of kind {source.kind!r}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
