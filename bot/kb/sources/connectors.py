"""The connector for each kind of source, built from its stored settings, with one pooled HTTP
session (the bot's proxies and certificates) shared by every sync of this process."""

from __future__ import annotations

import aiohttp

from bot.kb.sources.base import Connector
from bot.kb.sources.confluence import ConfluenceSource
from bot.kb.sources.notion import NotionSource
from bot.kb.sources.sync import Progress
from bot.kb.sources.website import WebsiteSource
from bot.kb.sources.zendesk import ZendeskSource
from bot.settings.environment import secret_named
from bot.settings.network import aiohttp_session, tls_context
from persistence.sources import KbSource

# Kinds a source may have, and what each reads (the README's "Knowledge sources").
KINDS = ("files", "website", "zendesk", "notion", "confluence")
# Where each API's token is read from unless the source names another variable (``token_env``).
TOKEN_ENV = {
    "zendesk": "ZENDESK_API_TOKEN",
    "notion": "NOTION_TOKEN",
    "confluence": "CONFLUENCE_API_TOKEN",
}
HTTP_TIMEOUT_SECONDS = 30.0


NOTION_API = "https://api.notion.com"


class UnknownKind(ValueError):
    """A source of a kind this version of the bot cannot sync."""


class MissingToken(ValueError):
    """The environment variable a source names for its token is not set."""


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
        if source.kind == "zendesk":
            return ZendeskSource(
                settings.get("subdomain"),
                self._token(source),
                self.session(),
                email=settings.get("email"),
                locale=settings.get("locale"),
                base_url=settings.get("api_url"),
                include_restricted=bool(settings.get("include_restricted")),
                on_progress=progress,
            )
        if source.kind == "notion":
            return NotionSource(
                self._token(source),
                root_page_ids=settings.get("root_page_ids") or (),
                base_url=str(settings.get("api_url") or NOTION_API),
                ca_bundle=self.ca_bundle,
                on_progress=progress,
            )
        if source.kind == "confluence":
            return ConfluenceSource(
                base_url=str(settings["base_url"]),
                space_key=str(settings["space_key"]),
                token=self._token(source),
                session=self.session(),
                email=settings.get("email"),
                on_progress=progress,
            )
        raise UnknownKind(f"this bot cannot sync a source of kind {source.kind!r}")

    @staticmethod
    def _token(source: KbSource) -> str:
        name = str(source.settings.get("token_env") or TOKEN_ENV[source.kind])
        token = secret_named(name)
        if token is None:
            raise MissingToken(
                f"the environment variable {name} is not set: it holds the {source.kind} API"
                " token this source syncs with"
            )
        return token

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
