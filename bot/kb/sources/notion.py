"""Notion as a knowledge source: the pages a Notion integration can read, each as Markdown with
its headings, keyed by the page's id and cited by its Notion URL.

``NotionSource`` reads Notion's REST API through the official ``notion-client`` package
(``AsyncClient``, Notion-Version 2025-09-03) with an internal integration's secret (a bearer
token). It promises:

- Listing: every page shared with the integration, from ``POST /v1/search`` filtered to pages
  (``{"property": "object", "value": "page"}``, 100 a request, ``start_cursor``/``next_cursor``
  to the end). With ``root_page_ids`` only those pages and the pages beneath them count: a
  page's ``parent`` is followed up (``GET /v1/pages/{id}`` and ``GET /v1/blocks/{id}`` for an
  ancestor the search did not list, or a page nested in a toggle or a column) until it reaches
  a root page (kept) or the workspace, a database or a page it cannot read (left out: rows of
  a database inside a root page are not its child pages). A root page is also read directly
  when the search does not list it.
- Skipping: a page's ``last_edited_time`` is its version (``Page.etag``). A page whose stored
  etag equals it is ``Unchanged`` without a single further request. Notion rounds that time to
  the minute, so a page read less than ``settle_seconds`` after its last edit is stored without
  an etag, and read again by the next sync (a second edit in the same minute keeps the time).
- Pages: a new or changed page's blocks are read with ``GET /v1/blocks/{id}/children``
  (paginated, nested blocks followed through ``has_children``) and written as Markdown under
  ``# {title}`` (the page's property of type ``title``): headings one level down, paragraphs,
  bulleted, numbered and to-do lists (nested), toggles, quotes, callouts, fenced code,
  dividers, tables as pipe rows, equations; column layouts and synced blocks by their
  content; rich text as plain text, inline code kept, link targets dropped. Images, files,
  embeds, bookmarks, link previews, tables of contents and breadcrumbs carry no text and are
  dropped; a child page or database is not inlined (a child page is a page of its own).
  ``Page.url`` is the page's ``public_url`` when it is published to the web, else its ``url``.
- Gone: a page in the trash (``in_trash``, or the older ``archived``) and a page the search no
  longer lists (deleted, or no longer shared with the integration) are not yielded: the sync
  engine retires them. So is a listed page whose blocks answer 404 by the time they are read.
- Failures: a page whose blocks cannot be read is ``Failed`` with the reason in plain words,
  and the sync goes on. A search that fails is ``Failed("notion:search", ...)`` and leaves
  ``complete`` False (pages listed before the failure are still read); so does a root page
  that cannot be read (``Failed("notion:root:<id>", ...)``). A root page that is not found
  (deleted, or not shared) is reported the same way but does not stop retiring.
- Rate limits and errors: every request waits ``request_interval`` after the previous one
  (Notion allows an average of three a second). A 429 (``rate_limited``) waits out its
  ``Retry-After`` (capped at ``max_retry_wait`` seconds; 1, 2, 4… without one) and retries up
  to ``max_rate_limit_retries`` times; a 5xx, a timeout or a failed connection is retried
  ``max_server_retries`` times, 1 then 2 seconds apart (or its ``Retry-After``). The client's
  own retries are off, so every wait goes through ``sleep``.

The token needs an internal integration (Settings → Connections → Develop or manage
integrations) with the *Read content* capability, and each page (or a parent of it) shared
with that integration (the page's ••• menu → Connections). No other capability is used: no
user information, no comments, nothing written. The token is sent only as
``Authorization: Bearer …``; it is never logged and never part of a failure's reason.

HTTP: one ``httpx.AsyncClient`` per ``pages`` run, through ``bot.settings.network.proxy_for``'s
proxy for ``base_url`` and trusting ``bot.settings.network.tls_context(ca_bundle)``'s
authorities, reading no proxy variables of its own (``trust_env=False``).
(``bot.settings.network.httpx_client`` is ``openai``'s client class, built on another HTTP
package than the ``httpx`` that ``notion-client`` takes, so it does not fit here.)
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from notion_client import AsyncClient, RequestTimeoutError
from notion_client.errors import HTTPResponseError
from notion_client.helpers import extract_page_id

from bot.kb.sources.base import Failed, Found, Known, Page, Unchanged
from bot.kb.sources.http import retry_after
from bot.settings.network import proxy_for, tls_context

__all__ = ["DEFAULT_BASE_URL", "NotionSource", "blocks_to_markdown"]

log = logging.getLogger(__name__)
# notion-client's own logger: it would log every failed attempt; this module says what matters.
_client_log = logging.getLogger(__name__ + ".client")

DEFAULT_BASE_URL = "https://api.notion.com"
NOTION_VERSION = "2025-09-03"
PAGE_SIZE = 100  # the most Notion returns in one answer
SEARCH_KEY = "notion:search"
MAX_BLOCK_DEPTH = 25  # nested blocks followed this deep, no deeper
MAX_ANCESTRY = 64  # parents followed up from a page to find a root page

Sleep = Callable[[float], Awaitable[None]]
Progress = Callable[[int, int | None], None]
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class NotionSource:
    """The pages of a Notion workspace that an integration can read; see the module docstring.

    ``token`` is the integration's secret (the caller reads it from the environment variable
    the source's settings name). ``root_page_ids`` (ids or Notion URLs) limit the source to
    those pages and the pages beneath them. ``on_progress(done, total)`` is called after each
    page. ``sleep`` is how the source waits (tests make it record), ``clock`` what time it is.
    """

    def __init__(
        self,
        token: str,
        *,
        root_page_ids: Iterable[str] = (),
        base_url: str = DEFAULT_BASE_URL,
        ca_bundle: str | None = None,
        timeout: float = 30.0,
        request_interval: float = 0.35,
        max_rate_limit_retries: int = 5,
        max_server_retries: int = 2,
        max_retry_wait: float = 60.0,
        settle_seconds: float = 120.0,
        on_progress: Progress | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = _utc_now,
    ) -> None:
        if not token or not token.strip():
            raise ValueError("a Notion integration's secret is needed")
        roots = []
        for given in root_page_ids:
            page_id = extract_page_id(str(given))
            if page_id is None:
                raise ValueError(f"not a Notion page id or page URL: {given!r}")
            roots.append(page_id)
        if timeout <= 0 or request_interval < 0 or max_retry_wait < 0:
            raise ValueError("timeout must be positive, request_interval and max_retry_wait >= 0")
        if max_rate_limit_retries < 0 or max_server_retries < 0:
            raise ValueError("retry counts must be >= 0")
        self._token = token.strip()
        self.root_page_ids = tuple(dict.fromkeys(roots))
        self.base_url = base_url.rstrip("/")
        self.ca_bundle = ca_bundle
        self.timeout = timeout
        self.request_interval = request_interval
        self.max_rate_limit_retries = max_rate_limit_retries
        self.max_server_retries = max_server_retries
        self.max_retry_wait = max_retry_wait
        self.settle_seconds = settle_seconds
        self.on_progress = on_progress
        self._sleep = sleep
        self._clock = clock
        self._complete = False
        self._last_request: float | None = None

    def __repr__(self) -> str:  # never the token
        return f"NotionSource(base_url={self.base_url!r}, root_page_ids={self.root_page_ids!r})"

    @property
    def complete(self) -> bool:
        return self._complete

    # ------------------------------------------------------------------ listing

    async def pages(self, known: Mapping[str, Known]) -> AsyncIterator[Found]:
        """Every page of the source, one at a time; ``complete`` is set once this ends.
        Problems with the listing come first, as ``Failed`` keyed ``notion:search`` or
        ``notion:root:<id>``."""
        self._complete = False
        self._last_request = None
        proxy = proxy_for(self.base_url)
        async with httpx.AsyncClient(
            verify=tls_context(self.ca_bundle), proxy=proxy, trust_env=False
        ) as http:
            notion = AsyncClient(
                client=http,
                auth=self._token,
                base_url=self.base_url,
                timeout_ms=int(self.timeout * 1000),
                notion_version=NOTION_VERSION,
                retry=False,  # retried here, so that every wait is bounded and goes via sleep
                logger=_client_log,
                log_level=logging.ERROR,
            )
            run = _Run(self, notion)
            listed, listing_failure = await run.search()
            if listing_failure is not None:
                yield listing_failure
            ran_to_end = listing_failure is None
            if self.root_page_ids:
                candidates: list[dict[str, Any]] = []
                async for found in run.under_roots(listed, candidates):
                    yield found
                ran_to_end = ran_to_end and not run.root_unreadable
            else:
                candidates = list(listed.values())
            candidates = [page for page in candidates if not _gone(page)]
            total = len(candidates)
            for done, page in enumerate(candidates, start=1):
                read = await run.read(page, known)
                if read is not None:
                    yield read
                self._progress(done, total)
        self._complete = ran_to_end

    def _progress(self, done: int, total: int | None) -> None:
        if self.on_progress is not None:
            self.on_progress(done, total)

    # ------------------------------------------------------------------ requests

    async def _call(self, what: str, request: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
        """One API call with the retries the module docstring promises; ``_NotFound`` for a
        404, ``_Failure`` (a reason in plain words) once it cannot succeed."""
        rate_limited = 0
        failed = 0
        while True:
            await self._take_turn()
            retry_after: float | None = None
            try:
                answer = await request()
            except HTTPResponseError as error:
                status = error.status
                code = str(getattr(error.code, "value", error.code))
                retry_after = self._retry_after(error.headers)
                if status == 429 or code == "rate_limited":
                    if rate_limited >= self.max_rate_limit_retries:
                        raise _Failure(
                            "Notion kept limiting the rate of requests (HTTP 429) after"
                            f" {rate_limited} waits"
                        ) from None
                    rate_limited += 1
                    wait = retry_after if retry_after is not None else self._backoff(rate_limited)
                    log.info("Notion rate-limited %s: waiting %.1f s", what, wait)
                    await self._sleep(wait)
                    continue
                if status == 404:
                    raise _NotFound() from None
                if status < 500:
                    raise _Failure(self._scrub(_refusal(status, code, str(error)))) from None
                reason = f"Notion answered HTTP {status}" + (
                    f" ({code})" if code and not code.startswith("notionhq_client") else ""
                )
            except (RequestTimeoutError, httpx.TimeoutException):
                reason = f"Notion did not answer within {self.timeout:g} s"
            except httpx.HTTPError as error:  # the connection, the proxy, TLS
                reason = f"Notion could not be reached ({type(error).__name__})"
            except ValueError:  # a 200 whose body is not JSON
                raise _Failure("Notion's answer was not JSON") from None
            else:
                if not isinstance(answer, dict):
                    raise _Failure("Notion's answer was not a JSON object")
                return answer
            if failed >= self.max_server_retries:
                tries = failed + 1
                raise _Failure(reason + (f", {tries} times" if tries > 1 else ""))
            failed += 1
            wait = retry_after if retry_after is not None else self._backoff(failed)
            log.info("%s: %s; trying again in %.1f s", what, reason, wait)
            await self._sleep(wait)

    def _backoff(self, attempt: int) -> float:
        return float(min(2 ** (attempt - 1), self.max_retry_wait))

    def _retry_after(self, headers: httpx.Headers | None) -> float | None:
        """``Retry-After`` in seconds (a number, or an HTTP date), capped at ``max_retry_wait``."""
        seconds = retry_after((headers or httpx.Headers()).get("retry-after"), now=self._clock())
        return None if seconds is None else min(seconds, self.max_retry_wait)

    async def _take_turn(self) -> None:
        """Wait until ``request_interval`` has passed since the last request."""
        now = asyncio.get_running_loop().time()
        if self._last_request is not None and self.request_interval > 0:
            waited = now - self._last_request
            if waited < self.request_interval:
                await self._sleep(self.request_interval - waited)
        self._last_request = asyncio.get_running_loop().time()

    def _scrub(self, text: str) -> str:
        """``text`` without the token (Notion's messages do not echo it; this makes sure)."""
        return text.replace(self._token, "[the secret]") if self._token in text else text

    def _settled(self, last_edited: str | None) -> bool:
        """Whether the page's last edit is long enough ago that another edit in the same
        minute would have been read too (``last_edited_time`` is rounded to the minute)."""
        when = _parse_time(last_edited)
        if when is None:
            return False
        return (self._clock() - when).total_seconds() >= self.settle_seconds


class _Run:
    """One ``pages`` run: the client, and what was learnt of pages and blocks on the way."""

    def __init__(self, source: NotionSource, notion: AsyncClient) -> None:
        self.source = source
        self.notion = notion
        self.retrieved: dict[str, dict[str, Any] | None] = {}  # pages and blocks by id
        self.unreadable: dict[str, _Failure] = {}  # pages and blocks that could not be read
        self.in_scope: dict[str, bool] = {}
        self.root_unreadable = False

    async def search(self) -> tuple[dict[str, dict[str, Any]], Failed | None]:
        """Every page the search lists, by id, in its order; a ``Failed`` if it broke off."""
        listed: dict[str, dict[str, Any]] = {}
        cursor: str | None = None
        cursors: set[str] = set()
        while True:
            try:
                answer = await self._search_page(cursor)
                cursor = _next_cursor(answer, cursors)
            except (_Failure, _NotFound) as error:
                reason = error.reason if isinstance(error, _Failure) else "the search is not there"
                reason = f"the list of pages could not be read: {reason}"
                log.warning("Notion: %s", reason)
                return listed, Failed(SEARCH_KEY, reason)
            for item in answer.get("results") or []:
                if isinstance(item, dict) and item.get("object") == "page" and item.get("id"):
                    listed.setdefault(str(item["id"]), item)
            if cursor is None:
                return listed, None

    async def _search_page(self, cursor: str | None) -> dict[str, Any]:
        async def request() -> Any:
            return await self.notion.search(
                filter={"property": "object", "value": "page"},
                page_size=PAGE_SIZE,
                start_cursor=cursor,
            )

        return await self.source._call("the search", request)

    # ------------------------------------------------------------------ root pages

    async def under_roots(
        self, listed: dict[str, dict[str, Any]], candidates: list[dict[str, Any]]
    ) -> AsyncIterator[Failed]:
        """Fill ``candidates`` with the root pages and the pages beneath them; yields what
        went wrong (a root that cannot be read, a page whose ancestry cannot be told)."""
        pool = dict(listed)
        for root in self.source.root_page_ids:
            if root in pool:
                continue
            try:
                page = await self._retrieve("page", root)
            except _Failure as error:
                self.root_unreadable = True
                reason = f"the root page could not be read: {error.reason}"
                log.warning("Notion root page %s: %s", root, reason)
                yield Failed(f"notion:root:{root}", reason)
                continue
            if page is None:
                reason = (
                    "the root page was not found: it was deleted, or it is not shared with the"
                    " integration (the page's ••• menu → Connections)"
                )
                log.warning("Notion root page %s: %s", root, reason)
                yield Failed(f"notion:root:{root}", reason)
                continue
            pool[root] = page
        for page_id, page in pool.items():
            try:
                if await self._reaches_root(page, pool):
                    candidates.append(page)
            except _Failure as error:
                reason = f"could not tell whether it is beneath a root page: {error.reason}"
                log.warning("Notion page %s: %s", page_id, reason)
                yield Failed(page_id, reason)
        # Ancestors that the search did not list but that lie beneath a root page are pages too.
        seen = {page["id"] for page in candidates}
        for item_id, item in list(self.retrieved.items()):
            if (
                item is not None
                and item.get("object") == "page"
                and item_id not in seen
                and self.in_scope.get(item_id)
            ):
                candidates.append(item)

    async def _reaches_root(self, page: dict[str, Any], pool: dict[str, dict[str, Any]]) -> bool:
        roots = self.source.root_page_ids
        chain: list[str] = []
        node: dict[str, Any] | None = page
        result = False
        for _ in range(MAX_ANCESTRY):
            if node is None:
                break
            node_id = str(node.get("id"))
            if node_id in roots:
                result = True
                break
            if node_id in self.in_scope:
                result = self.in_scope[node_id]
                break
            if node_id in chain:
                break  # a loop: not beneath any root
            chain.append(node_id)
            parent = node.get("parent") or {}
            kind = parent.get("type")
            if kind == "page_id":
                parent_id = str(parent.get("page_id"))
                node = pool.get(parent_id) or await self._retrieve("page", parent_id)
            elif kind == "block_id":
                node = await self._retrieve("block", str(parent.get("block_id")))
            else:
                break  # the workspace, a database, a data source: no root above
        for node_id in chain:
            self.in_scope[node_id] = result
        return result

    async def _retrieve(self, kind: str, item_id: str) -> dict[str, Any] | None:
        """A page or block object by id (remembered for the run); None when not found."""
        if item_id in self.retrieved:
            return self.retrieved[item_id]
        if item_id in self.unreadable:
            raise self.unreadable[item_id]

        async def request() -> Any:
            if kind == "page":
                return await self.notion.pages.retrieve(page_id=item_id)
            return await self.notion.blocks.retrieve(block_id=item_id)

        try:
            item: dict[str, Any] | None = await self.source._call(f"{kind} {item_id}", request)
        except _NotFound:
            item = None
        except _Failure as error:
            self.unreadable[item_id] = error
            raise
        self.retrieved[item_id] = item
        return item

    # ------------------------------------------------------------------ pages

    async def read(self, page: dict[str, Any], known: Mapping[str, Known]) -> Found | None:
        key = str(page["id"])
        marker = page.get("last_edited_time")
        stored = known.get(key)
        if stored is not None and marker and stored.etag == marker:
            return Unchanged(key)
        title = page_title(page)
        try:
            blocks = await self._children(key, depth=0)
        except _NotFound:
            log.info("Notion page %s (%s) is gone", key, title)
            return None
        except _Failure as error:
            reason = f"its content could not be read: {error.reason}"
            log.warning("Notion page %s (%s): %s", key, title, reason)
            return Failed(key, reason)
        body = blocks_to_markdown(blocks)
        text = f"# {title}\n\n{body}\n" if body else f"# {title}\n"
        return Page(
            key=key,
            title=title,
            text=text,
            url=page.get("public_url") or page.get("url"),
            etag=marker if self.source._settled(marker) else None,
            last_modified=marker,
        )

    async def _children(self, block_id: str, *, depth: int) -> list[dict[str, Any]]:
        """The blocks inside ``block_id``, each with its own under ``"children"``."""
        blocks: list[dict[str, Any]] = []
        cursor: str | None = None
        cursors: set[str] = set()
        while True:
            try:
                answer = await self._children_page(block_id, cursor)
            except _NotFound:
                if depth == 0:
                    raise
                log.debug("Notion block %s: its children are not there (404)", block_id)
                return blocks
            for block in answer.get("results") or []:
                if isinstance(block, dict) and not _gone(block):
                    blocks.append(block)
            cursor = _next_cursor(answer, cursors)
            if cursor is None:
                break
        if depth < MAX_BLOCK_DEPTH:
            for block in blocks:
                if block.get("has_children") and block.get("type") not in _NOT_FOLLOWED:
                    block["children"] = await self._children(str(block["id"]), depth=depth + 1)
        return blocks

    async def _children_page(self, block_id: str, cursor: str | None) -> dict[str, Any]:
        async def request() -> Any:
            return await self.notion.blocks.children.list(
                block_id=block_id, page_size=PAGE_SIZE, start_cursor=cursor
            )

        return await self.source._call(f"the blocks of {block_id}", request)


class _NotFound(Exception):
    """A 404: the page or block is not there (deleted, or not shared with the integration)."""


class _Failure(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _next_cursor(answer: Mapping[str, Any], seen: set[str]) -> str | None:
    """Where the next page of results starts; None after the last one."""
    given = answer.get("next_cursor")
    if not answer.get("has_more") or not given:
        return None
    cursor = str(given)
    if cursor in seen:
        raise _Failure("Notion returned the same page of results twice")
    seen.add(cursor)
    return cursor


def _refusal(status: int, code: str, message: str) -> str:
    """Why Notion refused a request (a 4xx other than 404 and 429), in plain words."""
    if status == 401 or code == "unauthorized":
        return (
            "Notion refused the integration's secret (HTTP 401): it is wrong, or the"
            " integration was removed"
        )
    if status == 403 or code == "restricted_resource":
        return (
            "the integration may not read this (HTTP 403 restricted_resource): give it the"
            " 'Read content' capability"
        )
    message = " ".join(message.split())[:200]
    return f"Notion refused the request (HTTP {status} {code}): {message}"


def _gone(item: Mapping[str, Any]) -> bool:
    return bool(item.get("in_trash") or item.get("archived") or item.get("is_archived"))


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


# ---------------------------------------------------------------------- Markdown

# Blocks whose children are other pages or databases: never read as this page's text.
_NOT_FOLLOWED = frozenset({"child_page", "child_database"})
# Blocks that carry no text of their own (their children, if any, are not read either).
_DROPPED = frozenset(
    {
        "image",
        "video",
        "audio",
        "file",
        "pdf",
        "embed",
        "bookmark",
        "link_preview",
        "link_to_page",
        "table_of_contents",
        "breadcrumb",
        "child_page",
        "child_database",
        "template",
        "unsupported",
    }
)
_LIST_ITEMS = frozenset({"bulleted_list_item", "numbered_list_item", "to_do"})
_HEADINGS = {"heading_1": 2, "heading_2": 3, "heading_3": 4, "heading_4": 5}
_LOOKS_LIKE_MARKUP = re.compile(r"^(#{1,6}(\s|$)|```|~~~)")


def page_title(page: Mapping[str, Any]) -> str:
    """The page's title: its property of type ``title`` (whatever it is called)."""
    for prop in (page.get("properties") or {}).values():
        if isinstance(prop, dict) and prop.get("type") == "title":
            title = " ".join(rich_text(prop.get("title"), code=False).split())
            if title:
                return title
    return "Untitled"


def rich_text(items: Any, *, code: bool = True) -> str:
    """Notion rich text as plain text: mentions and equations by their text, inline code in
    backticks (unless ``code`` is False), link targets dropped."""
    parts = []
    for item in items or []:
        if not isinstance(item, dict):
            continue
        text = item.get("plain_text")
        if text is None:
            text = (item.get("text") or {}).get("content", "")
        text = str(text)
        if code and text.strip() and (item.get("annotations") or {}).get("code"):
            fence = "``" if "`" in text else "`"
            pad = " " if text.startswith("`") or text.endswith("`") else ""
            text = f"{fence}{pad}{text}{pad}{fence}"
        parts.append(text)
    return "".join(parts)


def blocks_to_markdown(blocks: list[dict[str, Any]]) -> str:
    """Notion blocks (each with its nested blocks under ``"children"``) as Markdown; the page's
    headings become ``##`` to ``#####``, under the ``#`` of its title."""
    return _join(_render(blocks))


@dataclass(frozen=True)
class _Piece:
    text: str
    list_item: bool = False


def _join(pieces: list[_Piece]) -> str:
    out = ""
    previous: _Piece | None = None
    for piece in pieces:
        if previous is not None:
            out += "\n" if previous.list_item and piece.list_item else "\n\n"
        out += piece.text
        previous = piece
    return out.strip("\n")


def _render(blocks: list[dict[str, Any]]) -> list[_Piece]:
    pieces: list[_Piece] = []
    number = 0
    for block in blocks:
        kind = str(block.get("type") or "")
        number = number + 1 if kind == "numbered_list_item" else 0
        if kind == "numbered_list_item" and number == 1:
            start = (block.get(kind) or {}).get("list_start_index")
            number = start if isinstance(start, int) and start >= 0 else 1
        pieces.extend(_block(block, kind, number))
    return pieces


def _block(block: dict[str, Any], kind: str, number: int) -> list[_Piece]:
    content = block.get(kind) or {}
    children: list[dict[str, Any]] = block.get("children") or []
    if kind in _DROPPED:
        return []
    if kind in _HEADINGS:
        text = " ".join(rich_text(content.get("rich_text")).split())
        heading = [_Piece("#" * _HEADINGS[kind] + " " + text)] if text else []
        return heading + _render(children)  # a toggleable heading's content
    if kind in _LIST_ITEMS:
        if kind == "bulleted_list_item":
            marker, pad = "- ", "  "
        elif kind == "numbered_list_item":
            marker = f"{number}. "
            pad = " " * len(marker)
        else:
            marker, pad = ("- [x] " if content.get("checked") else "- [ ] "), "  "
        text = rich_text(content.get("rich_text"))
        return [_Piece(_list_item(marker, pad, text, children), list_item=True)]
    if kind == "code":
        return [_Piece(_fenced(rich_text(content.get("rich_text"), code=False), content))]
    if kind == "equation":
        expression = str(content.get("expression") or "").strip()
        return [_Piece(f"$$\n{expression}\n$$")] if expression else []
    if kind == "divider":
        return [_Piece("---")]
    if kind == "table":
        return _table(content, children)
    if kind in ("quote", "callout"):
        inner = [_Piece(_escaped(rich_text(content.get("rich_text")))), *_render(children)]
        quoted = _join([piece for piece in inner if piece.text.strip()])
        if not quoted:
            return []
        return [_Piece("\n".join(f"> {line}".rstrip() for line in quoted.splitlines()))]
    # paragraph, toggle, column_list, column, synced_block, and any newer kind with text
    own = _escaped(rich_text(content.get("rich_text") if isinstance(content, dict) else None))
    return ([_Piece(own)] if own.strip() else []) + _render(children)


def _list_item(marker: str, pad: str, text: str, children: list[dict[str, Any]]) -> str:
    """A list item: its text after ``marker``, its further lines and nested blocks indented
    by ``pad`` (the width of the marker, so they stay inside the item)."""
    lines = (text or "").splitlines() or [""]
    item = marker + lines[0] + "".join(f"\n{pad}{line}" if line else "\n" for line in lines[1:])
    nested = _render(children)
    if nested:
        body = _join(nested)
        gap = "\n" if nested[0].list_item else "\n\n"
        item += gap + "\n".join(pad + line if line else "" for line in body.splitlines())
    return item.rstrip()


def _fenced(code: str, content: Mapping[str, Any]) -> str:
    language = str(content.get("language") or "").strip()
    if language in ("plain text", "plain_text", "text"):
        language = ""
    longest = max((len(run) for run in re.findall(r"`{3,}", code)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language.replace(' ', '-')}\n{code.rstrip()}\n{fence}"


def _table(content: Mapping[str, Any], rows: list[dict[str, Any]]) -> list[_Piece]:
    lines = []
    for index, row in enumerate(r for r in rows if r.get("type") == "table_row"):
        cells = [
            " ".join(rich_text(cell).split()).replace("|", "\\|")
            for cell in (row.get("table_row") or {}).get("cells") or []
        ]
        lines.append("| " + " | ".join(cells) + " |")
        if index == 0 and content.get("has_column_header"):
            lines.append("|" + "|".join(" --- " for _ in cells) + "|")
    return [_Piece("\n".join(lines))] if lines else []


def _escaped(text: str) -> str:
    """Text whose lines must not read as a heading or a code fence (``# not a heading``)."""
    return "\n".join(
        "\\" + line if _LOOKS_LIKE_MARKUP.match(line) else line for line in text.splitlines()
    )
