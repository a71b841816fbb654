"""Fake Linear, Jira Cloud and GitHub APIs on 127.0.0.1 for the issue-tracker tests, and their
webhooks, signed as each tracker signs them.

Each fake checks the token as its tracker does (anything else: 401 in the tracker's shape),
keeps every request in ``requests`` (``Seen``: path, query, lower-case headers, JSON body),
and can be made to fail (``fail``: a status N times or for good; ``rate_limit``: 429 with
``Retry-After``; ``lose_answer``: the issue is created but the answer is a 502, as when a
connection drops after the tracker acted). Tests close issues (``close``) and build the
webhook the tracker would send about it (``webhook``: headers and the raw body).

- ``LinearAPI``: ``POST /graphql`` answering ``issueCreate`` (with the caller's own ``id``; a
  second create with the same id is an error, as in Linear), ``issue(id:)``, ``issues(filter:
  {id: {in: …}}, first, after)`` paged ``page_size`` at a time with ``pageInfo``, and
  ``viewer``. Auth: ``Authorization: <api key>``.
- ``JiraAPI``: ``POST /rest/api/3/issue`` (an ADF description required), ``GET
  /rest/api/3/issue/KEY?fields=status,resolution``, ``GET /rest/api/3/search/jql`` (``labels =
  "X"`` only), ``GET /rest/api/3/myself``. Auth: HTTP Basic email:token.
- ``GitHubAPI``: ``POST /repos/O/R/issues``, ``GET /repos/O/R/issues`` (``state``, ``since``,
  ``per_page``, ``page``, with a ``Link`` header), ``GET /repos/O/R/issues/N``, ``GET
  /repos/O/R``. Auth: ``Authorization: Bearer``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.sandbox.local_server import LocalServer
from tests.fakes.recorded import Seen

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Fault:
    status: int
    times: int | None  # None: for good
    retry_after: str | None = None


@dataclass
class FakeIssue:
    issue_id: str
    key: str
    number: int
    title: str
    description: Any  # Markdown text, or Jira's ADF document
    url: str
    created_at: float
    labels: list[str] = field(default_factory=list)
    closed: bool = False
    resolution: str | None = None
    updated_at: float = 0.0

    def text(self) -> str:
        """The description as plain text (ADF's text nodes joined)."""
        if isinstance(self.description, str):
            return self.description
        parts: list[str] = []

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                if node.get("type") == "text":
                    parts.append(str(node.get("text", "")))
                for child in node.get("content") or []:
                    walk(child)

        walk(self.description)
        return "\n".join(parts)


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class FakeTracker(LocalServer):
    """What the three fakes share: faults, the request log, the issues."""

    label = "tracker"

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Seen] = []
        self.faults: list[Fault] = []
        self.issues: list[FakeIssue] = []
        self.lose_next_answer = False

    # -- what tests change ---------------------------------------------------------------------

    def fail(self, status: int = 500, *, times: int | None = 1) -> None:
        self.faults.append(Fault(status, times))

    def rate_limit(self, *, retry_after: str = "1", times: int = 1) -> None:
        self.faults.append(Fault(429, times, retry_after))

    def heal(self) -> None:
        self.faults.clear()

    def lose_answer(self) -> None:
        """The next create is carried out, but answered 502."""
        self.lose_next_answer = True

    def close(self, issue: FakeIssue, resolution: str = "Done") -> None:
        issue.closed = True
        issue.resolution = resolution
        issue.updated_at = time.time()

    @abstractmethod
    def creates(self) -> list[Seen]:
        """The requests that created an issue, in order."""

    # -- serving -------------------------------------------------------------------------------

    @abstractmethod
    def authorised(self, request: web.Request) -> bool:
        """Whether the request carries this tracker's token."""

    @abstractmethod
    def refused(self) -> web.Response:
        """This tracker's answer to a missing or wrong token."""

    @abstractmethod
    def routes(self, app: web.Application) -> None:
        """This tracker's API routes."""

    def application(self) -> web.Application:
        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            headers = {name.lower(): value for name, value in request.headers.items()}
            body = None
            if request.can_read_body:
                try:
                    body = await request.json()
                except ValueError:
                    body = None
            self.requests.append(
                Seen(request.method, request.path, dict(request.query), headers, body)
            )
            fault = self._fault()
            if fault is not None:
                extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return web.json_response(
                    {"message": f"fault {fault.status}"}, status=fault.status, headers=extra
                )
            if not self.authorised(request):
                return self.refused()
            return await handler(request)

        app = web.Application(middlewares=[guard])
        self.routes(app)
        return app

    def _fault(self) -> Fault | None:
        while self.faults:
            fault = self.faults[0]
            if fault.times is None:
                return fault
            fault.times -= 1
            if fault.times <= 0:
                self.faults.pop(0)
            return fault
        return None

    def _lost(self) -> bool:
        lost, self.lose_next_answer = self.lose_next_answer, False
        return lost


