"""A website or help centre as a knowledge source: the pages under one URL prefix, each as
Markdown with its headings, keyed and cited by its own URL.

``WebsiteSource`` lists the pages from the site's sitemap (the ``Sitemap:`` lines of
robots.txt, else ``/sitemap.xml``; sitemap indexes are followed) or, without one, by
crawling links from the start URL. It promises:

- Scope: only URLs with the start URL's scheme, host and port whose path starts with the start
  URL's directory (``https://help.example.com/docs/start.html`` → ``/docs/``) are fetched,
  including redirect targets; robots.txt and sitemaps are read from the same origin only.
- robots.txt is obeyed for our user agent (Disallow/Allow, and a ``Crawl-delay`` or
  ``Request-rate`` slower than ``crawl_delay``). Without one (a 4xx) everything in scope may be
  fetched; when it cannot be read (a 5xx, a 429, a timeout) nothing is.
- Politeness: one request at a time, ``crawl_delay`` seconds apart, and a page body is never
  read past ``max_page_bytes``.
- Pages: a 304 to the conditional request built from ``Known`` is ``Unchanged``, so is a page
  whose sitemap ``<lastmod>`` is not later than the Last-Modified stored for it (no request at
  all; ``trust_lastmod=False`` turns that off). Every 200 is a ``Page``, even when its text is
  what the last sync stored: the sync engine compares content hashes, and stores the page's new
  ETag. A 404 or 410, a redirect out of scope and a URL robots.txt disallows are not part of
  the source (nothing is yielded: the engine retires them). Anything else is ``Failed`` with the
  reason in plain words.
- ``complete`` is True only after a listing that ran to its end: not when ``max_pages`` cut it
  short, robots.txt or a sitemap could not be read, or the start page of a crawl could not be.

Listing and retiring: a sitemap is taken as the whole list of pages. A crawl also re-checks
every page the last sync stored (``known``), because a 304 carries no links to follow: a page
that still exists stays even when nothing links to it any more, until it is removed (404).
"""

from __future__ import annotations

import asyncio
import logging
import re
import zlib
from collections import deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Container,
    Iterable,
    Mapping,
)
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser
from xml.etree.ElementTree import Element, ParseError

import aiohttp
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as parse_xml

from bot.kb.sources.base import Failed, Found, Known, Page, Unchanged
from bot.settings.network import proxy_for

if TYPE_CHECKING:
    from multidict import CIMultiDictProxy

__all__ = ["DEFAULT_USER_AGENT", "WebsiteSource"]

log = logging.getLogger(__name__)

DEFAULT_USER_AGENT = "support-bot (+knowledge sync)"

MAX_REDIRECTS = 5
MAX_SITEMAP_DEPTH = 3  # an index of indexes of sitemaps, no deeper
MAX_SITEMAPS = 100  # sitemap documents read in one listing
MAX_SITEMAP_BYTES = 50_000_000  # the sitemap protocol's own limit, uncompressed
MAX_ROBOTS_BYTES = 512_000  # RFC 9309: at least 500 KiB is read, the rest may be ignored

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_GONE = frozenset({404, 410})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
_XML_ACCEPT = "application/xml,text/xml;q=0.9,*/*;q=0.1"
# Links to these are not pages: a crawl does not even ask for them.
_NOT_PAGES = re.compile(
    r"\.(pdf|zip|gz|tgz|tar|7z|rar|dmg|exe|msi|apk|png|jpe?g|gif|svg|webp|ico|bmp|tiff?"
    r"|mp3|mp4|m4a|mov|avi|webm|wav|ogg|css|m?js|json|xml|rss|atom|txt|csv|tsv|xlsx?|docx?"
    r"|pptx?|odt|ods|woff2?|ttf|otf|eot)$",
    re.IGNORECASE,
)

Sleep = Callable[[float], Awaitable[None]]
Progress = Callable[[int, int | None], None]


