"""A Confluence Cloud space as a knowledge source: its current pages, each as Markdown with its
headings, keyed by the page's id and cited by the page's own link.

``ConfluenceSource`` reads one space through the Confluence Cloud REST API v2:

- ``GET /wiki/api/v2/spaces?keys=KEY`` finds the space's id;
- ``GET /wiki/api/v2/spaces/{id}/pages?status=current&limit=250`` lists its pages without their
  bodies, following the ``_links.next`` cursor (or the ``Link`` header) to the end;
- ``GET /wiki/api/v2/pages/{id}?body-format=storage`` reads the body of a page that is new or
  whose version changed. A page whose ``version.number`` is the one the last sync stored
  (``Known.etag``) is ``Unchanged`` and costs no request of its own.

Credentials: with ``email``, an Atlassian API token sent as HTTP Basic ``email:token`` (Cloud);
without, a bearer token (a personal access token). The account needs the "Can use" product
access to Confluence and the "View" permission on the space; it sees exactly the pages that
account may open, so use a dedicated account that can see only what customers may be answered
from (a page restricted away from it is never read). A scoped API token needs
``read:space:confluence`` and ``read:page:confluence`` and must be used through Atlassian's
gateway: ``base_url`` ``https://api.atlassian.com/ex/confluence/{cloudId}`` instead of
``https://acme.atlassian.net``. The token is never logged nor put in any reason given.

What is yielded:

- a ``Page`` per current page: key its id, title its title, url ``_links.base`` +
  ``_links.webui`` (what a reader opens), etag its version number, text ``# {title}`` and the
  body converted from the storage format (XHTML with ``ac:``/``ri:`` macros) to Markdown:
  headings, paragraphs, nested lists, task lists, code blocks, quotes, tables as pipe rows, the
  bodies of info/note/warning/tip/panel/expand callouts and of the editor's panels; macros that
  carry no text of their own (table of contents, Jira issues, attachments, child pages),
  images, emoticons and user mentions are dropped, a link keeps its text;
- nothing for pages that are not current (archived, trashed, deleted, drafts), that the account
  may not view, that disappear between the listing and the read (a 404), or that have no
  readable text at all: after a complete listing the sync retires them;
- ``Failed(page id, reason)`` for a page whose body could not be read after retries; the listing
  goes on.

Requests: one at a time through ``proxy_for``'s proxy on the caller's aiohttp session. A 429
waits ``Retry-After`` seconds (``X-RateLimit-Reset`` or a backoff when it is missing, at most
``max_retry_wait``) and is retried up to ``rate_limit_retries`` times; a 5xx, a timeout or a
connection error is retried ``server_retries`` times with a doubling backoff. ``complete`` is
True only when the space was found and its whole listing read; otherwise a ``Failed`` keyed by
the space's URL says why, and nothing is retired.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import aiohttp
from bs4 import BeautifulSoup, Tag
from bs4.element import NavigableString
from markdownify import ATX, MarkdownConverter

from bot.kb.sources.base import Failed, Found, Known, Page, Unchanged
from bot.kb.sources.http import retry_after, scrub, token_authorization
from bot.kb.sources.website import DEFAULT_USER_AGENT
from bot.settings.network import proxy_for

__all__ = ["ConfluenceSource", "storage_to_markdown"]

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 250  # the v2 API's largest ``limit``
MAX_LISTING_REQUESTS = 10_000  # a cursor that never ends is a bug, not a space

Sleep = Callable[[float], Awaitable[None]]
Progress = Callable[[int, int | None], None]


class ConfluenceSource:
    """The current pages of one Confluence Cloud space; see the module docstring.

    ``base_url`` is the site (``https://acme.atlassian.net``; a trailing ``/wiki`` is fine) or
    Atlassian's gateway for a scoped token. ``token`` is the secret's value (the caller reads it
    from the environment). ``session`` is the caller's (``bot.settings.network.aiohttp_session``:
    its timeout bounds each request). ``on_progress(done, total)`` is called after each page.
    ``sleep`` is how the source waits before a retry (tests make it record instead).
    """

    def __init__(
        self,
        base_url: str,
        space_key: str,
        token: str,
        session: aiohttp.ClientSession,
        *,
        email: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        rate_limit_retries: int = 5,
        server_retries: int = 2,
        max_retry_wait: float = 60.0,
        retry_backoff: float = 1.0,
        user_agent: str = DEFAULT_USER_AGENT,
        on_progress: Progress | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        parts = urlsplit(base_url.strip())
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"not an http or https URL: {base_url!r}")
        if not space_key.strip():
            raise ValueError("a Confluence source needs a space key")
        if not token.strip():
            raise ValueError("a Confluence source needs an API token")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        if min(rate_limit_retries, server_retries) < 0 or max_retry_wait < 0 or retry_backoff < 0:
            raise ValueError("retries and waits cannot be negative")
        path = parts.path.rstrip("/")
        path = path.removesuffix("/wiki")
        self.base_url = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, "", ""))
        self.origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        self.api = self.base_url + "/wiki/api/v2"
        self.space_key = space_key.strip()
        self.space_url = f"{self.base_url}/wiki/spaces/{quote(self.space_key)}"
        self.page_size = page_size
        self.rate_limit_retries = rate_limit_retries
        self.server_retries = server_retries
        self.max_retry_wait = max_retry_wait
        self.retry_backoff = retry_backoff
        self.on_progress = on_progress
        self._session = session
        self._sleep = sleep
        self._complete = False
        token = token.strip()
        email = (email or "").strip() or None
        authorization, self._secrets = token_authorization(token, basic_user=email)
        self._headers = {
            "Authorization": authorization,
            "Accept": "application/json",
            "User-Agent": user_agent,
        }
        self._uses_email = bool(email)

    def __repr__(self) -> str:  # never the token
        return f"ConfluenceSource({self.base_url!r}, space {self.space_key!r})"

    @property
    def complete(self) -> bool:
        return self._complete

    # ------------------------------------------------------------------ listing

    async def pages(self, known: Mapping[str, Known]) -> AsyncIterator[Found]:
        """Every current page of the space, one request at a time; ``complete`` is set once the
        space's whole listing was read. A listing problem comes first, keyed by the space URL."""
        self._complete = False
        try:
            space_id, problem = await self._find_space()
        except _ApiError as error:
            space_id, problem = None, f"the space could not be looked up: {error.reason}"
        if space_id is None:
            yield self._listing_failed(problem or "the space could not be found")
            return
        listing = await self._list(space_id)
        if listing.problem is not None:
            yield self._listing_failed(listing.problem)
        total = len(listing.pages)
        for done, listed in enumerate(listing.pages.values(), start=1):
            stored = known.get(listed.id)
            if stored is not None and listed.version is not None and stored.etag == listed.version:
                yield Unchanged(listed.id)
            else:
                found = await self._page(listed, listing.base)
                if found is not None:
                    yield found
            self._progress(done, total)
        self._complete = listing.problem is None

    def _listing_failed(self, reason: str) -> Failed:
        reason = self._scrub(reason)
        log.warning("Confluence space %s: %s", self.space_url, reason)
        return Failed(self.space_url, reason)

    async def _find_space(self) -> tuple[str | None, str | None]:
        """The space's id, or None and why not."""
        url = f"{self.api}/spaces?keys={quote(self.space_key)}&limit=1"
        reply = await self._get(url)
        if reply.status != 200:
            return None, self._refused(reply, "the space could not be looked up")
        body = reply.json()
        for space in _results(body):
            if str(space.get("key", "")).casefold() == self.space_key.casefold() and space.get(
                "id"
            ):
                return str(space["id"]), None
        return None, (
            f"there is no space with the key {self.space_key}, or the account the token"
            " belongs to may not view it"
        )

    async def _list(self, space_id: str) -> _Listing:
        """The space's current pages, without bodies, across every page of results."""
        listing = _Listing(base=self.base_url + "/wiki")
        url: str | None = (
            f"{self.api}/spaces/{quote(space_id)}/pages?status=current&limit={self.page_size}"
        )
        asked: set[str] = set()
        while url is not None:
            if url in asked or len(asked) >= MAX_LISTING_REQUESTS:
                listing.problem = "the listing of pages never ended (the same page came back)"
                return listing
            asked.add(url)
            try:
                reply = await self._get(url)
                if reply.status != 200:
                    listing.problem = self._refused(reply, "the list of pages could not be read")
                    return listing
                body = reply.json()
            except _ApiError as error:
                listing.problem = f"the list of pages could not be read: {error.reason}"
                return listing
            links = body.get("_links") if isinstance(body, dict) else None
            links = links if isinstance(links, dict) else {}
            if isinstance(links.get("base"), str) and links["base"]:
                listing.base = links["base"]
            for item in _results(body):
                listed = _listed(item)
                if listed is not None:
                    listing.pages[listed.id] = listed
            following = links.get("next") if isinstance(links.get("next"), str) else None
            following = following or _link_next(reply.headers.get("link", ""))
            if not following:
                return listing
            url = self._resolve(following)
            if url is None:
                listing.problem = (
                    "the next page of results is on another site, so it was not followed"
                )
                return listing
        return listing

    def _resolve(self, link: str) -> str | None:
        """A ``next`` link as a URL, or None when it leads off the site (the credentials go
        with every request). Relative links are the API's own (``/wiki/api/v2/...``), taken
        from the base URL, so Atlassian's gateway keeps its ``/ex/confluence/{cloudId}``."""
        if link.startswith("/wiki/"):
            return self.base_url + link
        url = urljoin(self.api + "/", link)
        parts = urlsplit(url)
        if f"{parts.scheme.lower()}://{parts.netloc.lower()}" != self.origin:
            return None
        return url

    # ------------------------------------------------------------------ one page

    async def _page(self, listed: _Listed, base: str) -> Found | None:
        """The page with its body, a ``Failed``, or None when it is gone or has no text."""
        url = f"{self.api}/pages/{quote(listed.id)}?body-format=storage"
        try:
            reply = await self._get(url)
            if reply.status in {404, 410}:
                log.info("Confluence page %s is gone since it was listed", listed.id)
                return None
            if reply.status != 200:
                return self._failed(listed.id, self._refused(reply, "the page could not be read"))
            data = reply.json()
        except _ApiError as error:
            return self._failed(listed.id, f"the page could not be read: {error.reason}")
        if not isinstance(data, dict):
            return self._failed(listed.id, "Confluence answered with something that is not a page")
        if data.get("status", "current") != "current":
            return None  # archived, trashed or deleted since it was listed
        title = str(data.get("title") or listed.title or listed.id).strip()
        storage = _dig(data, "body", "storage", "value")
        try:
            markdown = await asyncio.to_thread(
                storage_to_markdown, storage if isinstance(storage, str) else ""
            )
        except Exception as error:  # a converter's bug on one page must not end the sync
            log.exception("converting Confluence page %s failed", listed.id)
            return self._failed(
                listed.id, f"the page's content could not be converted ({_describe(error)})"
            )
        if not markdown:
            log.info("Confluence page %s has no readable text: skipped", listed.id)
            return None
        version = _dig(data, "version", "number")
        modified = _dig(data, "version", "createdAt")
        return Page(
            key=listed.id,
            title=title,
            text=f"# {title}\n\n{markdown}",
            url=self._page_url(data, listed, base),
            etag=str(version) if isinstance(version, int) else listed.version,
            last_modified=modified if isinstance(modified, str) else None,
        )

    def _page_url(self, data: dict[str, Any], listed: _Listed, base: str) -> str:
        """``_links.base`` + ``_links.webui``: the page as readers open it."""
        site = _dig(data, "_links", "base")
        webui = _dig(data, "_links", "webui")
        site = (site if isinstance(site, str) and site else base).rstrip("/")
        webui = webui if isinstance(webui, str) and webui else listed.webui
        if webui:
            return webui if "://" in webui else site + "/" + webui.lstrip("/")
        return f"{site}/pages/viewpage.action?pageId={quote(listed.id)}"

    def _failed(self, key: str, reason: str) -> Failed:
        reason = self._scrub(reason)
        log.warning("Confluence page %s: %s", key, reason)
        return Failed(key, reason)

    # ------------------------------------------------------------------ requests

    async def _get(self, url: str) -> _Reply:
        """GET ``url`` with the credentials: a 429 waits and is retried, so is a 5xx, a timeout
        or a connection error (fewer times); any other answer is returned. Raises ``_ApiError``
        once the retries are spent."""
        rate_limited = failures = 0
        while True:
            wait: float | None = None
            try:
                async with self._session.get(
                    url, headers=self._headers, proxy=proxy_for(url), allow_redirects=False
                ) as response:
                    status = response.status
                    headers = _lowered(response.headers.items())
                    raw = await response.read()
            except TimeoutError:
                problem = "Confluence did not answer in time"
            except aiohttp.ClientError as error:
                problem = f"the request failed ({_describe(error)})"
            else:
                if status == 429:
                    if rate_limited >= self.rate_limit_retries:
                        raise _ApiError(
                            "Confluence kept answering 429 (too many requests) after"
                            f" {rate_limited} retries; the next sync tries again"
                        )
                    rate_limited += 1
                    wait = _retry_after(headers)
                    if wait is None:
                        wait = self.retry_backoff * 2 ** (rate_limited + 1)
                    wait = min(wait, self.max_retry_wait)
                    log.info("Confluence asks to slow down (429): waiting %.1f s", wait)
                    await self._sleep(wait)
                    continue
                if status < 500:
                    return _Reply(status, headers, raw)
                problem = f"Confluence answered HTTP {status}{_detail(raw)}"
                wait = _retry_after(headers)
            if failures >= self.server_retries:
                tries = failures + 1
                raise _ApiError(problem + (f" ({tries} tries)" if tries > 1 else ""))
            if wait is None:
                wait = self.retry_backoff * 2**failures
            failures += 1
            wait = min(wait, self.max_retry_wait)
            log.info(
                "Confluence request failed (%s): retrying in %.1f s", self._scrub(problem), wait
            )
            await self._sleep(wait)

    def _refused(self, reply: _Reply, what: str) -> str:
        """Why an answer that is not a 200 (nor retried) stops ``what``, in plain words."""
        detail = _detail(reply.body)
        if reply.status == 401:
            check = "the API token and the email" if self._uses_email else "the access token"
            return f"{what}: Confluence did not accept the credentials (HTTP 401); check {check}"
        if reply.status == 403:
            return f"{what}: the account the token belongs to is not allowed to (HTTP 403{detail})"
        if reply.status == 404:
            return f"{what}: Confluence has no such thing (HTTP 404{detail})"
        if 300 <= reply.status < 400:
            where = reply.headers.get("location", "elsewhere")
            return f"{what}: Confluence redirected to {where} (HTTP {reply.status}), not followed"
        return f"{what}: Confluence answered HTTP {reply.status}{detail}"

    def _scrub(self, text: str) -> str:
        return scrub(text, self._secrets, mark="[hidden]")

    def _progress(self, done: int, total: int | None) -> None:
        if self.on_progress is not None:
            self.on_progress(done, total)


