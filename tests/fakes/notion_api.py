"""A fake Notion API on 127.0.0.1 for the Notion connector's tests.

:class:`FakeNotion` answers the endpoints a reader of pages uses, in the shapes of Notion's API
(Notion-Version 2025-09-03): ``POST /v1/search`` (pages and data sources shared with the
integration; ``filter``, ``page_size`` of at most 100, ``start_cursor``), ``GET /v1/pages/{id}``,
``GET /v1/blocks/{id}`` and ``GET /v1/blocks/{id}/children`` (``page_size``, ``start_cursor``).
Lists are ``{"object": "list", "results": [...], "next_cursor", "has_more", "type", ...}``
whose cursors are the id of the next item; errors are ``{"object": "error", "status", "code",
"message", "request_id"}`` (``unauthorized`` without the right ``Authorization: Bearer``,
``missing_version`` without ``Notion-Version``, ``validation_error``, ``object_not_found``,
``rate_limited`` with ``Retry-After``, ``internal_server_error``, ``service_unavailable``; a 502
is an HTML page, as a load balancer's is).

Like Notion, a list may hold fewer items than ``page_size`` asked for: :attr:`FakeNotion.
page_limit` caps every list, so a handful of pages spans several answers. Pages live in a tree:
a page added under another page (or under a block of it: a toggle, a column) also becomes a
``child_page`` block there, and pages of a database have a ``data_source_id`` parent.

Tests build content with the block builders below (:func:`paragraph`, :func:`heading`,
:func:`bullet`, :func:`table`…), add pages (:meth:`FakeNotion.add_page`), edit them
(:meth:`FakeNotion.change`: new blocks or title, ``last_edited_time`` a minute later), move them
to the trash (:meth:`FakeNotion.trash`), delete them for good (:meth:`FakeNotion.delete`),
stop sharing them with the integration (:meth:`FakeNotion.unshare`), and make requests fail
(:meth:`FakeNotion.fail`: a status N times or for ever; :meth:`FakeNotion.rate_limit`: 429 with
``Retry-After`` N times). Every request is kept, in order, in :attr:`FakeNotion.requests`
(method, path, query, headers with lower-case names, JSON body).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from bot.sandbox.local_server import LocalServer
from tests.fakes.recorded import Seen

__all__ = [
    "FIRST_EDITED",
    "TOKEN",
    "FakeNotion",
    "Seen",
    "bookmark",
    "bullet",
    "callout",
    "code",
    "column_list",
    "divider",
    "equation",
    "heading",
    "image",
    "numbered",
    "paragraph",
    "quote",
    "table",
    "text",
    "todo",
    "toggle",
]

TOKEN = "ntn_fake_1234567890abcdefTOPSECRET"
FIRST_EDITED = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
USER_ID = "c2f20311-9e54-4d11-8c79-7398424ae41e"
MAX_PAGE_SIZE = 100

Spec = dict[str, Any]  # a block as the builders make it: {"type": t, t: {...}, "children": [...]}


@dataclass
class Fault:
    status: int
    times: int | None  # None: every matching request
    path: str | None  # a prefix of the path; None: any
    method: str | None
    retry_after: str | None = None
    after: int = 0  # matching requests let through before the fault starts


@dataclass
class FakePage:
    id: str
    title: str
    parent: dict[str, Any]
    created: datetime
    edited: datetime
    blocks: list[str] = field(default_factory=list)  # ids of its top-level blocks
    title_property: str = "title"
    extra_properties: dict[str, Any] = field(default_factory=dict)
    in_trash: bool = False
    archived: bool = False
    shared: bool = True
    public_url: str | None = None


# ---------------------------------------------------------------------- rich text and blocks


def text(content: str, *, code: bool = False, bold: bool = False, link: str | None = None) -> Spec:
    """One rich text item of type ``text``."""
    return {
        "type": "text",
        "text": {"content": content, "link": {"url": link} if link else None},
        "annotations": {
            "bold": bold,
            "italic": False,
            "strikethrough": False,
            "underline": False,
            "code": code,
            "color": "default",
        },
        "plain_text": content,
        "href": link,
    }


def mention(page_id: str, title: str) -> Spec:
    """A rich text mention of a page: its plain text is the page's title."""
    return {
        "type": "mention",
        "mention": {"type": "page", "page": {"id": page_id}},
        "annotations": text("")["annotations"],
        "plain_text": title,
        "href": f"https://www.notion.so/{page_id.replace('-', '')}",
    }