class WebsiteSource:
    """The pages of a website under ``start_url``'s directory; see the module docstring.

    ``session`` is the caller's (``bot.settings.network.aiohttp_session``: its timeout bounds
    each request); every request names its proxy with ``proxy_for``. ``on_progress(done,
    total)`` is called after each page, ``total`` being the pages known so far (a crawl's grows).
    ``sleep`` is how the source waits between requests (tests make it record instead).
    """

    def __init__(
        self,
        start_url: str,
        session: aiohttp.ClientSession,
        *,
        max_pages: int = 500,
        max_page_bytes: int = 2_000_000,
        crawl_delay: float = 0.5,
        user_agent: str = DEFAULT_USER_AGENT,
        on_progress: Progress | None = None,
        trust_lastmod: bool = True,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        start = _normalise(start_url)
        if start is None:
            raise ValueError(f"not an http or https URL: {start_url!r}")
        if max_pages < 1 or max_page_bytes < 1 or crawl_delay < 0:
            raise ValueError("max_pages and max_page_bytes must be positive, crawl_delay >= 0")
        parts = urlsplit(start)
        self.start_url = start
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.prefix = parts.path[: parts.path.rfind("/") + 1]
        self.max_pages = max_pages
        self.max_page_bytes = max_page_bytes
        self.crawl_delay = crawl_delay
        self.user_agent = user_agent
        self.on_progress = on_progress
        self.trust_lastmod = trust_lastmod
        self._session = session
        self._sleep = sleep
        self._complete = False
        self._delay = crawl_delay
        self._last_request: float | None = None
        self._robots = RobotFileParser()
        self._settled: set[str] = set()  # page URLs answered in this run

    @property
    def complete(self) -> bool:
        return self._complete

    def in_scope(self, url: str) -> bool:
        """Whether ``url`` (normalised) is one of this source's: same origin, under the prefix."""
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}" == self.origin and parts.path.startswith(
            self.prefix
        )

    # ------------------------------------------------------------------ listing

    async def pages(self, known: Mapping[str, Known]) -> AsyncIterator[Found]:
        """Every page in scope, one request at a time; ``complete`` is set once this ends.
        Problems with the listing itself come first, as ``Failed`` keyed by the start URL
        (robots.txt) or by the sitemap's URL."""
        self._complete = False
        self._last_request = None
        self._settled = set()
        unreadable = await self._read_robots()
        if unreadable is not None:
            log.warning("%s: %s", self.start_url, unreadable)
            yield Failed(self.start_url, unreadable)
            return
        listing = _Listing()
        await self._read_sitemaps(listing)
        for problem in listing.problems:
            yield problem
        # A sitemap without a page in scope (one for another part of the site): crawl.
        pages = self._listed(listing, known) if listing.urls else self._crawl(known)
        ended = _Ended()
        async with aclosing(pages):
            async for found in pages:
                if isinstance(found, _Ended):
                    ended = found
                else:
                    yield found
        self._complete = ended.ran_to_end and not listing.problems

    async def _listed(
        self, listing: _Listing, known: Mapping[str, Known]
    ) -> AsyncGenerator[Found | _Ended, None]:
        """The sitemap's pages (in scope, allowed by robots.txt), up to ``max_pages``."""
        urls = list(listing.urls.items())
        total = min(len(urls), self.max_pages)
        for done, (url, lastmod) in enumerate(urls[:total], start=1):
            stored = known.get(url)
            if url in self._settled:
                pass  # reached already, by a redirect
            elif self.trust_lastmod and stored is not None and _unchanged_since(lastmod, stored):
                self._settled.add(url)
                yield Unchanged(url)
            else:
                found, _ = await self._page(url, known, listed=True)
                if found is not None:
                    yield found
            self._progress(done, total)
        yield _Ended(ran_to_end=len(urls) <= self.max_pages)

    async def _crawl(self, known: Mapping[str, Known]) -> AsyncGenerator[Found | _Ended, None]:
        """Breadth first from the start page along links in scope, HTML pages only; the
        pages the last sync stored are re-checked too (see the module docstring)."""
        if not self._allowed(self.start_url):
            yield Failed(self.start_url, "robots.txt does not allow fetching the start page")
            yield _Ended(ran_to_end=False)
            return
        queue = deque([self.start_url])
        queue.extend(sorted(k for k in known if k != self.start_url and self._allowed(k)))
        seen = set(queue)
        done = 0
        while queue and done < self.max_pages:
            url = queue.popleft()
            if url in self._settled:
                continue  # reached already, by a redirect
            done += 1
            found, links = await self._page(url, known, listed=False)
            if url == self.start_url and (
                found is None or (isinstance(found, Failed) and not links)
            ):
                # Nothing to crawl from (an index page without text of its own still has links).
                yield self._start_failed(found)
                yield _Ended(ran_to_end=False)
                return
            if found is not None:
                yield found
            for link in links:
                if link not in seen and self._allowed(link) and not _not_a_page(link):
                    seen.add(link)
                    queue.append(link)
            self._progress(done, min(len(seen), self.max_pages))
        yield _Ended(ran_to_end=all(url in self._settled for url in queue))

    def _start_failed(self, found: Found | None) -> Failed:
        """Why a crawl could not begin: the start page failed, is gone, or leads elsewhere."""
        if isinstance(found, Failed):
            reason = found.reason
        else:
            reason = "it is not there (404), not an HTML page, or redirects out of the source"
        return Failed(self.start_url, f"the start page could not be crawled: {reason}")

    async def _read_robots(self) -> str | None:
        """Read robots.txt; None when pages may be fetched, else why none may."""
        url = self.origin + "/robots.txt"
        self._robots = RobotFileParser(url)
        try:
            answer = await self._follow(
                url, {}, MAX_ROBOTS_BYTES, self._same_origin, accept="text/plain", truncate=True
            )
        except _FetchError as error:
            return f"robots.txt could not be read ({error.reason}), so nothing was fetched"
        if isinstance(answer, _Away):
            return f"robots.txt redirects to another site ({answer.url}), so nothing was fetched"
        if answer.status == 200:
            self._robots.parse(_decode_text(answer.body or b"", answer.charset).splitlines())
        elif 400 <= answer.status < 500 and answer.status != 429:
            self._robots.parse([])  # no robots.txt: everything may be fetched
        else:
            return (
                f"robots.txt could not be read (HTTP {answer.status}), so nothing was fetched;"
                " the next sync tries again"
            )
        delay = self._robots.crawl_delay(self.user_agent)
        rate = self._robots.request_rate(self.user_agent)
        wanted = [self.crawl_delay, float(delay or 0)]
        if rate is not None and rate.requests > 0:
            wanted.append(rate.seconds / rate.requests)
        self._delay = max(wanted)
        return None

    def _allowed(self, url: str) -> bool:
        return self.in_scope(url) and self._robots.can_fetch(self.user_agent, url)

    def _same_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}" == self.origin

    # ------------------------------------------------------------------ sitemaps

    async def _read_sitemaps(self, listing: _Listing) -> None:
        declared = [u for u in map(_normalise, self._robots.site_maps() or []) if u is not None]
        ours = [u for u in declared if self._same_origin(u)]
        for other in sorted(set(declared) - set(ours)):
            log.info("ignoring the sitemap %s: it is not on %s", other, self.origin)
        if ours:
            for url in dict.fromkeys(ours):
                await self._read_sitemap(url, listing, depth=0, declared=True)
        else:
            await self._read_sitemap(self.origin + "/sitemap.xml", listing, depth=0, declared=False)

    async def _read_sitemap(
        self, url: str, listing: _Listing, *, depth: int, declared: bool
    ) -> None:
        """Add the pages of the sitemap (or sitemap index) at ``url`` to ``listing``.

        A sitemap that robots.txt or an index names and that cannot be read is a problem (the
        listing is not complete); ``/sitemap.xml`` guessed and not there (or not a sitemap) is
        just no sitemap."""
        if url in listing.read:
            return
        if len(listing.read) >= MAX_SITEMAPS:
            listing.problem(url, f"more than {MAX_SITEMAPS} sitemaps; the rest were not read")
            return
        listing.read.add(url)
        try:
            answer = await self._follow(
                url, {}, MAX_SITEMAP_BYTES, self._same_origin, accept=_XML_ACCEPT
            )
        except _FetchError as error:
            if declared:
                listing.problem(url, f"the sitemap could not be read ({error.reason})")
            return
        if isinstance(answer, _Away) or answer.status != 200 or answer.body is None:
            if declared:
                what = (
                    f"it redirects to another site ({answer.url})"
                    if isinstance(answer, _Away)
                    else f"HTTP {answer.status}"
                )
                listing.problem(url, f"the sitemap could not be read ({what})")
            return
        try:
            root = parse_xml(_gunzipped(answer.body))
        except (ParseError, DefusedXmlException, ValueError, zlib.error) as error:
            if declared:
                listing.problem(url, f"the sitemap is not valid XML ({error})")
            return
        kind = _local(root.tag)
        if kind == "sitemapindex":
            if depth >= MAX_SITEMAP_DEPTH:
                listing.problem(url, "sitemap indexes nested too deep; this one was not read")
                return
            for loc, _ in _entries(root, "sitemap"):
                nested = _normalise(urljoin(url, loc))
                if nested is None or not self._same_origin(nested):
                    continue
                await self._read_sitemap(nested, listing, depth=depth + 1, declared=True)
        elif kind == "urlset":
            for loc, lastmod in _entries(root, "url"):
                page = _normalise(urljoin(url, loc))
                if page is not None and self._allowed(page) and page not in listing.urls:
                    listing.urls[page] = _parse_lastmod(lastmod)
        elif declared:
            listing.problem(url, f"not a sitemap (its root element is <{kind}>)")

    # ------------------------------------------------------------------ fetching pages

    async def _page(
        self, url: str, known: Mapping[str, Known], *, listed: bool
    ) -> tuple[Found | None, list[str]]:
        """Fetch one page: what to yield for it (None: not part of the source, or reached
        already) and, in a crawl (not ``listed``), the links on it. The URL and the one its
        redirects end at are settled: neither is asked for again in this run."""
        self._settled.add(url)
        found, key, links = await self._fetch_page(url, known, listed=listed)
        if key is not None:
            self._settled.add(key)
        return found, links

    async def _fetch_page(
        self, url: str, known: Mapping[str, Known], *, listed: bool
    ) -> tuple[Found | None, str | None, list[str]]:
        want_links = not listed
        try:
            answer = await self._follow(
                url,
                known,
                self.max_page_bytes,
                self._allowed,
                accept=_PAGE_ACCEPT,
                html_only=True,
                settled=self._settled,
            )
        except _FetchError as error:
            return Failed(error.url, error.reason), error.url, []
        if isinstance(answer, _Away):
            log.debug("%s leads out of the source, to %s", url, answer.url)
            return None, None, []
        key = answer.url
        if answer.status == 304:
            if key in known:
                return Unchanged(key), key, []
            return Failed(key, "the server answered 304 Not Modified to a plain request"), key, []
        if answer.status in _GONE:
            return None, key, []
        if answer.status in _REDIRECTS:
            return Failed(key, f"HTTP {answer.status} redirect without a Location"), key, []
        if answer.status != 200:
            return Failed(key, f"the server answered HTTP {answer.status}"), key, []
        if answer.body is None:  # not HTML: Content-Type said so before the body was read
            if not listed:
                return None, key, []
            return Failed(key, f"not an HTML page ({answer.content_type})"), key, []
        try:
            extracted = await asyncio.to_thread(
                _extract, answer.body, answer.charset, key, want_links
            )
        except Exception as error:  # a parser's bug on one page must not end the sync
            log.exception("extracting the text of %s failed", key)
            return Failed(key, f"the page could not be read ({_describe(error)})"), key, []
        if extracted is None:
            if not listed:
                return None, key, []
            return Failed(key, "not an HTML page (the body is not HTML)"), key, []
        if not extracted.text:
            return Failed(key, "no readable text"), key, extracted.links
        page = Page(
            key=key,
            title=extracted.title,
            text=extracted.text,
            url=key,
            etag=answer.headers.get("ETag"),
            last_modified=answer.headers.get("Last-Modified"),
        )
        return page, key, extracted.links

    async def _follow(
        self,
        url: str,
        known: Mapping[str, Known],
        limit: int,
        allowed: Callable[[str], bool],
        *,
        accept: str,
        html_only: bool = False,
        truncate: bool = False,
        settled: Container[str] = frozenset(),
    ) -> _Answer | _Away:
        """GET ``url``, following redirects while ``allowed`` says their targets may be
        fetched (and are not ``settled`` already), with conditional headers from ``known``."""
        for _ in range(MAX_REDIRECTS + 1):
            headers = {"User-Agent": self.user_agent, "Accept": accept}
            stored = known.get(url)
            if stored is not None and stored.etag:
                headers["If-None-Match"] = stored.etag
            if stored is not None and stored.last_modified:
                headers["If-Modified-Since"] = stored.last_modified
            answer = await self._get(url, headers, limit, html_only=html_only, truncate=truncate)
            location = answer.headers.get("Location")
            if answer.status not in _REDIRECTS or not location:
                return answer
            target = _normalise(urljoin(url, location))
            if target is None or not allowed(target) or target in settled:
                return _Away(target or location)
            url = target
        raise _FetchError(url, f"more than {MAX_REDIRECTS} redirects in a row")

    async def _get(
        self, url: str, headers: dict[str, str], limit: int, *, html_only: bool, truncate: bool
    ) -> _Answer:
        await self._take_turn()
        try:
            async with self._session.get(
                url, headers=headers, proxy=proxy_for(url), allow_redirects=False
            ) as response:
                content_type = response.headers.get("Content-Type")
                answer = _Answer(
                    url=url,
                    status=response.status,
                    headers=response.headers,
                    content_type=content_type.split(";")[0].strip().lower()
                    if content_type
                    else "no Content-Type",
                    charset=response.charset,
                )
                if response.status == 200 and not (
                    html_only and content_type and answer.content_type not in _HTML_TYPES
                ):
                    answer.body = await _read(response, limit, truncate=truncate)
                    if answer.body is None:
                        response.close()  # do not let the rest of the body arrive
                        raise _FetchError(url, f"the page is larger than {limit:,} bytes")
                return answer
        except TimeoutError:
            raise _FetchError(url, "the server did not answer in time") from None
        except aiohttp.ClientError as error:
            raise _FetchError(url, f"the request failed ({_describe(error)})") from None
        finally:
            self._last_request = asyncio.get_running_loop().time()

    async def _take_turn(self) -> None:
        """Wait until ``crawl_delay`` (or robots.txt's) has passed since the last request."""
        if self._last_request is None or self._delay <= 0:
            return
        waited = asyncio.get_running_loop().time() - self._last_request
        if waited < self._delay:
            await self._sleep(self._delay - waited)

    def _progress(self, done: int, total: int | None) -> None:
        if self.on_progress is not None:
            self.on_progress(done, total)