# ---------------------------------------------------------------------------------------- Linear


class LinearAPI(FakeTracker):
    label = "Linear"
    name = "the fake Linear API"

    def __init__(self, *, api_key: str = "lin_api_test", team_id: str = "team-eng") -> None:
        super().__init__()
        self.api_key = api_key
        self.team_id = team_id
        self.page_size = 2

    @property
    def url(self) -> str:
        return f"{self.origin}/graphql"

    def creates(self) -> list[Seen]:
        return [r for r in self.requests if r.body and "issueCreate" in str(r.body.get("query"))]

    def authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == self.api_key

    def refused(self) -> web.Response:
        return web.json_response(
            {
                "errors": [
                    {
                        "message": "Authentication required, not authenticated",
                        "extensions": {
                            "type": "authentication error",
                            "code": "AUTHENTICATION_ERROR",
                        },
                    }
                ]
            },
            status=401,
        )

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/graphql", self._graphql)

    def _node(self, issue: FakeIssue) -> dict[str, Any]:
        state = (
            {"id": "st-done", "name": issue.resolution or "Done", "type": "completed"}
            if issue.closed and "cancel" not in (issue.resolution or "").lower()
            else {"id": "st-canceled", "name": issue.resolution, "type": "canceled"}
            if issue.closed
            else {"id": "st-todo", "name": "Todo", "type": "unstarted"}
        )
        return {"id": issue.issue_id, "identifier": issue.key, "url": issue.url, "state": state}

    async def _graphql(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"errors": [{"message": "Bad JSON"}]}, status=400)
        query = str(body.get("query") or "")
        variables = body.get("variables") or {}
        if "issueCreate" in query:
            data = variables.get("input") or {}
            if data.get("teamId") != self.team_id or not data.get("title"):
                return web.json_response(
                    {
                        "errors": [
                            {
                                "message": "Argument Validation Error",
                                "extensions": {"type": "invalid input"},
                            }
                        ]
                    }
                )
            own = str(data.get("id") or uuid.uuid4())
            if any(i.issue_id == own for i in self.issues):
                return web.json_response(
                    {
                        "errors": [
                            {
                                "message": "Entity already exists",
                                "extensions": {"type": "invalid input"},
                            }
                        ]
                    }
                )
            n = len(self.issues) + 1
            issue = FakeIssue(
                issue_id=own,
                key=f"ENG-{n}",
                number=n,
                title=str(data["title"]),
                description=str(data.get("description") or ""),
                url=f"https://linear.app/acme/issue/ENG-{n}/slug",
                created_at=time.time(),
            )
            self.issues.append(issue)
            if self._lost():
                return web.json_response({"message": "bad gateway"}, status=502)
            node = self._node(issue)
            return web.json_response(
                {
                    "data": {
                        "issueCreate": {
                            "success": True,
                            "issue": {k: node[k] for k in ("id", "identifier", "url")},
                        }
                    }
                }
            )
        if "issues(" in query:
            ids = set(variables.get("ids") or [])
            matching = [self._node(i) for i in self.issues if i.issue_id in ids]
            start = int(variables.get("after") or 0)
            page = matching[start : start + self.page_size]
            more = start + self.page_size < len(matching)
            return web.json_response(
                {
                    "data": {
                        "issues": {
                            "nodes": [{"id": n["id"], "state": n["state"]} for n in page],
                            "pageInfo": {
                                "hasNextPage": more,
                                "endCursor": str(start + self.page_size) if more else None,
                            },
                        }
                    }
                }
            )
        if "issue(" in query:
            found = next((i for i in self.issues if i.issue_id == variables.get("id")), None)
            if found is None:
                return web.json_response(
                    {
                        "data": None,
                        "errors": [
                            {
                                "message": "Entity not found: Issue",
                                "extensions": {"type": "invalid input"},
                            }
                        ],
                    }
                )
            node = self._node(found)
            return web.json_response(
                {"data": {"issue": {k: node[k] for k in ("id", "identifier", "url")}}}
            )
        if "viewer" in query:
            return web.json_response({"data": {"viewer": {"id": "user-1", "name": "Support Bot"}}})
        return web.json_response({"errors": [{"message": "Unknown query"}]}, status=400)

    def webhook(
        self, issue: FakeIssue, secret: str, *, at_ms: float | None = None
    ) -> tuple[dict[str, str], bytes]:
        body = json.dumps(
            {
                "action": "update",
                "type": "Issue",
                "data": {**self._node(issue), "title": issue.title, "teamId": self.team_id},
                "updatedFrom": {"stateId": "st-todo", "updatedAt": "2026-01-01T00:00:00.000Z"},
                "url": issue.url,
                "createdAt": datetime.now(UTC).isoformat(),
                "organizationId": "org-1",
                "webhookTimestamp": int(at_ms if at_ms is not None else time.time() * 1000),
                "webhookId": "wh-1",
            }
        ).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Linear-Delivery": str(uuid.uuid4()),
            "Linear-Event": "Issue",
            "Linear-Signature": hmac_hex(secret, body),
        }
        return headers, body