def _rich(parts: Sequence[str | Spec]) -> list[Spec]:
    return [text(part) if isinstance(part, str) else part for part in parts]


def _spec(kind: str, payload: dict[str, Any], children: Iterable[Spec] = ()) -> Spec:
    return {"type": kind, kind: payload, "children": list(children)}


def paragraph(*parts: str | Spec, children: Iterable[Spec] = ()) -> Spec:
    return _spec("paragraph", {"rich_text": _rich(parts), "color": "default"}, children)


def heading(
    level: int, *parts: str | Spec, toggleable: bool = False, children: Iterable[Spec] = ()
) -> Spec:
    payload = {"rich_text": _rich(parts), "is_toggleable": toggleable, "color": "default"}
    return _spec(f"heading_{level}", payload, children)


def bullet(*parts: str | Spec, children: Iterable[Spec] = ()) -> Spec:
    return _spec("bulleted_list_item", {"rich_text": _rich(parts), "color": "default"}, children)


def numbered(*parts: str | Spec, children: Iterable[Spec] = ()) -> Spec:
    return _spec("numbered_list_item", {"rich_text": _rich(parts), "color": "default"}, children)


def todo(*parts: str | Spec, checked: bool = False, children: Iterable[Spec] = ()) -> Spec:
    payload = {"rich_text": _rich(parts), "checked": checked, "color": "default"}
    return _spec("to_do", payload, children)


def toggle(*parts: str | Spec, children: Iterable[Spec] = ()) -> Spec:
    return _spec("toggle", {"rich_text": _rich(parts), "color": "default"}, children)


def quote(*parts: str | Spec, children: Iterable[Spec] = ()) -> Spec:
    return _spec("quote", {"rich_text": _rich(parts), "color": "default"}, children)


def callout(*parts: str | Spec, emoji: str = "💡", children: Iterable[Spec] = ()) -> Spec:
    payload = {
        "rich_text": _rich(parts),
        "icon": {"type": "emoji", "emoji": emoji},
        "color": "gray_background",
    }
    return _spec("callout", payload, children)


def code(source: str, language: str = "python", caption: str = "") -> Spec:
    payload = {
        "rich_text": [text(source)],
        "language": language,
        "caption": _rich([caption] if caption else []),
    }
    return _spec("code", payload)


def divider() -> Spec:
    return _spec("divider", {})


def equation(expression: str) -> Spec:
    return _spec("equation", {"expression": expression})


def image(url: str, caption: str = "") -> Spec:
    payload = {
        "type": "external",
        "external": {"url": url},
        "caption": _rich([caption] if caption else []),
    }
    return _spec("image", payload)


def bookmark(url: str) -> Spec:
    return _spec("bookmark", {"url": url, "caption": []})


def table(rows: Sequence[Sequence[str]], *, header: bool = True) -> Spec:
    width = max((len(row) for row in rows), default=0)
    cells = [
        _spec("table_row", {"cells": [[text(cell)] if cell else [] for cell in row]})
        for row in rows
    ]
    payload = {"table_width": width, "has_column_header": header, "has_row_header": False}
    return _spec("table", payload, cells)


def column_list(*columns: Sequence[Spec]) -> Spec:
    return _spec(
        "column_list", {}, [_spec("column", {"width_ratio": 1 / len(columns)}, c) for c in columns]
    )


# ---------------------------------------------------------------------- the fake