# ---------------------------------------------------------------------- the two listings


@dataclass(frozen=True)
class _Ended:
    """The last thing a listing hands ``pages``: whether it ran to its end."""

    ran_to_end: bool = False


class _Listing:
    """What the sitemaps list: page URL → its ``<lastmod>``, in sitemap order."""

    def __init__(self) -> None:
        self.urls: dict[str, datetime | None] = {}
        self.read: set[str] = set()
        self.problems: list[Failed] = []

    def problem(self, url: str, reason: str) -> None:
        log.warning("sitemap %s: %s", url, reason)
        self.problems.append(Failed(url, reason))


# ---------------------------------------------------------------------- small helpers


@dataclass
class _Answer:
    url: str
    status: int
    headers: CIMultiDictProxy[str]
    content_type: str
    charset: str | None
    body: bytes | None = None


@dataclass(frozen=True)
class _Away:
    """A redirect to a URL that is not to be fetched (out of scope, or robots.txt says no)."""

    url: str


class _FetchError(Exception):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(reason)
        self.url = url
        self.reason = reason


@dataclass(frozen=True)
class _Extracted:
    title: str
    text: str
    links: list[str]


async def _read(response: aiohttp.ClientResponse, limit: int, *, truncate: bool) -> bytes | None:
    """The body, or None once it proves longer than ``limit`` (unless ``truncate``: then its
    first ``limit`` bytes). Nothing past the limit is buffered."""
    if not truncate and response.content_length is not None and response.content_length > limit:
        return None
    body = bytearray()
    async for chunk in response.content.iter_chunked(65_536):
        body += chunk
        if len(body) > limit:
            if truncate:
                return bytes(body[:limit])
            return None
    return bytes(body)