# ------------------------------------------------------------------------------------------ Jira


class JiraAPI(FakeTracker):
    label = "Jira"
    name = "the fake Jira API"

    def __init__(
        self, *, email: str = "bot@acme.test", api_token: str = "jira-token", project: str = "SUP"
    ) -> None:
        super().__init__()
        self.email = email
        self.api_token = api_token
        self.project = project

    def creates(self) -> list[Seen]:
        return [r for r in self.requests if r.method == "POST" and r.path == "/rest/api/3/issue"]

    def authorised(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{self.email}:{self.api_token}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}"

    def refused(self) -> web.Response:
        return web.json_response(
            {
                "errorMessages": [
                    "You are not authenticated. Authentication required to perform this operation."
                ],
                "errors": {},
            },
            status=401,
        )

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/rest/api/3/issue", self._create)
        app.router.add_get("/rest/api/3/issue/{key}", self._get)
        app.router.add_get("/rest/api/3/search/jql", self._search)
        app.router.add_get("/rest/api/3/myself", self._myself)

    def _fields(self, issue: FakeIssue) -> dict[str, Any]:
        status = (
            {"name": "Done", "statusCategory": {"key": "done", "name": "Done"}}
            if issue.closed
            else {"name": "To Do", "statusCategory": {"key": "new", "name": "To Do"}}
        )
        resolution = {"name": issue.resolution} if issue.closed and issue.resolution else None
        return {"status": status, "resolution": resolution, "summary": issue.title}

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        fields = body.get("fields") or {}
        errors: dict[str, str] = {}
        if (fields.get("project") or {}).get("key") != self.project:
            errors["project"] = "valid project is required"
        if not fields.get("summary"):
            errors["summary"] = "You must specify a summary of the issue."
        if (
            not isinstance(fields.get("description"), dict)
            or fields["description"].get("type") != "doc"
        ):
            errors["description"] = (
                "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
            )
        if not (fields.get("issuetype") or {}).get("name"):
            errors["issuetype"] = "Specify an issue type"
        if errors:
            return web.json_response({"errorMessages": [], "errors": errors}, status=400)
        n = len(self.issues) + 1
        issue = FakeIssue(
            issue_id=str(10000 + n),
            key=f"{self.project}-{n}",
            number=n,
            title=str(fields["summary"]),
            description=fields["description"],
            url=f"{self.origin}/browse/{self.project}-{n}",
            created_at=time.time(),
            labels=list(fields.get("labels") or []),
        )
        self.issues.append(issue)
        if self._lost():
            return web.json_response({"message": "bad gateway"}, status=502)
        return web.json_response(
            {
                "id": issue.issue_id,
                "key": issue.key,
                "self": f"{self.origin}/rest/api/3/issue/{issue.issue_id}",
            },
            status=201,
        )

    def _find(self, key: str) -> FakeIssue | None:
        return next((i for i in self.issues if key in (i.key, i.issue_id)), None)

    async def _get(self, request: web.Request) -> web.Response:
        issue = self._find(request.match_info["key"])
        if issue is None:
            return web.json_response(
                {
                    "errorMessages": [
                        "Issue does not exist or you do not have permission to see it."
                    ],
                    "errors": {},
                },
                status=404,
            )
        return web.json_response(
            {"id": issue.issue_id, "key": issue.key, "fields": self._fields(issue)}
        )

    async def _search(self, request: web.Request) -> web.Response:
        match = re.search(r'labels = "([^"]+)"', request.query.get("jql", ""))
        label = match.group(1) if match else None
        found = [i for i in self.issues if label is not None and label in i.labels]
        return web.json_response(
            {
                "issues": [
                    {"id": i.issue_id, "key": i.key, "fields": {"summary": i.title}} for i in found
                ],
                "isLast": True,
            }
        )

    async def _myself(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"accountId": "5b10a2844c20165700ede21g", "displayName": "Support Bot"}
        )

    def webhook(self, issue: FakeIssue, secret: str) -> tuple[dict[str, str], bytes]:
        body = json.dumps(
            {
                "timestamp": int(time.time() * 1000),
                "webhookEvent": "jira:issue_updated",
                "issue_event_type_name": "issue_generic",
                "issue": {
                    "id": issue.issue_id,
                    "key": issue.key,
                    "self": f"{self.origin}/rest/api/2/issue/{issue.issue_id}",
                    "fields": self._fields(issue),
                },
                "changelog": {
                    "id": "10100",
                    "items": [{"field": "status", "fromString": "To Do", "toString": "Done"}],
                },
            }
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Atlassian-Webhook-Identifier": str(uuid.uuid4()),
            "X-Hub-Signature": "sha256=" + hmac_hex(secret, body),
        }
        return headers, body