class FakeNotion(LocalServer):
    """The fake Notion API; see the module docstring."""

    name = "the fake Notion API"

    def __init__(self, *, token: str = TOKEN, page_limit: int = MAX_PAGE_SIZE) -> None:
        super().__init__()
        self.token = token
        self.page_limit = page_limit  # the most items one list answer holds
        self.search_lists_trashed = True  # a trap: the connector must look at in_trash itself
        self.pages: dict[str, FakePage] = {}
        self.blocks: dict[str, dict[str, Any]] = {}  # id → block object, "_children" its ids
        self.data_sources: list[dict[str, Any]] = [_data_source()]
        self.requests: list[Seen] = []
        self.faults: list[Fault] = []
        self._clock = FIRST_EDITED

    # ------------------------------------------------------------------ what tests change

    def add_page(
        self,
        title: str,
        blocks: Iterable[Spec] = (),
        *,
        parent: str | None = None,
        parent_block: str | None = None,
        data_source: str | None = None,
        title_property: str = "title",
        edited: datetime | None = None,
        public_url: str | None = None,
        shared: bool = True,
    ) -> str:
        """A new page at the top of the workspace, under page ``parent``, under a block of a
        page (``parent_block``) or in a database (``data_source``); returns its id."""
        page_id = str(uuid.uuid4())
        when = edited or self._tick()
        where: dict[str, Any]
        if parent is not None:
            where = {"type": "page_id", "page_id": parent}
        elif parent_block is not None:
            where = {"type": "block_id", "block_id": parent_block}
        elif data_source is not None:
            where = {
                "type": "data_source_id",
                "data_source_id": data_source,
                "database_id": str(uuid.uuid4()),
            }
        else:
            where = {"type": "workspace", "workspace": True}
        page = FakePage(
            page_id,
            title,
            where,
            created=when,
            edited=when,
            title_property=title_property,
            public_url=public_url,
            shared=shared,
        )
        if data_source is not None:
            page.extra_properties = {
                "Status": {
                    "id": "Z%3ClH",
                    "type": "status",
                    "status": {"id": "86ddb6ec", "name": "Published", "color": "green"},
                }
            }
        self.pages[page_id] = page
        page.blocks = self._store({"type": "page_id", "page_id": page_id}, blocks, when)
        # A child page is also a block of its parent, as in Notion.
        if parent is not None or parent_block is not None:
            holder = parent or str(parent_block)
            self._append_child_page(holder, page_id, title, when)
        return page_id

    def change(
        self,
        page_id: str,
        blocks: Iterable[Spec] | None = None,
        *,
        title: str | None = None,
        edited: datetime | None = None,
    ) -> None:
        """New content or title: ``last_edited_time`` moves a minute on (or to ``edited``)."""
        page = self.pages[page_id]
        page.edited = edited or max(self._tick(), page.edited + timedelta(minutes=1))
        if title is not None:
            page.title = title
        if blocks is not None:
            for block_id in page.blocks:
                self._forget(block_id)
            page.blocks = self._store({"type": "page_id", "page_id": page_id}, blocks, page.edited)

    def append(self, page_id: str, *blocks: Spec) -> None:
        """Blocks added at the end of the page (``PATCH /v1/blocks/{id}/children``)."""
        page = self.pages[page_id]
        page.edited = max(self._tick(), page.edited + timedelta(minutes=1))
        page.blocks += self._store({"type": "page_id", "page_id": page_id}, blocks, page.edited)

    def trash(self, page_id: str, *, field: str = "in_trash") -> None:
        """The page goes to the trash: ``in_trash`` (and ``archived``, its older name) true;
        ``field="archived"`` sets only that, as an older answer would."""
        page = self.pages[page_id]
        page.archived = True
        page.in_trash = field != "archived"
        page.edited = max(self._tick(), page.edited + timedelta(minutes=1))

    def delete(self, page_id: str) -> None:
        """The page is gone for good: 404 everywhere, and not in the search."""
        page = self.pages.pop(page_id)
        for block_id in page.blocks:
            self._forget(block_id)

    def unshare(self, page_id: str) -> None:
        """The integration loses access: the page answers 404 and the search leaves it out."""
        self.pages[page_id].shared = False

    def fail(
        self,
        path: str | None,
        status: int = 500,
        *,
        times: int | None = None,
        method: str | None = None,
        retry_after: str | None = None,
        after: int = 0,
    ) -> None:
        """Requests whose path starts with ``path`` (any, for None) answer ``status``, the
        next ``times`` of them (every one, for None), once ``after`` of them got through."""
        self.faults.append(Fault(status, times, path, method, retry_after, after))

    def rate_limit(
        self, times: int, retry_after: str | None = "1", path: str | None = None
    ) -> None:
        """The next ``times`` requests (to ``path``) are rate-limited: 429 with Retry-After."""
        self.fail(path, 429, times=times, retry_after=retry_after)

    def page_url(self, page_id: str) -> str:
        return _page_url(self.pages[page_id].title, page_id)

    def block_ids(self, page_id: str, kind: str) -> list[str]:
        """The ids of the page's blocks of one type, at any depth, in order."""
        found: list[str] = []

        def walk(ids: list[str]) -> None:
            for block_id in ids:
                block = self.blocks[block_id]
                if block["type"] == kind:
                    found.append(block_id)
                walk(block["_children"])

        walk(self.pages[page_id].blocks)
        return found

    def paths(self) -> list[str]:
        return [seen.path for seen in self.requests]

    def requests_to(self, prefix: str) -> list[Seen]:
        return [seen for seen in self.requests if seen.path.startswith(prefix)]

    # ------------------------------------------------------------------ building

    def _tick(self) -> datetime:
        self._clock += timedelta(minutes=1)
        return self._clock

    def _store(self, parent: dict[str, Any], specs: Iterable[Spec], when: datetime) -> list[str]:
        ids = []
        for spec in specs:
            block_id = str(uuid.uuid4())
            kind = spec["type"]
            block = {
                "object": "block",
                "id": block_id,
                "parent": parent,
                "created_time": _time(when),
                "last_edited_time": _time(when),
                "created_by": {"object": "user", "id": USER_ID},
                "last_edited_by": {"object": "user", "id": USER_ID},
                "has_children": False,
                "archived": False,
                "in_trash": False,
                "type": kind,
                kind: spec[kind],
                "_children": [],
            }
            self.blocks[block_id] = block
            block["_children"] = self._store(
                {"type": "block_id", "block_id": block_id}, spec.get("children", ()), when
            )
            block["has_children"] = bool(block["_children"])
            ids.append(block_id)
        return ids

    def _append_child_page(self, holder: str, page_id: str, title: str, when: datetime) -> None:
        if holder in self.pages:
            parent = {"type": "page_id", "page_id": holder}
            siblings = self.pages[holder].blocks
        else:
            parent = {"type": "block_id", "block_id": holder}
            siblings = self.blocks[holder]["_children"]
            self.blocks[holder]["has_children"] = True
        self.blocks[page_id] = {
            "object": "block",
            "id": page_id,  # a child_page block has the page's own id
            "parent": parent,
            "created_time": _time(when),
            "last_edited_time": _time(when),
            "created_by": {"object": "user", "id": USER_ID},
            "last_edited_by": {"object": "user", "id": USER_ID},
            "has_children": True,
            "archived": False,
            "in_trash": False,
            "type": "child_page",
            "child_page": {"title": title},
            "_children": [],
        }
        siblings.append(page_id)

    def _forget(self, block_id: str) -> None:
        block = self.blocks.pop(block_id, None)
        if block is not None and block["type"] != "child_page":
            for child in block["_children"]:
                self._forget(child)

    # ------------------------------------------------------------------ shapes

    def _page_object(self, page: FakePage) -> dict[str, Any]:
        properties: dict[str, Any] = {
            page.title_property: {
                "id": "title",
                "type": "title",
                "title": [text(page.title)] if page.title else [],
            },
            **page.extra_properties,
        }
        return {
            "object": "page",
            "id": page.id,
            "created_time": _time(page.created),
            "last_edited_time": _time(page.edited),
            "created_by": {"object": "user", "id": USER_ID},
            "last_edited_by": {"object": "user", "id": USER_ID},
            "cover": None,
            "icon": {"type": "emoji", "emoji": "📄"},
            "parent": page.parent,
            "archived": page.archived,
            "in_trash": page.in_trash,
            "is_locked": False,
            "properties": properties,
            "url": _page_url(page.title, page.id),
            "public_url": page.public_url,
        }

    def _block_object(self, block: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in block.items() if k != "_children"}
        if block["type"] == "child_page" and block["id"] in self.pages:
            shown["child_page"] = {"title": self.pages[block["id"]].title}
        return shown

    def _visible(self, page_id: str) -> FakePage | None:
        page = self.pages.get(page_id)
        return page if page is not None and page.shared else None

    def _owner(self, block_id: str) -> FakePage | None:
        """The page a block belongs to (for a child_page block: the page holding it)."""
        block = self.blocks.get(block_id)
        for _ in range(100):
            if block is None:
                return None
            parent = block["parent"]
            if parent["type"] == "page_id":
                return self._visible(parent["page_id"])
            block = self.blocks.get(parent["block_id"])
        return None

    # ------------------------------------------------------------------ the server

    def application(self) -> web.Application:
        @web.middleware
        async def record(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            headers = {name.lower(): value for name, value in request.headers.items()}
            body = None
            if request.can_read_body:
                try:
                    body = json.loads(await request.read() or b"null")
                except ValueError:
                    body = {"<not JSON>": True}
            self.requests.append(
                Seen(request.method, request.path, dict(request.query), headers, body)
            )
            fault = self._fault(request)
            if fault is not None:
                return fault
            if headers.get("authorization") != f"Bearer {self.token}":
                return _error(401, "unauthorized", "API token is invalid.")
            if not headers.get("notion-version"):
                return _error(
                    400,
                    "missing_version",
                    "Notion-Version header failed validation: Notion-Version header should be"
                    " defined, instead was `undefined`.",
                )
            return await handler(request)

        app = web.Application(middlewares=[record])
        app.router.add_post("/v1/search", self._search)
        app.router.add_get("/v1/pages/{page_id}", self._page)
        app.router.add_get("/v1/blocks/{block_id}/children", self._children)
        app.router.add_get("/v1/blocks/{block_id}", self._block)
        return app

    def _fault(self, request: web.Request) -> web.Response | None:
        for fault in self.faults:
            if fault.times == 0:
                continue
            if fault.path is not None and not request.path.startswith(fault.path):
                continue
            if fault.method is not None and fault.method != request.method:
                continue
            if fault.after > 0:
                fault.after -= 1
                continue
            if fault.times is not None:
                fault.times -= 1
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            if fault.status == 429:
                return _error(
                    429,
                    "rate_limited",
                    "You have been rated limited. Please try again in a few minutes.",
                    headers,
                )
            if fault.status == 502:
                return web.Response(
                    status=502,
                    text="<html><body><h1>502 Bad Gateway</h1></body></html>",
                    content_type="text/html",
                    headers=headers,
                )
            if fault.status == 503:
                return _error(
                    503, "service_unavailable", "Notion is unavailable, try again later.", headers
                )
            if fault.status == 403:
                return _error(
                    403,
                    "restricted_resource",
                    "Insufficient permissions for this endpoint.",
                    headers,
                )
            if fault.status == 404:
                ids = re.findall(r"[0-9a-f]{8}-[0-9a-f-]{27}", request.path)
                return _not_found("block", ids[0] if ids else "")
            if fault.status >= 500:
                return _error(
                    fault.status, "internal_server_error", "Unexpected error occurred.", headers
                )
            return _error(fault.status, "invalid_request", "This request is not supported.")
        return None

    async def _search(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "invalid_json", "Error parsing JSON body.")
        if not isinstance(body, dict):
            return _error(
                400, "validation_error", "body failed validation: body should be an object."
            )
        wanted = (body.get("filter") or {}).get("value")
        items: list[dict[str, Any]] = []
        if wanted in (None, "page"):
            items += [
                self._page_object(page)
                for page in self.pages.values()
                if page.shared and (self.search_lists_trashed or not page.in_trash)
            ]
        if wanted in (None, "data_source"):
            items += self.data_sources
        return self._list(
            request, body.get("page_size"), body.get("start_cursor"), items, "page_or_data_source"
        )

    async def _page(self, request: web.Request) -> web.Response:
        page_id = request.match_info["page_id"]
        page = self._visible(page_id)
        if page is None:
            return _not_found("page", page_id)
        return web.json_response({**self._page_object(page), "request_id": str(uuid.uuid4())})

    async def _block(self, request: web.Request) -> web.Response:
        block_id = request.match_info["block_id"]
        if block_id in self.blocks and self._owner(block_id) is not None:
            return web.json_response(self._block_object(self.blocks[block_id]))
        page = self._visible(block_id)
        if page is not None:  # a page, read as a block: a child_page block
            return web.json_response(
                {
                    "object": "block",
                    "id": page.id,
                    "parent": page.parent,
                    "created_time": _time(page.created),
                    "last_edited_time": _time(page.edited),
                    "has_children": bool(page.blocks),
                    "archived": page.archived,
                    "in_trash": page.in_trash,
                    "type": "child_page",
                    "child_page": {"title": page.title},
                }
            )
        return _not_found("block", block_id)

    async def _children(self, request: web.Request) -> web.Response:
        block_id = request.match_info["block_id"]
        page = self._visible(block_id)
        if page is not None:
            ids = page.blocks
        elif block_id in self.blocks and self._owner(block_id) is not None:
            ids = self.blocks[block_id]["_children"]
        else:
            return _not_found("block", block_id)
        size = request.query.get("page_size")
        try:
            page_size = int(size) if size is not None else None
        except ValueError:
            return _error(400, "validation_error", "page_size should be a number.")
        items = [self._block_object(self.blocks[i]) for i in ids if i in self.blocks]
        return self._list(request, page_size, request.query.get("start_cursor"), items, "block")

    def _list(
        self,
        request: web.Request,
        page_size: Any,
        cursor: Any,
        items: list[dict[str, Any]],
        kind: str,
    ) -> web.Response:
        if page_size is None:
            page_size = MAX_PAGE_SIZE
        if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
            return _error(
                400,
                "validation_error",
                f"body failed validation: page_size should be ≤ `{MAX_PAGE_SIZE}`, instead was"
                f" `{page_size}`.",
            )
        start = 0
        if cursor is not None:
            ids = [item["id"] for item in items]
            if cursor not in ids:
                return _error(
                    400, "validation_error", f"start_cursor provided is invalid: {cursor}"
                )
            start = ids.index(cursor)
        size = min(page_size, self.page_limit)
        chunk = items[start : start + size]
        more = start + size < len(items)
        return web.json_response(
            {
                "object": "list",
                "results": chunk,
                "next_cursor": items[start + size]["id"] if more else None,
                "has_more": more,
                "type": kind,
                kind: {},
                "request_id": str(uuid.uuid4()),
            }
        )


def _data_source() -> dict[str, Any]:
    return {
        "object": "data_source",
        "id": str(uuid.uuid4()),
        "title": [text("Release notes")],
        "properties": {},
        "parent": {"type": "database_id", "database_id": str(uuid.uuid4())},
        "in_trash": False,
        "archived": False,
        "url": "https://www.notion.so/release-notes",
    }


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = {
        "object": "error",
        "status": status,
        "code": code,
        "message": message,
        "request_id": str(uuid.uuid4()),
    }
    return web.json_response(body, status=status, headers=headers)


def _not_found(kind: str, item_id: str) -> web.Response:
    return _error(
        404,
        "object_not_found",
        f"Could not find {kind} with ID: {item_id}. Make sure the relevant pages and databases"
        " are shared with your integration.",
    )


def _time(when: datetime) -> str:
    """Notion's timestamps: ISO 8601 in UTC, milliseconds, rounded down to the minute."""
    return when.astimezone(UTC).replace(second=0, microsecond=0).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _page_url(title: str, page_id: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-")
    compact = page_id.replace("-", "")
    return f"https://www.notion.so/{slug}-{compact}" if slug else f"https://www.notion.so/{compact}"