def _normalise(url: str) -> str | None:
    """``url`` as a key: lower-case scheme and host, no default port, no user, no fragment,
    ``/`` for an empty path. None for anything but an http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _not_a_page(url: str) -> bool:
    return _NOT_PAGES.search(urlsplit(url).path) is not None


def _describe(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _decode_text(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def _gunzipped(body: bytes) -> bytes:
    """A ``.xml.gz`` sitemap unpacked (at most ``MAX_SITEMAP_BYTES``); others as they are."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    unpacker = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    data = unpacker.decompress(body, MAX_SITEMAP_BYTES + 1)
    if len(data) > MAX_SITEMAP_BYTES:
        raise ValueError(f"larger than {MAX_SITEMAP_BYTES:,} bytes unpacked")
    return data


def _local(tag: str) -> str:
    """An element's name without its namespace (``{http://www.sitemaps.org/...}url`` → url)."""
    return tag.rsplit("}", 1)[-1]


def _entries(root: Element, kind: str) -> Iterable[tuple[str, str | None]]:
    """``(loc, lastmod)`` of each ``<url>`` or ``<sitemap>`` child of a sitemap's root."""
    for entry in root:
        if _local(entry.tag) != kind:
            continue
        loc = lastmod = None
        for field in entry:
            name = _local(field.tag)
            if name == "loc" and field.text:
                loc = field.text.strip()
            elif name == "lastmod" and field.text:
                lastmod = field.text.strip()
        if loc:
            yield loc, lastmod