# ---------------------------------------------------------------------- small helpers


@dataclass(frozen=True)
class _Listed:
    id: str
    title: str
    version: str | None
    webui: str | None


@dataclass
class _Listing:
    base: str  # the site, for page links: the listing's ``_links.base``
    pages: dict[str, _Listed] = field(default_factory=dict)
    problem: str | None = None


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: dict[str, str]  # lower-case names, repeated headers joined with ", "
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise _ApiError(
                f"Confluence answered HTTP {self.status} with something that is not JSON"
            ) from None


class _ApiError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _results(body: Any) -> list[dict[str, Any]]:
    results = body.get("results") if isinstance(body, dict) else None
    return [r for r in results if isinstance(r, dict)] if isinstance(results, list) else []


def _listed(item: dict[str, Any]) -> _Listed | None:
    """A listed page, or None for one that is not current (or has no id)."""
    if item.get("id") is None or item.get("status", "current") != "current":
        return None
    number = _dig(item, "version", "number")
    webui = _dig(item, "_links", "webui")
    return _Listed(
        id=str(item["id"]),
        title=str(item.get("title") or ""),
        version=str(number) if isinstance(number, int) else None,
        webui=webui if isinstance(webui, str) else None,
    )


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


_LINK_NEXT = re.compile(r"<([^>]*)>\s*;[^,]*\brel\s*=\s*\"?next\"?", re.IGNORECASE)


