"""Zendesk Guide (Help Center) articles as a knowledge source: every published article that
customers may read, as Markdown with its headings, keyed by the article's id and cited by its
Help Center URL (``html_url``).

What ``ZendeskSource`` reads:

- ``GET /api/v2/help_center/incremental/articles?start_time=0``, the time-based incremental
  article export, from its start on every sync. Each page of up to 1,000 articles (oldest change
  first) carries ``next_page``, a URL whose ``start_time`` is the time of the last change on the
  page (also given as ``end_time``); the connector asks for that ``start_time`` next (on its own
  ``base_url``, never on the host ``next_page`` names) and stops at a page without
  ``next_page`` or without articles. A page starts *at* the previous page's last time, so an
  article may come twice; the second time it is skipped, unless it changed meanwhile. A full
  page that does not move the time on (more articles changed in one second than a page holds)
  cannot be paged past: the listing stops there, incomplete.
- With ``locale``: ``GET /api/v2/help_center/{locale}/articles/{id}`` (Show Article by Locale)
  for each new or changed article the export shows in another locale; an article without a
  translation in ``locale`` (404) is not part of the source. Without ``locale`` nothing but the
  export is read: it carries each article's body.

Deletions: the export lists the articles there are now, with their metadata and body; it does
not report deleted articles, and archived ones are absent. So every sync reads it from
``start_time=0``, and an article that a complete listing does not name is gone: the sync engine
retires it. Drafts (``draft: true`` in the locale read) and articles restricted to a user segment
(``user_segment_id`` or ``user_segment_ids`` set: signed-in users, agents only, some
organisations) are not yielded either; ``include_restricted=True`` lets the restricted ones in
(drafts never: no customer can open them).

Unchanged articles: the version marker (``Page.etag``) is the article's ``updated_at`` in the
export (with ``locale``, followed by it). An article whose stored marker is the same is
``Unchanged``, with no request of its own. With ``locale``, an edit to that translation alone
is seen when Zendesk moves the article's ``updated_at``.

Credentials: the export is allowed for agents and admins only, and lists just the articles the
token's user can view: use a Guide admin, or an agent who can view every article. Either an API
token (``email`` given: HTTP Basic ``{email}/token:{token}``; token access must be enabled in
Admin Center > Apps and integrations > APIs > Zendesk API) or an OAuth access token (no
``email``: ``Authorization: Bearer``) with the ``hc:read`` scope (or ``read``). The token goes
to ``base_url`` only and is never logged, nor put in a reason.

Rate limits and errors: a 429 is waited out for its ``Retry-After`` (at most
``max_retry_after`` seconds), up to ``rate_limit_retries`` times; a 5xx, a timeout or a dropped
connection is tried again ``server_retries`` times after a doubling ``backoff``. A listing
request that still fails ends the listing (``complete`` stays False; a ``Failed`` keyed by the
export's URL says why); an article that cannot be read is ``Failed`` and the listing goes on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from bs4 import BeautifulSoup, Tag
from markdownify import ATX, MarkdownConverter

from bot.kb.sources.base import Failed, Found, Known, Page, Unchanged
from bot.kb.sources.http import retry_after, scrub, token_authorization
from bot.kb.sources.website import DEFAULT_USER_AGENT
from bot.settings.network import proxy_for

__all__ = ["EXPORT_PAGE_SIZE", "ZendeskSource", "article_markdown"]

log = logging.getLogger(__name__)

EXPORT_PATH = "/api/v2/help_center/incremental/articles"
EXPORT_PAGE_SIZE = 1000  # the export's documented page size
MAX_EXPORT_PAGES = 10_000  # a guard against an export that never ends

_SUBDOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")

Sleep = Callable[[float], Awaitable[None]]
Progress = Callable[[int, int | None], None]
Json = dict[str, Any]


class ZendeskSource:
    """The published Help Center articles of one Zendesk account (or brand); see the module
    docstring.

    ``subdomain`` names the account (``acme`` for ``https://acme.zendesk.com``); ``base_url``
    replaces that URL when given (a brand's or a test fake's). ``token`` is the secret's value:
    an API token with ``email``, an OAuth access token without. ``session`` is the caller's
    (``bot.settings.network.aiohttp_session``: its timeout bounds each request); every request
    names its proxy with ``proxy_for``. ``on_progress(done, total)`` is called after each
    article the export lists, ``total`` being the articles listed so far. ``sleep`` is how the
    source waits before a retry (tests make it record instead). ``page_size`` is the export's
    page size, which tells a full page from the last one when the time does not move on.
    """

    def __init__(
        self,
        subdomain: str | None,
        token: str,
        session: aiohttp.ClientSession,
        *,
        email: str | None = None,
        locale: str | None = None,
        base_url: str | None = None,
        include_restricted: bool = False,
        on_progress: Progress | None = None,
        sleep: Sleep = asyncio.sleep,
        page_size: int = EXPORT_PAGE_SIZE,
        max_retry_after: float = 60.0,
        rate_limit_retries: int = 5,
        server_retries: int = 2,
        backoff: float = 1.0,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        if base_url:
            parts = urlsplit(base_url.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"not an http or https URL: {base_url!r}")
            self.base_url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        elif subdomain and _SUBDOMAIN.fullmatch(subdomain.strip()):
            self.base_url = f"https://{subdomain.strip().lower()}.zendesk.com"
        else:
            raise ValueError(
                f"a Zendesk subdomain is a name such as 'acme' (acme.zendesk.com): {subdomain!r}"
            )
        if not token or not token.strip():
            raise ValueError("the Zendesk token is empty")
        if locale is not None and not _LOCALE.fullmatch(locale.strip()):
            raise ValueError(f"not a Help Center locale such as 'en-us': {locale!r}")
        if page_size < 1 or max_retry_after < 0 or rate_limit_retries < 0 or server_retries < 0:
            raise ValueError("page_size must be positive; waits and retries must not be negative")
        self.subdomain = subdomain
        self.email = email.strip() if email and email.strip() else None
        self.locale = locale.strip().lower() if locale else None
        self.include_restricted = include_restricted
        self.on_progress = on_progress
        self.page_size = page_size
        self.max_retry_after = max_retry_after
        self.rate_limit_retries = rate_limit_retries
        self.server_retries = server_retries
        self.backoff = backoff
        self.export_url = self.base_url + EXPORT_PATH
        self._session = session
        self._sleep = sleep
        self._complete = False
        token = token.strip()
        # An API token goes as HTTP Basic "{email}/token:{token}"; without an email it is OAuth.
        user = f"{self.email}/token" if self.email else None
        authorization, self._secrets = token_authorization(token, basic_user=user)
        self._headers = {
            "Authorization": authorization,
            "Accept": "application/json",
            "User-Agent": user_agent,
        }

    def __repr__(self) -> str:  # never the token
        return f"ZendeskSource({self.base_url!r}, locale={self.locale!r})"

    @property
    def complete(self) -> bool:
        return self._complete

    # ------------------------------------------------------------------ listing

    async def pages(self, known: Mapping[str, Known]) -> AsyncIterator[Found]:
        """Every published article, one export page after another; ``complete`` is set once
        the export ran to its end. A listing that stopped ends with a ``Failed`` keyed by the
        export's URL."""
        self._complete = False
        handled: dict[str, str] = {}  # article id → the marker it was handled at, this run
        listed: set[str] = set()
        params = {"start_time": "0"}
        start_time = 0
        for _ in range(MAX_EXPORT_PAGES):
            try:
                data = await self._get(self.export_url, params)
            except _RequestFailed as problem:
                yield self._listing_failed(problem.reason)
                return
            if data is None:
                yield self._listing_failed(
                    "Zendesk answered 404 Not Found: check the subdomain (or base URL) and that"
                    " Guide (Help Center) is enabled"
                )
                return
            articles = data.get("articles")
            if not isinstance(articles, list):
                yield self._listing_failed("Zendesk's answer had no list of articles")
                return
            for raw in articles:
                if not isinstance(raw, dict) or not isinstance(raw.get("id"), int | str):
                    log.warning("the Zendesk export listed something without an id: skipped")
                    continue
                listed.add(str(raw["id"]))
                found = await self._article(raw, known, handled)
                if found is not None:
                    yield found
                self._progress(len(handled), len(listed))
            following = data.get("next_page")
            if not articles or not following:
                break
            next_params = _next_params(following, data.get("end_time"))
            if next_params is None:
                yield self._listing_failed("Zendesk's next page named no start time")
                return
            next_start = int(next_params["start_time"])
            if next_start <= start_time:
                if len(articles) < self.page_size:
                    break  # the export has nothing after this page's second
                yield self._listing_failed(
                    f"more than {self.page_size:,} articles changed in the same second"
                    f" ({_when(start_time)}), which the export cannot page past"
                )
                return
            params, start_time = next_params, next_start
        else:
            yield self._listing_failed(f"the export went on past {MAX_EXPORT_PAGES:,} pages")
            return
        self._complete = True

    def _listing_failed(self, reason: str) -> Failed:
        reason = self._scrub(f"the article listing stopped: {reason}")
        log.warning("%s: %s", self.export_url, reason)
        return Failed(self.export_url, reason)

    async def _article(
        self, raw: Json, known: Mapping[str, Known], handled: dict[str, str]
    ) -> Found | None:
        """What the export's entry for one article comes to: a Page, Unchanged, Failed, or
        None when the article is not for customers (or was handled already this run)."""
        key = str(raw["id"])
        updated = str(raw.get("updated_at") or "")
        marker = f"{updated} {self.locale}" if self.locale else updated
        if handled.get(key) == marker:
            return None  # listed again at the start of the next page
        handled[key] = marker
        if not self.include_restricted and _restricted(raw):
            return None
        in_locale = self.locale is None or str(raw.get("locale", "")).lower() == self.locale
        if in_locale and raw.get("draft") is True:
            return None
        stored = known.get(key)
        if updated and stored is not None and stored.etag == marker:
            return Unchanged(key)
        article = raw
        if not in_locale:
            try:
                shown = await self._get(self._article_url(key), None)
            except _RequestFailed as problem:
                reason = self._scrub(f"the article could not be read in {self.locale}: {problem}")
                log.warning("Zendesk article %s: %s", key, reason)
                return Failed(key, reason)
            if shown is None:
                return None  # no translation in this locale (or deleted since the listing)
            translated = shown.get("article")
            if not isinstance(translated, dict):
                return Failed(key, "Zendesk's answer for the article had no article in it")
            if translated.get("draft") is True:
                return None
            article = {**raw, **translated}
        return await self._page(key, article, marker)

    async def _page(self, key: str, article: Json, marker: str) -> Found:
        title = " ".join(str(article.get("title") or "").split()) or f"Article {key}"
        body = article.get("body")
        try:
            text = await asyncio.to_thread(
                article_markdown, title, body if isinstance(body, str) else ""
            )
        except Exception as error:  # a parser's bug on one article must not end the sync
            log.exception("converting Zendesk article %s to Markdown failed", key)
            return Failed(key, f"the article's text could not be read ({type(error).__name__})")
        if text == f"# {title}":
            return Failed(key, "the article has no text")
        url = article.get("html_url")
        labels = article.get("label_names")
        tags = ", ".join(
            str(label).strip()
            for label in (labels if isinstance(labels, list) else [])
            if str(label).strip()
        )
        return Page(
            key=key,
            title=title,
            text=text,
            url=url if isinstance(url, str) and url else None,
            etag=marker or None,
            tags=tags,
        )

    def _article_url(self, key: str) -> str:
        return f"{self.base_url}/api/v2/help_center/{self.locale}/articles/{key}"

    def _progress(self, done: int, total: int | None) -> None:
        if self.on_progress is not None:
            self.on_progress(done, total)

    # ------------------------------------------------------------------ requests

    async def _get(self, url: str, params: Mapping[str, str] | None) -> Json | None:
        """The JSON object at ``url``; None for a 404. Rate limits are waited out and server
        trouble tried again as the class says; anything else raises ``_RequestFailed``."""
        rate_limited = troubled = 0
        while True:
            retry_after: str | None = None
            try:
                answer = await self._request(url, params)
            except _Unanswered as error:
                trouble = error.reason
            else:
                if answer.status == 200:
                    return answer.json
                if answer.status == 404:
                    return None
                if answer.status == 429:
                    if rate_limited >= self.rate_limit_retries:
                        raise _RequestFailed(
                            f"Zendesk kept answering 429 Too Many Requests (rate limited),"
                            f" {rate_limited + 1} times in a row"
                        )
                    rate_limited += 1
                    wait = _retry_after(answer.retry_after, self._backoff(rate_limited))
                    await self._sleep(min(wait, self.max_retry_after))
                    continue
                if answer.status < 500:
                    raise _RequestFailed(_refusal(answer))
                trouble = f"Zendesk answered HTTP {answer.status} (a server error)"
                retry_after = answer.retry_after  # a 503 for maintenance may say when
            if troubled >= self.server_retries:
                tries = troubled + 1
                raise _RequestFailed(trouble + (f", {tries} times in a row" if tries > 1 else ""))
            troubled += 1
            wait = _retry_after(retry_after, self._backoff(troubled))
            await self._sleep(min(wait, self.max_retry_after))

    async def _request(self, url: str, params: Mapping[str, str] | None) -> _Answer:
        try:
            async with self._session.get(
                url,
                params=params,
                headers=self._headers,
                proxy=proxy_for(url),
                allow_redirects=False,
            ) as response:
                answer = _Answer(response.status, response.headers.get("Retry-After"))
                if response.status == 200:
                    try:
                        data = await response.json(content_type=None)
                    except ValueError:
                        raise _RequestFailed("Zendesk's answer was not JSON") from None
                    if not isinstance(data, dict):
                        raise _RequestFailed("Zendesk's answer was not a JSON object")
                    answer.json = data
                elif 400 <= response.status < 500:
                    answer.detail = _error_detail(await response.read())
                elif 300 <= response.status < 400:
                    answer.detail = f"to {response.headers.get('Location') or 'nowhere'}"
                return answer
        except TimeoutError:
            raise _Unanswered("Zendesk did not answer in time") from None
        except aiohttp.ClientError as error:
            raise _Unanswered(f"the request failed ({_describe(error)})") from None

    def _backoff(self, attempt: int) -> float:
        return float(self.backoff * 2 ** (attempt - 1))

    def _scrub(self, text: str) -> str:
        return scrub(text, self._secrets)


# ---------------------------------------------------------------------- requests: helpers


@dataclass
class _Answer:
    status: int
    retry_after: str | None
    json: Json | None = None
    detail: str = ""


class _Unanswered(Exception):
    """No answer at all: a timeout or a connection that failed (tried again like a 5xx)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _RequestFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _refusal(answer: _Answer) -> str:
    """A final answer other than 200, 404, 429 and 5xx, in plain words."""
    status = answer.status
    if status == 401:
        words = "Zendesk did not accept the credentials (401): check the token and the email"
    elif status == 403:
        words = (
            "Zendesk refused access (403): the token's user must be an agent or admin who can"
            " view the articles (and an OAuth token needs the hc:read scope)"
        )
    elif 300 <= status < 400:
        words = f"Zendesk answered with a redirect (HTTP {status})"
    else:
        words = f"Zendesk answered HTTP {status}"
    return f"{words} {answer.detail}".strip() if answer.detail else words


def _error_detail(body: bytes) -> str:
    """Zendesk's error body (``{"error": ..., "description": ...}``) as a parenthesis."""
    try:
        data = json.loads(body[:10_000].decode("utf-8", errors="replace"))
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    error: object = data.get("error")
    description: object = data.get("description")
    if isinstance(error, dict):  # some endpoints nest it: {"error": {"title", "message"}}
        nested = error
        error, description = nested.get("title"), nested.get("message")
    words = ": ".join(str(w).strip() for w in (error, description) if w and str(w).strip())
    return f"({words[:200]})" if words else ""


def _retry_after(value: str | None, fallback: float) -> float:
    """Seconds to wait from a ``Retry-After`` header, or ``fallback`` when it says nothing."""
    seconds = retry_after(value)
    return fallback if seconds is None else seconds


def _next_params(next_page: object, end_time: object) -> dict[str, str] | None:
    """The query of the export's next page: its ``next_page`` URL's, else ``end_time``."""
    params: dict[str, str] = {}
    if isinstance(next_page, str):
        params = dict(parse_qsl(urlsplit(next_page).query))
    if not params.get("start_time", "").isdigit():
        if isinstance(end_time, int) and not isinstance(end_time, bool) and end_time >= 0:
            params["start_time"] = str(end_time)
        else:
            return None
    return params


def _restricted(article: Json) -> bool:
    """Whether only some users (signed-in users, agents, organisations) may see it."""
    return article.get("user_segment_id") is not None or bool(article.get("user_segment_ids"))


def _when(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _describe(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# ---------------------------------------------------------------------- HTML to Markdown

# Elements that carry no text a customer reads: media, embeds, scripts, forms.
_DROPPED = (
    "img",
    "picture",
    "svg",
    "canvas",
    "video",
    "audio",
    "iframe",
    "embed",
    "object",
    "script",
    "style",
    "noscript",
    "template",
    "form",
    "button",
    "input",
    "select",
    "textarea",
)
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_CALLOUT_CLASSES = re.compile(
    r"callout|alert|notice|note|tip|warning|caution|important|info", re.IGNORECASE
)
_CODE_LANGUAGE = re.compile(r"^(?:language|lang)-([\w+#.-]+)$")
_HEADING_START = re.compile(r"^([ \t]*)(#{1,6}(?:[ \t]|$))", re.MULTILINE)
_FENCE = re.compile(r"^\s*(```|~~~)")
_BLANK_RUNS = re.compile(r"\n{3,}")


class _ArticleConverter(MarkdownConverter):
    """markdownify with ``#`` headings, ``-`` bullets, fenced code and pipe tables; links keep
    their text only, callout boxes become quotes, and text that would read as a heading is
    escaped."""

    def __init__(self) -> None:
        super().__init__(
            heading_style=ATX,
            bullets="-",
            escape_asterisks=False,
            escape_underscores=False,
            escape_misc=False,
            table_infer_header=True,
            code_language_callback=_code_language,
        )

    def convert_a(self, el: Any, text: str, parent_tags: set[str]) -> str:
        return text

    def convert_div(self, el: Any, text: str, parent_tags: set[str]) -> str:
        base = cast(Any, super())
        if _is_callout(el):
            return str(base.convert_blockquote(el, text, parent_tags))
        return str(base.convert_div(el, text, parent_tags))

    def convert_aside(self, el: Any, text: str, parent_tags: set[str]) -> str:
        return str(cast(Any, super()).convert_blockquote(el, text, parent_tags))

    def escape(self, text: str, parent_tags: set[str]) -> str:
        text = str(cast(Any, super()).escape(text, parent_tags))
        return _HEADING_START.sub(r"\1\\\2", text)


def article_markdown(title: str, html: str) -> str:
    """An article as Markdown: ``# {title}``, then its body with headings, lists, code, quotes
    and tables; images, embeds and scripts are dropped, and so is a first ``<h1>`` that only
    repeats the title."""
    soup = BeautifulSoup(html or "", "html.parser")
    for element in soup.find_all(_DROPPED):
        element.decompose()
    for heading in soup.find_all(_HEADINGS):
        for inline in heading.find_all(True):
            inline.unwrap()  # "## Setup", not "## **Setup**"
    first = next((e for e in soup.children if isinstance(e, Tag) or str(e).strip()), None)
    if isinstance(first, Tag) and first.name == "h1" and _same(first.get_text(), title):
        first.decompose()
    body = _tidy(_ArticleConverter().convert_soup(soup))
    return f"# {title}\n\n{body}" if body else f"# {title}"


def _tidy(text: str) -> str:
    """No-break spaces made plain, trailing spaces and blank-only lines gone outside code
    blocks, at most one blank line in a row."""
    lines = []
    in_fence = False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        lines.append(line if in_fence else line.replace("\xa0", " ").rstrip())
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _is_callout(el: Any) -> bool:
    classes = el.get("class") or []
    return any(_CALLOUT_CLASSES.search(str(c)) for c in classes)


def _code_language(el: Any) -> str | None:
    """A ``<pre>``'s language from its class (or its ``<code>``'s): ``language-python``."""
    candidates = [el, *el.find_all("code", limit=1)]
    for candidate in candidates:
        for name in candidate.get("class") or []:
            match = _CODE_LANGUAGE.match(str(name))
            if match:
                return match.group(1)
    return None