def _parse_lastmod(text: str | None) -> datetime | None:
    """A W3C datetime as an aware datetime; a date alone counts as the end of that day (the
    page may have changed at any time in it), a time without a zone as UTC."""
    if not text:
        return None
    try:
        if len(text) <= 10:  # YYYY, YYYY-MM, YYYY-MM-DD
            pieces = [int(p) for p in text.split("-")] + [1, 1]
            year, month, day = pieces[0], pieces[1], pieces[2]
            start = datetime(year, month, day, tzinfo=UTC)
            if len(text) == 4:
                return start.replace(year=year + 1)
            if len(text) == 7:
                return (start + timedelta(days=32)).replace(day=1)
            return start + timedelta(days=1)
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _unchanged_since(lastmod: datetime | None, stored: Known) -> bool:
    """Whether the sitemap dates the page's last change no later than the Last-Modified the
    server sent when the stored version was fetched."""
    fetched = _parse_http_date(stored.last_modified)
    return lastmod is not None and fetched is not None and lastmod <= fetched


def _parse_http_date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


# ---------------------------------------------------------------------- extraction

_PERMALINK_SYMBOLS = frozenset({"", "¶", "§", "#", "🔗", "link", "permalink"})
_ESCAPED = re.compile(r"(?<!\\)\\([*_`~\[\]<])")
_FENCE = re.compile(r"^\s*(```|~~~)")
_TOP_HEADING = re.compile(r"^#\s+\S")
_ANY_HEADING = re.compile(r"^#{1,6}\s+(.+?)(?:\s+#+)?\s*$")