def _lowered(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    lowered: dict[str, str] = {}
    for name, value in headers:
        name = name.lower()
        lowered[name] = f"{lowered[name]}, {value}" if name in lowered else value
    return lowered


def _link_next(header: str) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header, as written (relative or not)."""
    match = _LINK_NEXT.search(header)
    return match.group(1).strip() if match else None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait: ``Retry-After`` (seconds or an HTTP date), else ``X-RateLimit-Reset``
    (an ISO 8601 time); None when neither says. ``headers`` has lower-case names."""
    seconds = retry_after(headers.get("retry-after"))
    if seconds is not None:
        return seconds
    reset = headers.get("x-ratelimit-reset", "").strip()
    if reset:
        try:
            when = datetime.fromisoformat(reset.replace("Z", "+00:00"))
        except ValueError:
            return None
        when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return None


def _detail(raw: bytes) -> str:
    """What an error body says, as ``": title"`` (Confluence's ``{"errors": [{"title": ...}]}``
    or ``{"message": ...}``), or nothing."""
    try:
        body = json.loads(raw)
    except ValueError:
        return ""
    said: Any = None
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            said = errors[0].get("title") or errors[0].get("detail")
        said = said or body.get("message")
    if not isinstance(said, str) or not said.strip():
        return ""
    return ": " + " ".join(said.split())[:200]


def _describe(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# ---------------------------------------------------------------------- storage format

# Macros whose body is a callout: a quote, headed by its title or its kind.
_CALLOUTS = {"info": "Info", "note": "Note", "warning": "Warning", "tip": "Tip", "panel": ""}
# Macros whose plain-text body is code.
_CODE_MACROS = frozenset({"code", "noformat"})
# Elements that carry no readable text.
_DROPPED = frozenset(
    {
        "ac:image",
        "ac:emoticon",
        "ac:placeholder",
        "ac:parameter",
        "ac:task-id",
        "ac:task-uuid",
        "ac:task-status",
        "ac:adf-attribute",
        "ac:adf-fallback",
        "img",
        "script",
        "style",
        "iframe",
        "object",
        "embed",
        "video",
        "audio",
        "picture",
        "svg",
        "canvas",
        "map",
    }
)
_LAYOUT = frozenset({"ac:layout", "ac:layout-section", "ac:layout-cell", "ac:rich-text-body"})
_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.DOTALL)
_HEADING_LIKE = re.compile(r"^(\s*)(#{1,6})(?=\s|$)")
_BLANK_RUNS = re.compile(r"\n{3,}")


def storage_to_markdown(storage: str) -> str:
    """Confluence's storage format (XHTML with ``ac:``/``ri:`` elements) as Markdown: macros
    that carry text become what they mean, the rest is dropped (see the module docstring)."""
    if not storage.strip():
        return ""
    # CDATA (code macros' bodies) as escaped text, the same for every HTML parser.
    storage = _CDATA.sub(lambda m: html.escape(m.group(1), quote=False), storage)
    soup = BeautifulSoup(storage, "html.parser")
    _clean(soup, soup)
    _escape_heading_like(soup)
    markdown = MarkdownConverter(
        heading_style=ATX,
        bullets="-",
        escape_asterisks=False,
        escape_underscores=False,
        escape_misc=False,
        table_infer_header=True,
        code_language_callback=_code_language,
    ).convert_soup(soup)
    lines = [line.rstrip() for line in markdown.replace("\xa0", " ").strip().splitlines()]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def _escape_heading_like(soup: BeautifulSoup) -> None:
    """Text that would read as a heading once it starts a line (``# of seats``) is escaped."""
    for string in soup.find_all(string=_HEADING_LIKE):
        if isinstance(string, NavigableString) and string.find_parent(["pre", "code"]) is None:
            string.replace_with(NavigableString(_HEADING_LIKE.sub(r"\1\\\2", string, count=1)))


def _code_language(element: Tag) -> str | None:
    language = element.get("data-language")
    return language if isinstance(language, str) and language else None


def _attr(element: Tag, name: str) -> str:
    value = element.get(name)
    if isinstance(value, list):
        return " ".join(value)
    return value or ""


def _children(element: Tag, name: str) -> list[Tag]:
    return [c for c in element.find_all(name, recursive=False) if isinstance(c, Tag)]


def _parameter(macro: Tag, name: str) -> str:
    for parameter in _children(macro, "ac:parameter"):
        if _attr(parameter, "ac:name") == name:
            return parameter.get_text().strip()
    return ""


def _clean(soup: BeautifulSoup, element: Tag) -> None:
    """Turn the ``ac:``/``ri:`` elements under ``element`` into plain HTML, or drop them."""
    for child in list(element.children):
        if not isinstance(child, Tag):
            continue
        replacement = _replace(soup, child)
        if replacement is None:
            child.decompose()
        elif replacement is child:
            _clean(soup, child)
        else:
            child.replace_with(replacement)
            _clean(soup, replacement)


def _replace(soup: BeautifulSoup, element: Tag) -> Tag | None:
    """What ``element`` becomes: itself (plain HTML, cleaned in turn), another element (whose
    contents are cleaned next), or None (dropped)."""
    name = element.name
    if name in _DROPPED or name.startswith("ri:"):
        return None
    if not name.startswith(("ac:", "at:")):
        if name == "time" and not element.get_text().strip():
            return _text(soup, "span", _attr(element, "datetime"))
        return element
    if name in {"ac:structured-macro", "ac:macro"}:
        return _macro(soup, element)
    if name in _LAYOUT:
        return _moved(soup, "div", element)
    if name == "ac:link":
        return _link(soup, element)
    if name == "ac:task-list":
        listing = soup.new_tag("ul")
        for task in _children(element, "ac:task"):
            listing.append(_task(soup, task))
        return listing
    if name == "ac:task":
        return _task(soup, element)
    if name == "ac:adf-extension":
        return _adf(soup, element)
    if name == "ac:inline-comment-marker":
        return _moved(soup, "span", element)
    # Anything else of Confluence's own: its text, if any.
    return _moved(soup, "span", element)


def _moved(soup: BeautifulSoup, tag: str, source: Tag) -> Tag:
    """A new ``tag`` holding ``source``'s contents."""
    target = soup.new_tag(tag)
    for content in list(source.contents):
        target.append(content.extract())
    return target


def _text(soup: BeautifulSoup, tag: str, text: str) -> Tag:
    element = soup.new_tag(tag)
    element.string = text
    return element


def _macro(soup: BeautifulSoup, macro: Tag) -> Tag | None:
    name = _attr(macro, "ac:name").lower()
    rich = _children(macro, "ac:rich-text-body")
    plain = _children(macro, "ac:plain-text-body")
    if name in _CODE_MACROS:
        if not plain:
            return None
        block = _text(soup, "pre", plain[0].get_text())
        language = _parameter(macro, "language")
        if language:
            block["data-language"] = language
        return block
    if name == "status":
        title = _parameter(macro, "title")
        return _text(soup, "span", f"[{title}]") if title else None
    if not rich:
        return None  # toc, jira, attachments, children, include...: nothing to read here
    body = _moved(soup, "div", rich[0])
    title = _parameter(macro, "title")
    if name in _CALLOUTS:
        quote_block = soup.new_tag("blockquote")
        heading = title or _CALLOUTS[name]
        if heading:
            lead = soup.new_tag("p")
            lead.append(_text(soup, "strong", heading))
            quote_block.append(lead)
        quote_block.append(body)
        return quote_block
    if title and name == "expand":
        lead = soup.new_tag("p")
        lead.append(_text(soup, "strong", title))
        body.insert(0, lead)
    return body


def _link(soup: BeautifulSoup, link: Tag) -> Tag | None:
    """A link to a page, an attachment or a place: its text (there is no URL to give)."""
    body = _children(link, "ac:link-body")
    if body:
        return _moved(soup, "span", body[0])
    plain = _children(link, "ac:plain-text-link-body")
    if plain and plain[0].get_text().strip():
        return _text(soup, "span", plain[0].get_text())
    for child in link.find_all(True, recursive=False):
        if not isinstance(child, Tag):
            continue
        for attribute in ("ri:content-title", "ri:filename", "ri:value", "ri:space-key"):
            if _attr(child, attribute):
                return _text(soup, "span", _attr(child, attribute))
    anchor = _attr(link, "ac:anchor")
    return _text(soup, "span", anchor) if anchor else None


def _task(soup: BeautifulSoup, task: Tag) -> Tag:
    item = soup.new_tag("li")
    done = any(s.get_text().strip() == "complete" for s in _children(task, "ac:task-status"))
    item.append(NavigableString("[x] " if done else "[ ] "))
    for body in _children(task, "ac:task-body"):
        for content in list(body.contents):
            item.append(content.extract())
    return item


def _adf(soup: BeautifulSoup, extension: Tag) -> Tag | None:
    """The editor's own nodes (custom panels, decisions): their content; a panel as a quote."""
    nodes = _children(extension, "ac:adf-node")
    if not nodes:
        fallback = _children(extension, "ac:adf-fallback")
        return _moved(soup, "div", fallback[0]) if fallback else None
    node = nodes[0]
    contents = _children(node, "ac:adf-content")
    body = soup.new_tag("div")
    for content in contents:
        for piece in list(content.contents):
            body.append(piece.extract())
    for inner in _children(node, "ac:adf-node"):  # a decision list's items
        item = soup.new_tag("p")
        for content in _children(inner, "ac:adf-content"):
            for piece in list(content.contents):
                item.append(piece.extract())
        body.append(item)
    if _attr(node, "type") == "panel":
        quote_block = soup.new_tag("blockquote")
        quote_block.append(body)
        return quote_block
    return body
