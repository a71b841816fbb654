"""A fake Confluence Cloud REST API v2 on 127.0.0.1 for the Confluence connector's tests.

:class:`ConfluenceAPI` answers the three reads a sync makes, in the real API's shapes:

- ``GET /wiki/api/v2/spaces?keys=KEY`` → ``{"results": [space, ...], "_links": {"base": ...}}``;
- ``GET /wiki/api/v2/spaces/{id}/pages`` → page summaries (``id``, ``status``, ``title``,
  ``spaceId``, ``parentId``, ``authorId``, ``createdAt``, ``version{number, createdAt, ...}``,
  ``body`` (``{}`` unless ``body-format`` is given), ``_links{webui, editui, tinyui}``), sorted
  by id, ``limit`` of them (default 25, at most 250), ``status`` filtering (by default current
  and archived, as the real one does), and an opaque ``cursor``: the next page of results is
  named by ``_links.next`` (a URL relative to the site, ``/wiki/api/v2/...``) and by the
  ``Link`` header (``<...>; rel="next", <base>; rel="base"``);
- ``GET /wiki/api/v2/pages/{id}?body-format=storage`` → one page with
  ``body.storage{representation, value}`` and ``_links`` with ``base``.

Errors have the v2 shape ``{"errors": [{"status", "code", "title", "detail"}]}``: 404 for a
page that is missing, trashed, a draft or restricted away from the account, 400 for a bad
``limit`` or ``body-format``. Every request needs the credentials the fake was made with
(HTTP Basic ``email:token``, or ``Bearer token`` without an email), else it is a 401.

The space ``DOCS`` holds the articles of :data:`ARTICLES` and the traps a sync must step around
(an archived page, a draft, a trashed page and one restricted away from the account); ``ENG``
holds a page of another space. Tests add pages (:meth:`add_page`), change them
(:meth:`change`: a new version), take them away (:meth:`trash`, :meth:`archive`,
:meth:`restrict`, :meth:`purge`), make requests fail (:meth:`fail` with a 5xx,
:meth:`rate_limit` with a 429 and ``Retry-After``, N times or for good) and read what arrived
in :attr:`requests` (method, path, query, headers with lower-case names).
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.sandbox.local_server import LocalServer
from tests.fakes.recorded import Seen

__all__ = ["ARTICLES", "EMAIL", "TOKEN", "ConfluenceAPI", "FakePage", "Seen"]

EMAIL = "support-bot@acme.example"
TOKEN = "ATATT3xFfGF0-fake-confluence-token-5e2c"  # what an Atlassian API token looks like
FIRST_PUBLISHED = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
AUTHOR = "557058:f3b7c0de-1111-4a2b-9c3d-0123456789ab"
API = "/wiki/api/v2"

# The articles of the DOCS space: title → storage format (XHTML with ac:/ri: macros).
ARTICLES: dict[str, str] = {
    "Getting started with Acme": """\
<ac:structured-macro ac:name="toc" ac:schema-version="1" ac:macro-id="4f1c"><ac:parameter \
ac:name="maxLevel">2</ac:parameter></ac:structured-macro>
<p>Acme turns the data your team already has into reports everyone can read.</p>
<h2>Create your account</h2>
<p>Go to the sign-up page and enter your work email address. The confirmation link stays \
valid for&nbsp;24 hours.</p>
<h2>Invite your team</h2>
<p>Open <strong>Settings</strong>, then <strong>Members</strong>, and click \
<em>Invite people</em>.</p>
<h3>Roles</h3>
<ul><li><p>Viewers can open and export reports.</p></li><li><p>Editors can also build \
reports.</p><ul><li><p>Editors of a folder can move its reports.</p></li></ul></li>\
<li><p>Administrators manage billing and members.</p></li></ul>
<ac:structured-macro ac:name="info" ac:schema-version="1"><ac:parameter ac:name="title">\
Single sign-on</ac:parameter><ac:rich-text-body><p>With single sign-on, people join from your \
identity provider instead.</p></ac:rich-text-body></ac:structured-macro>
<ac:image ac:height="250"><ri:attachment ri:filename="members.png" /></ac:image>""",
    "Export a report as CSV": """\
