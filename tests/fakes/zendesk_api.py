"""A fake Zendesk Help Center API on 127.0.0.1 for the Zendesk connector's tests.

:class:`ZendeskAPI` answers the endpoints ``bot.kb.sources.zendesk`` reads, in Zendesk's shapes:

- ``GET /api/v2/help_center/incremental/articles?start_time=N`` (``.json`` too): the time-based
  incremental export, as an agent sees it. Articles changed at or after ``start_time``, oldest
  change first (ties by id), at most :attr:`ZendeskAPI.page_size` a page, each with every
  documented field (``body`` and ``locale`` in the article's source locale, ``html_url``,
  ``draft``, ``user_segment_id``/``user_segment_ids``, ``label_names``, ``updated_at``...). The
  page says ``count``, ``end_time`` (the last article's change, as epoch seconds) and
  ``next_page``: a URL on the account's own host (``https://acme.zendesk.com``, not this
  server's) with ``start_time=end_time``, or null once a page is not full. Drafts and restricted
  articles are listed (an agent sees them); archived and deleted ones are not.
- ``GET /api/v2/help_center/{locale}/articles/{id}`` and ``GET /api/v2/help_center/articles/{id}``
  (Show Article, by locale): ``{"article": ...}`` in that locale's translation, or 404
  ``RecordNotFound`` when there is none (or the article is archived or deleted).

Every request must carry the account's credentials: HTTP Basic ``{email}/token:{api_token}``
or ``Bearer {oauth_token}``; anything else is a 401 ``Couldn't authenticate you``.

Tests add articles (:meth:`ZendeskAPI.add_article`, :meth:`ZendeskAPI.add_translation`),
change them (:meth:`ZendeskAPI.change`: a later ``updated_at``), delete, archive, unpublish or
restrict them, and make requests fail (:meth:`ZendeskAPI.fail`: a status N times or for good;
:meth:`ZendeskAPI.rate_limit`: 429 with ``Retry-After``). Every request is kept, in order, in
:attr:`ZendeskAPI.requests` (path, query, headers with lower-case names).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from bot.sandbox.local_server import LocalServer
from tests.fakes.recorded import Seen

__all__ = ["FIRST_CHANGE", "FakeArticle", "Seen", "Translation", "ZendeskAPI"]

FIRST_CHANGE = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
EXPORT_PATHS = (
    "/api/v2/help_center/incremental/articles",
    "/api/v2/help_center/incremental/articles.json",
)


@dataclass
class Translation:
    locale: str
    title: str
    body: str
    draft: bool
    updated_at: datetime


@dataclass
class FakeArticle:
    id: int
    title: str
    body: str
    locale: str  # the source locale: the one the export shows
    updated_at: datetime
    created_at: datetime
    draft: bool = False
    user_segment_id: int | None = None
    label_names: list[str] = field(default_factory=list)
    section_id: int = 360001234501
    archived: bool = False
    translations: dict[str, Translation] = field(default_factory=dict)


@dataclass
class Fault:
    status: int
    times: int | None  # None: for good
    retry_after: str | None = None


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _slug(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-")


class ZendeskAPI(LocalServer):
    """The fake Help Center API; see the module docstring."""

    name = "the fake Zendesk API"

    def __init__(
        self,
        *,
        subdomain: str = "acme",
        email: str = "agent@acme.test",
        api_token: str = "zd-api-token-6wiIBWbGkBMo1mRDMuVwkw1EPsNkeUj95PIz2akv",
        oauth_token: str | None = None,
        page_size: int = 1000,
    ) -> None:
        super().__init__()
        self.subdomain = subdomain
        self.email = email
        self.api_token = api_token
        self.oauth_token = oauth_token
        self.page_size = page_size
        self.articles: dict[int, FakeArticle] = {}
        self.requests: list[Seen] = []
        self.faults: dict[str, list[Fault]] = {}  # path (or "*") → faults, first first
        self._clock = FIRST_CHANGE
        self._next_id = 360026053701

    # ------------------------------------------------------------------ what tests change

    @property
    def public(self) -> str:
        """The account's own address, which Zendesk builds ``html_url`` and ``next_page`` on."""
        return f"https://{self.subdomain}.zendesk.com"

    def tick(self) -> datetime:
        """A later moment than any change so far (a minute on)."""
        self._clock += timedelta(minutes=1)
        return self._clock

    def add_article(
        self,
        title: str,
        body: str,
        *,
        locale: str = "en-us",
        draft: bool = False,
        user_segment_id: int | None = None,
        labels: list[str] | None = None,
        updated_at: datetime | None = None,
    ) -> FakeArticle:
        when = updated_at or self.tick()
        article = FakeArticle(
            id=self._next_id,
            title=title,
            body=body,
            locale=locale,
            updated_at=when,
            created_at=when,
            draft=draft,
            user_segment_id=user_segment_id,
            label_names=list(labels or []),
        )
        self._next_id += 1
        self.articles[article.id] = article
        return article

    def add_translation(
        self, article_id: int, locale: str, title: str, body: str, *, draft: bool = False
    ) -> Translation:
        """A translation; like Zendesk, it moves the article's ``updated_at`` on."""
        article = self.articles[article_id]
        when = self.tick()
        translation = Translation(locale, title, body, draft, when)
        article.translations[locale] = translation
        article.updated_at = when
        return translation

    def change(
        self,
        article_id: int,
        *,
        title: str | None = None,
        body: str | None = None,
        labels: list[str] | None = None,
    ) -> FakeArticle:
        article = self.articles[article_id]
        if title is not None:
            article.title = title
        if body is not None:
            article.body = body
        if labels is not None:
            article.label_names = list(labels)
        article.updated_at = self.tick()
        return article

    def delete(self, article_id: int) -> None:
        del self.articles[article_id]

    def archive(self, article_id: int) -> None:
        """Archived: gone from the export and from Show Article."""
        self.articles[article_id].archived = True
        self.articles[article_id].updated_at = self.tick()

    def unpublish(self, article_id: int) -> None:
        """Back to a draft in its source locale."""
        self.articles[article_id].draft = True
        self.articles[article_id].updated_at = self.tick()

    def restrict(self, article_id: int, user_segment_id: int = 360000987601) -> None:
        """Visible to one user segment only (signed-in users, agents, some organisations)."""
        self.articles[article_id].user_segment_id = user_segment_id
        self.articles[article_id].updated_at = self.tick()

    def fail(self, path: str, status: int = 500, *, times: int | None = None) -> None:
        """Requests to ``path`` ("*": any) answer ``status``, ``times`` times or for good."""
        self.faults.setdefault(path, []).append(Fault(status, times))

    def rate_limit(self, path: str, *, times: int = 1, retry_after: str | None = "7") -> None:
        """Requests to ``path`` answer 429 with ``Retry-After`` (None: without it)."""
        self.faults.setdefault(path, []).append(Fault(429, times, retry_after))

    def article_path(self, article_id: int, locale: str | None = None) -> str:
        prefix = f"/api/v2/help_center/{locale}" if locale else "/api/v2/help_center"
        return f"{prefix}/articles/{article_id}"

    def html_url(self, article_id: int, locale: str | None = None) -> str:
        article = self.articles[article_id]
        locale = locale or article.locale
        title = (
            article.translations[locale].title if locale in article.translations else article.title
        )
        return f"{self.public}/hc/{locale}/articles/{article_id}-{_slug(title)}"

    def export_requests(self) -> list[Seen]:
        return [seen for seen in self.requests if seen.path in EXPORT_PATHS]

    def requests_for(self, path: str) -> list[Seen]:
        return [seen for seen in self.requests if seen.path == path]

    # ------------------------------------------------------------------ the server

    def application(self) -> web.Application:
        @web.middleware
        async def guard(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            headers = {name.lower(): value for name, value in request.headers.items()}
            self.requests.append(Seen(request.method, request.path, dict(request.query), headers))
            fault = self._fault(request.path)
            if fault is not None:
                return self._fault_answer(fault)
            if not self._authorised(request.headers.get("Authorization", "")):
                return web.json_response({"error": "Couldn't authenticate you"}, status=401)
            return await handler(request)

        app = web.Application(middlewares=[guard])
        for path in EXPORT_PATHS:
            app.router.add_get(path, self._export)
        app.router.add_get(r"/api/v2/help_center/articles/{id:\d+}", self._show)
        app.router.add_get(r"/api/v2/help_center/articles/{id:\d+}.json", self._show)
        app.router.add_get(r"/api/v2/help_center/{locale}/articles/{id:\d+}", self._show)
        app.router.add_get(r"/api/v2/help_center/{locale}/articles/{id:\d+}.json", self._show)
        return app

    def _fault(self, path: str) -> Fault | None:
        for name in (path, "*"):
            faults = self.faults.get(name, [])
            while faults:
                fault = faults[0]
                if fault.times is None:
                    return fault
                if fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        faults.pop(0)
                    return fault
                faults.pop(0)
        return None

    @staticmethod
    def _fault_answer(fault: Fault) -> web.Response:
        if fault.status == 429:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            return web.json_response(
                {
                    "error": "APIRateLimitExceeded",
                    "description": "Number of allowed API requests per minute exceeded",
                },
                status=429,
                headers=headers,
            )
        if fault.status >= 500:
            return web.json_response(
                {"error": "InternalError", "description": "Something went wrong on our side"},
                status=fault.status,
            )
        return web.json_response(
            {
                "error": "Forbidden",
                "description": "You do not have access to this page. Please contact the account"
                " owner of this help desk for further help.",
            },
            status=fault.status,
        )

    def _authorised(self, authorization: str) -> bool:
        scheme, _, value = authorization.partition(" ")
        if scheme == "Bearer":
            return self.oauth_token is not None and value == self.oauth_token
        if scheme == "Basic":
            try:
                pair = base64.b64decode(value, validate=True).decode()
            except ValueError:
                return False
            return pair == f"{self.email}/token:{self.api_token}"
        return False

    async def _export(self, request: web.Request) -> web.Response:
        raw = request.query.get("start_time", "")
        if not raw.isdigit():
            return web.json_response(
                {"error": "InvalidValue", "description": "start_time must be an epoch time"},
                status=400,
            )
        start = int(raw)
        listed = sorted(
            (
                a
                for a in self.articles.values()
                if not a.archived and a.updated_at.timestamp() >= start
            ),
            key=lambda a: (a.updated_at, a.id),
        )
        page = listed[: self.page_size]
        end_time = int(page[-1].updated_at.timestamp()) if page else start
        next_page = (
            f"{self.public}/api/v2/help_center/incremental/articles.json?start_time={end_time}"
            if len(page) == self.page_size
            else None
        )
        return web.json_response(
            {
                "articles": [self._json(a, a.locale) for a in page],
                "next_page": next_page,
                "count": len(page),
                "end_time": end_time,
            }
        )

    async def _show(self, request: web.Request) -> web.Response:
        article = self.articles.get(int(request.match_info["id"]))
        locale = request.match_info.get("locale")
        if article is None or article.archived:
            return self._not_found()
        locale = (locale or article.locale).lower()
        if locale != article.locale and locale not in article.translations:
            return self._not_found()
        return web.json_response({"article": self._json(article, locale)})

    @staticmethod
    def _not_found() -> web.Response:
        return web.json_response(
            {"error": "RecordNotFound", "description": "Not found"}, status=404
        )

    def _json(self, article: FakeArticle, locale: str) -> dict[str, Any]:
        translation = article.translations.get(locale)
        title = translation.title if translation else article.title
        body = translation.body if translation else article.body
        draft = translation.draft if translation else article.draft
        edited = translation.updated_at if translation else article.updated_at
        return {
            "id": article.id,
            "url": f"{self.public}/api/v2/help_center/{locale}/articles/{article.id}.json",
            "html_url": f"{self.public}/hc/{locale}/articles/{article.id}-{_slug(title)}",
            "author_id": 360012345601,
            "comments_disabled": False,
            "draft": draft,
            "promoted": False,
            "position": 0,
            "vote_sum": 0,
            "vote_count": 0,
            "section_id": article.section_id,
            "created_at": _iso(article.created_at),
            "updated_at": _iso(article.updated_at),
            "edited_at": _iso(edited),
            "name": title,
            "title": title,
            "source_locale": article.locale,
            "locale": locale,
            "outdated": False,
            "outdated_locales": [],
            "permission_group_id": 360000456701,
            "user_segment_id": article.user_segment_id,
            "user_segment_ids": [article.user_segment_id] if article.user_segment_id else [],
            "content_tag_ids": [],
            "label_names": list(article.label_names),
            "body": body,
        }