def _extract(body: bytes, charset: str | None, url: str, want_links: bool) -> _Extracted | None:
    """The page's title, its main text as Markdown (``#`` headings, without navigation,
    headers, footers and banners) and its links; None when the body is not HTML at all.
    Runs in a worker thread: parsing and extraction take milliseconds per page."""
    import trafilatura  # a quarter of a second to import: only when a sync runs

    html: bytes | str = body
    if charset:
        try:
            html = body.decode(charset, errors="replace")
        except LookupError:
            html = body
    if isinstance(html, str) and html.lstrip().startswith("<?xml"):
        html = body  # lxml refuses a str with an XML encoding declaration (XHTML)
    try:
        tree = trafilatura.load_html(html)
    except (TypeError, ValueError):
        tree = None
    if tree is None:
        return None
    links = _links(tree, url) if want_links else []
    metadata = trafilatura.extract_metadata(tree, default_url=url, extensive=False)
    _prepare(tree)
    text = trafilatura.extract(
        tree,
        url=url,
        output_format="markdown",
        include_formatting=True,  # without it, headings lose their "#" markers
        include_tables=True,
        include_comments=False,
        include_links=False,
        include_images=False,
        favor_precision=True,  # keeps short articles' headings; drops link lists and menus
        deduplicate=False,
    )
    text = _tidy(text or "")
    title = (metadata.title or "").strip() or _first_heading(text) or _title_from_url(url)
    if text and not _TOP_HEADING.match(text):
        text = f"# {title}\n\n{text}"
    return _Extracted(title=title, text=text, links=links)