<p>Any report can be downloaded as a CSV file to open in a spreadsheet.</p>
<h2>From the report page</h2>
<ol><li><p>Open the report you want to export.</p></li><li><p>Click <strong>Export</strong> in \
the top-right corner.</p></li><li><p>Choose <strong>CSV</strong> and confirm.</p></li></ol>
<h2>From the API</h2>
<ac:structured-macro ac:name="code" ac:schema-version="1"><ac:parameter ac:name="language">\
bash</ac:parameter><ac:plain-text-body><![CDATA[curl -H "Accept: text/csv" \\
  "https://api.acme.example/reports/42/export?rows=all&sep=;" > report.csv]]>\
</ac:plain-text-body></ac:structured-macro>
<h2>Limits</h2>
<table data-layout="default"><colgroup><col /><col /></colgroup><tbody><tr><th><p>Plan</p></th>\
<th><p>Rows per export</p></th></tr><tr><td><p>Starter</p></td><td><p>10,000</p></td></tr><tr>\
<td><p>Business</p></td><td><p>1,000,000</p></td></tr></tbody></table>
<ac:structured-macro ac:name="jira" ac:schema-version="1"><ac:parameter ac:name="key">\
ACME-1234</ac:parameter><ac:parameter ac:name="server">System JIRA</ac:parameter>\
</ac:structured-macro>""",
    "Refunds and cancellations": """\
<p>You can cancel your plan at any time from the billing page.</p>
<h2>Who can get a refund</h2>
<p>Annual plans cancelled within 30 days of purchase are refunded in full.</p>
<ac:structured-macro ac:name="warning" ac:schema-version="1"><ac:rich-text-body><p>Monthly \
plans are not refunded.</p></ac:rich-text-body></ac:structured-macro>
<h2>How to request a refund</h2>
<p>Write to billing@acme.example with your invoice number; see <ac:link><ri:page \
ri:content-title="Invoices" /><ac:plain-text-link-body><![CDATA[where to find invoices]]>\
</ac:plain-text-link-body></ac:link>.</p>""",
    "Reset your password": """\
<p>You can choose a new password from the sign-in page.</p>
<h2>Request a reset link</h2>
<ac:task-list><ac:task><ac:task-id>1</ac:task-id><ac:task-status>incomplete</ac:task-status>\
<ac:task-body>Click <em>Forgot password?</em></ac:task-body></ac:task><ac:task><ac:task-id>2\
</ac:task-id><ac:task-status>incomplete</ac:task-status><ac:task-body>Open the link within one \
hour</ac:task-body></ac:task></ac:task-list>
<h2>If the email does not arrive</h2>
<blockquote><p>Check your spam folder first.</p></blockquote>""",
    "Invoices": """\