# ---------------------------------------------------------------------------------------- GitHub


class GitHubAPI(FakeTracker):
    label = "GitHub"
    name = "the fake GitHub API"

    def __init__(self, *, token: str = "github_pat_test", repo: str = "acme/support") -> None:
        super().__init__()
        self.token = token
        self.repo = repo
        self.page_size_cap = 2  # per_page is capped here so tests reach a second page

    def creates(self) -> list[Seen]:
        return [r for r in self.requests if r.method == "POST" and r.path.endswith("/issues")]

    def authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    def refused(self) -> web.Response:
        return web.json_response(
            {
                "message": "Bad credentials",
                "documentation_url": "https://docs.github.com/rest",
                "status": "401",
            },
            status=401,
        )

    def routes(self, app: web.Application) -> None:
        base = f"/repos/{self.repo}"
        app.router.add_post(f"{base}/issues", self._create)
        app.router.add_get(f"{base}/issues", self._list)
        app.router.add_get(f"{base}/issues/{{number}}", self._get)
        app.router.add_get(base, self._repo)

    def _json(self, issue: FakeIssue) -> dict[str, Any]:
        return {
            "id": 1000 + issue.number,
            "number": issue.number,
            "title": issue.title,
            "body": issue.description,
            "html_url": issue.url,
            "state": "closed" if issue.closed else "open",
            "state_reason": issue.resolution if issue.closed else None,
            "updated_at": datetime.fromtimestamp(
                issue.updated_at or issue.created_at, UTC
            ).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        if not body.get("title"):
            return web.json_response(
                {
                    "message": "Validation Failed",
                    "errors": [{"resource": "Issue", "field": "title", "code": "missing_field"}],
                },
                status=422,
            )
        n = len(self.issues) + 1
        issue = FakeIssue(
            issue_id=str(n),
            key=f"#{n}",
            number=n,
            title=str(body["title"]),
            description=str(body.get("body") or ""),
            url=f"https://github.com/{self.repo}/issues/{n}",
            created_at=time.time(),
        )
        self.issues.append(issue)
        if self._lost():
            return web.json_response({"message": "Server Error"}, status=502)
        return web.json_response(self._json(issue), status=201)

    async def _list(self, request: web.Request) -> web.Response:
        since = request.query.get("since")
        floor = (
            datetime.strptime(since, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
            if since
            else 0.0
        )
        found = [i for i in reversed(self.issues) if (i.updated_at or i.created_at) >= floor]
        per_page = min(int(request.query.get("per_page", "30")), self.page_size_cap)
        page = int(request.query.get("page", "1"))
        chunk = found[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(found):
            query = {**request.query, "page": str(page + 1)}
            url = request.url.with_query(query)
            headers["Link"] = f'<{url}>; rel="next"'
        return web.json_response([self._json(i) for i in chunk], headers=headers)

    async def _get(self, request: web.Request) -> web.Response:
        issue = next(
            (i for i in self.issues if str(i.number) == request.match_info["number"]), None
        )
        if issue is None:
            return web.json_response({"message": "Not Found"}, status=404)
        return web.json_response(self._json(issue))

    async def _repo(self, request: web.Request) -> web.Response:
        return web.json_response({"full_name": self.repo, "has_issues": True})

    def webhook(
        self, issue: FakeIssue, secret: str, *, repo: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        body = json.dumps(
            {
                "action": "closed",
                "issue": self._json(issue),
                "repository": {"full_name": repo or self.repo},
                "sender": {"login": "octocat"},
            }
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "issues",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": "sha256=" + hmac_hex(secret, body),
        }
        return headers, body