def _links(tree: Any, url: str) -> list[str]:
    """Every ``<a href>`` on the page, absolute (``<base href>`` honoured), normalised."""
    base = url
    for element in tree.iterfind(".//base[@href]"):
        base = urljoin(url, str(element.get("href")).strip())
        break
    links = []
    for anchor in tree.iterfind(".//a[@href]"):
        link = _normalise(urljoin(base, str(anchor.get("href")).strip()))
        if link is not None:
            links.append(link)
    return links


def _prepare(tree: Any) -> None:
    """Help the extractor keep headings: ARIA headings become ``<hN>`` (trafilatura drops a
    ``<div role="heading">`` and its text), and permalink anchors in headings (``¶``) go."""
    for element in tree.iterfind('.//*[@role="heading"]'):
        level = str(element.get("aria-level") or "2")
        element.tag = f"h{level}" if level in {"1", "2", "3", "4", "5", "6"} else "h2"
    for heading in tree.xpath("//h1|//h2|//h3|//h4|//h5|//h6"):
        for anchor in heading.iterfind(".//a[@href]"):
            href = str(anchor.get("href"))
            if href.startswith("#") and anchor.text_content().strip().lower() in (
                _PERMALINK_SYMBOLS
            ):
                anchor.drop_tree()


def _tidy(text: str) -> str:
    """Undo trafilatura's escaping of inline Markdown characters (``read\\_only``) outside
    code blocks: the text is searched and quoted, not rendered. An escaped ``#`` starting a
    line stays escaped, or it would read as a heading."""
    lines = []
    in_fence = False
    for line in text.strip().splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        lines.append(line if in_fence else _ESCAPED.sub(r"\1", line))
    return "\n".join(lines).strip()


def _first_heading(text: str) -> str | None:
    for line in text.splitlines():
        match = _ANY_HEADING.match(line)
        if match:
            return match.group(1).strip()
    return None


def _title_from_url(url: str) -> str:
    path = urlsplit(url).path.rstrip("/")
    last = path.rsplit("/", 1)[-1] or urlsplit(url).netloc
    return last.rsplit(".", 1)[0].replace("-", " ").replace("_", " ").strip() or url