<p>Invoices are on the billing page, one per payment.</p>
<ac:layout><ac:layout-section ac:type="two_equal"><ac:layout-cell><h2>Download an invoice</h2>\
<p>Click the invoice's date to download it as a PDF.</p></ac:layout-cell><ac:layout-cell>\
<h2>Change the billing address</h2><p>Edit the address before the next payment.</p>\
</ac:layout-cell></ac:layout-section></ac:layout>
<ac:structured-macro ac:name="attachments" ac:schema-version="1" />""",
}

# Pages in DOCS that a sync must not yield.
TRAPS: dict[str, tuple[str, str]] = {
    "Old pricing (archived)": ("archived", "<p>Prices from 2019.</p>"),
    "Next release notes (draft)": ("draft", "<p>Not published yet.</p>"),
    "Deleted page": ("trashed", "<p>Moved to the trash.</p>"),
}
RESTRICTED_TITLE = "Support runbook (staff only)"


@dataclass
class FakeSpace:
    id: str
    key: str
    name: str


@dataclass
class FakePage:
    id: str
    title: str
    storage: str
    space_id: str
    status: str = "current"
    version: int = 1
    restricted: bool = False  # a view restriction the token's account is not part of
    parent_id: str | None = None
    created_at: datetime = FIRST_PUBLISHED
    edited_at: datetime = FIRST_PUBLISHED


@dataclass
class Fault:
    status: int
    times: int | None  # None: for good
    retry_after: str | None = None
    skip: int = 0  # matching requests answered normally first
    served: int = field(default=0)


class ConfluenceAPI(LocalServer):
    """The fake Confluence Cloud API; see the module docstring."""

    name = "the fake Confluence API"

    def __init__(
        self,
        *,
        email: str | None = EMAIL,
        token: str = TOKEN,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(tls=tls)
        self.email = email
        self.token = token
        self.requests: list[Seen] = []
        self.faults: dict[str, list[Fault]] = {}
        self.next_in_body = True  # False: the next page is named by the Link header only
        self.spaces = {
            "DOCS": FakeSpace("98305", "DOCS", "Acme Help"),
            "ENG": FakeSpace("98306", "ENG", "Engineering"),
        }
        self.pages: dict[str, FakePage] = {}
        self._next_id = 65537
        home = self.add_page("Acme Help home", "<p>Welcome to the Acme help pages.</p>")
        for title, storage in ARTICLES.items():
            self.add_page(title, storage, parent_id=home)
        for title, (status, storage) in TRAPS.items():
            self.add_page(title, storage, status=status, parent_id=home)
        self.add_page(RESTRICTED_TITLE, "<p>Escalate to on-call.</p>", restricted=True)
        self.add_page("Deploying the API", "<p>Internal.</p>", space="ENG")

    # ------------------------------------------------------------------ what tests change

    def add_page(
        self,
        title: str,
        storage: str,
        *,
        space: str = "DOCS",
        status: str = "current",
        restricted: bool = False,
        parent_id: str | None = None,
    ) -> str:
        page_id = str(self._next_id)
        self._next_id += 1
        self.pages[page_id] = FakePage(
            id=page_id,
            title=title,
            storage=storage,
            space_id=self.spaces[space].id,
            status=status,
            restricted=restricted,
            parent_id=parent_id,
        )
        return page_id

    def change(self, page_id: str, *, storage: str | None = None, title: str | None = None) -> None:
        """A new version of the page: its body or title replaced, an hour later."""
        page = self.pages[page_id]
        if storage is not None:
            page.storage = storage
        if title is not None:
            page.title = title
        page.version += 1
        page.edited_at += timedelta(hours=1)

    def trash(self, page_id: str) -> None:
        self._status(page_id, "trashed")

    def archive(self, page_id: str) -> None:
        self._status(page_id, "archived")

    def restrict(self, page_id: str) -> None:
        """Restrict the page to a group the token's account is not in."""
        self.pages[page_id].restricted = True

    def purge(self, page_id: str) -> None:
        """Gone for good (purged from the trash)."""
        del self.pages[page_id]

    def _status(self, page_id: str, status: str) -> None:
        page = self.pages[page_id]
        page.status = status
        page.version += 1

    def fail(self, path: str, status: int = 500, *, times: int | None = 1, skip: int = 0) -> None:
        """The next ``times`` requests to ``path`` (None: all of them), after ``skip`` served
        normally, answer ``status``."""
        self.faults.setdefault(path, []).append(Fault(status, times, skip=skip))

    def rate_limit(
        self, path: str, *, times: int | None = 1, retry_after: str | None = "3", skip: int = 0
    ) -> None:
        """The next ``times`` requests to ``path`` answer 429 with ``Retry-After``."""
        self.faults.setdefault(path, []).append(Fault(429, times, retry_after, skip=skip))

    # ------------------------------------------------------------------ what tests read

    def id_of(self, title: str) -> str:
        (page_id,) = [p.id for p in self.pages.values() if p.title == title]
        return page_id

    def visible(self, space: str = "DOCS") -> dict[str, FakePage]:
        """The pages a sync should yield: current, in the space, not restricted away."""
        return {
            p.id: p
            for p in self.pages.values()
            if p.space_id == self.spaces[space].id and p.status == "current" and not p.restricted
        }

    def listing_path(self, space: str = "DOCS") -> str:
        return f"{API}/spaces/{self.spaces[space].id}/pages"

    @staticmethod
    def page_path(page_id: str) -> str:
        return f"{API}/pages/{page_id}"

    def requests_to(self, path: str) -> list[Seen]:
        return [seen for seen in self.requests if seen.path == path]

    def paths(self) -> list[str]:
        return [seen.path for seen in self.requests]

    def expected_authorization(self) -> str:
        if self.email:
            pair = base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
            return f"Basic {pair}"
        return f"Bearer {self.token}"

    # ------------------------------------------------------------------ the server

    def application(self) -> web.Application:
        @web.middleware
        async def gate(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            self.requests.append(
                Seen(
                    request.method,
                    request.path,
                    dict(request.query),
                    {name.lower(): value for name, value in request.headers.items()},
                )
            )
            fault = self._fault(request.path)
            if fault is not None:
                return fault
            if request.headers.get("Authorization") != self.expected_authorization():
                return _json({"code": 401, "message": "Unauthorized"}, status=401)
            return await handler(request)

        app = web.Application(middlewares=[gate])
        app.router.add_get(f"{API}/spaces", self._spaces)
        app.router.add_get(API + "/spaces/{id}/pages", self._space_pages)
        app.router.add_get(API + "/pages/{id}", self._page)
        app.router.add_route("*", "/{path:.*}", self._not_found)
        return app

    def _fault(self, path: str) -> web.Response | None:
        for fault in self.faults.get(path, []):
            if fault.times is not None and fault.served >= fault.times + fault.skip:
                continue
            fault.served += 1
            if fault.served <= fault.skip:
                return None
            if fault.status == 429:
                return self._too_many(fault.retry_after)
            return _error(fault.status, "INTERNAL_SERVER_ERROR", "Something went wrong")
        return None

    @staticmethod
    def _too_many(retry_after: str | None) -> web.Response:
        headers = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0"}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
            with contextlib.suppress(ValueError):
                reset = datetime.now(UTC) + timedelta(seconds=float(retry_after))
                headers["X-RateLimit-Reset"] = reset.strftime("%Y-%m-%dT%H:%MZ")
        return _error(429, "TOO_MANY_REQUESTS", "Rate limit exceeded", headers=headers)

    @staticmethod
    def _base(request: web.Request) -> str:
        # The site as the request reached it (a proxied name keeps its port).
        return f"{request.url.origin()}/wiki"

    async def _not_found(self, request: web.Request) -> web.Response:
        return _error(404, "NOT_FOUND", "Not Found")

    async def _spaces(self, request: web.Request) -> web.Response:
        keys = _listed_values(request, "keys")
        spaces = [s for s in self.spaces.values() if not keys or s.key in keys]
        spaces.sort(key=lambda s: int(s.id))
        results = [
            {
                "id": s.id,
                "key": s.key,
                "name": s.name,
                "type": "global",
                "status": "current",
                "authorId": AUTHOR,
                "createdAt": _iso(FIRST_PUBLISHED),
                "homepageId": min(
                    (p.id for p in self.pages.values() if p.space_id == s.id), default=None
                ),
                "description": None,
                "icon": None,
                "_links": {"webui": f"/spaces/{s.key}"},
            }
            for s in spaces
        ]
        return _json({"results": results, "_links": {"base": self._base(request)}})

    async def _space_pages(self, request: web.Request) -> web.Response:
        space = next((s for s in self.spaces.values() if s.id == request.match_info["id"]), None)
        if space is None:
            return _error(
                404, "NOT_FOUND", f"Cannot find a space with id [{request.match_info['id']}]"
            )
        try:
            limit = int(request.query.get("limit", "25"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 250:
            return _error(400, "INVALID_REQUEST_PARAMETER", "limit must be between 1 and 250")
        body_format = request.query.get("body-format")
        if body_format not in {None, "storage", "atlas_doc_format"}:
            return _error(400, "INVALID_REQUEST_PARAMETER", f"Invalid body-format {body_format}")
        statuses = set(_listed_values(request, "status")) or {"current", "archived"}
        after = _decode_cursor(request.query.get("cursor"))
        if after is None:
            return _error(400, "INVALID_REQUEST_PARAMETER", "Invalid cursor")
        matching = sorted(
            (
                p
                for p in self.pages.values()
                if p.space_id == space.id
                and p.status in statuses
                and not p.restricted
                and int(p.id) > after
            ),
            key=lambda p: int(p.id),
        )
        shown = matching[:limit]
        base = self._base(request)
        links: dict[str, str] = {"base": base}
        headers: dict[str, str] = {}
        if len(matching) > limit:
            query = [(k, v) for k, v in request.query.items() if k != "cursor"]
            query.append(("cursor", _encode_cursor(int(shown[-1].id))))
            following = f"{request.path}?{urlencode(query)}"
            if self.next_in_body:
                links["next"] = following
            headers["Link"] = f'<{following}>; rel="next", <{base}>; rel="base"'
        results = [self._page_json(p, space, body_format) for p in shown]
        return _json({"results": results, "_links": links}, headers=headers)

    async def _page(self, request: web.Request) -> web.Response:
        page = self.pages.get(request.match_info["id"])
        wanted = set(_listed_values(request, "status")) or {"current", "archived"}
        if page is None or page.restricted or page.status not in wanted:
            return _error(404, "NOT_FOUND", "Not Found")
        space = next(s for s in self.spaces.values() if s.id == page.space_id)
        body_format = request.query.get("body-format")
        data = self._page_json(page, space, body_format)
        data["_links"]["base"] = self._base(request)
        return _json(data)

    @staticmethod
    def _page_json(page: FakePage, space: FakeSpace, body_format: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if body_format == "storage":
            body = {"storage": {"representation": "storage", "value": page.storage}}
        elif body_format == "atlas_doc_format":
            body = {"atlas_doc_format": {"representation": "atlas_doc_format", "value": "{}"}}
        slug = re.sub(r"[^A-Za-z0-9]+", "+", page.title).strip("+")
        return {
            "parentType": "page" if page.parent_id else None,
            "parentId": page.parent_id,
            "ownerId": AUTHOR,
            "lastOwnerId": None,
            "createdAt": _iso(page.created_at),
            "authorId": AUTHOR,
            "position": int(page.id) % 1000,
            "version": {
                "number": page.version,
                "message": "",
                "minorEdit": False,
                "authorId": AUTHOR,
                "createdAt": _iso(page.edited_at),
            },
            "body": body,
            "status": page.status,
            "title": page.title,
            "spaceId": page.space_id,
            "id": page.id,
            "_links": {
                "editui": f"/pages/resumedraft.action?draftId={page.id}",
                "webui": f"/spaces/{space.key}/pages/{page.id}/{slug}",
                "edituiv2": f"/spaces/{space.key}/pages/edit-v2/{page.id}",
                "tinyui": "/x/" + base64.urlsafe_b64encode(page.id.encode()).decode().rstrip("="),
            },
        }


def _json(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(data), status=status, content_type="application/json", headers=headers
    )


def _error(
    status: int, code: str, title: str, *, headers: dict[str, str] | None = None
) -> web.Response:
    error = {"status": status, "code": code, "title": title, "detail": None}
    return _json({"errors": [error]}, status=status, headers=headers)


def _listed_values(request: web.Request, name: str) -> list[str]:
    """A multi-valued parameter, repeated (``status=a&status=b``) or comma-separated."""
    return [
        v.strip() for raw in request.query.getall(name, []) for v in raw.split(",") if v.strip()
    ]


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _encode_cursor(after: int) -> str:
    return base64.urlsafe_b64encode(f"id>{after}|page".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> int | None:
    """The id a cursor continues after (0 for none), or None for one that is not ours."""
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError:
        return None
    match = re.fullmatch(r"id>(\d+)\|page", text)
    return int(match.group(1)) if match else None
