"""The sandbox's issue tracker: a small GitHub-shaped Issues API on 127.0.0.1, so "Create
issue" on a review card works in the sandbox, and closing an issue from the page sends the bot
the signed webhook GitHub would.

It answers what ``bot/review/trackers.py``'s ``GitHubTracker`` calls, in GitHub's shapes:
``POST /repos/OWNER/NAME/issues`` (201 with ``number`` and ``html_url``), ``GET
/repos/OWNER/NAME/issues`` (``since``), ``GET /repos/OWNER/NAME/issues/N`` and ``GET
/repos/OWNER/NAME``, each with ``Authorization: Bearer TOKEN`` (else 401 "Bad credentials").
An issue's page, ``/OWNER/NAME/issues/N``, shows its title and body as plain text.
``close(N)`` closes one and returns the ``issues``/``closed`` webhook, signed with
``X-Hub-Signature-256``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.sandbox.local_server import LocalServer

Json = dict[str, Any]


@dataclass
class SandboxIssue:
    number: int
    title: str
    body: str
    created_at: float
    updated_at: float
    closed: bool = False


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SandboxTracker(LocalServer):
    name = "the sandbox's issue tracker"

    def __init__(self, repo: str = "parcelo/support") -> None:
        super().__init__()
        self.repo = repo
        self.token = "github_pat_sandbox_" + secrets.token_hex(8)
        self.secret = secrets.token_hex(16)
        self.issues: list[SandboxIssue] = []

    def html_url(self, number: int) -> str:
        return f"{self.origin}/{self.repo}/issues/{number}"

    def json(self, issue: SandboxIssue) -> Json:
        return {
            "id": 1_000_000 + issue.number,
            "number": issue.number,
            "title": issue.title,
            "body": issue.body,
            "html_url": self.html_url(issue.number),
            "state": "closed" if issue.closed else "open",
            "state_reason": "completed" if issue.closed else None,
            "created_at": _iso(issue.created_at),
            "updated_at": _iso(issue.updated_at),
        }

    def listing(self) -> list[Json]:
        """What the page shows."""
        return [
            {
                "number": i.number,
                "title": i.title,
                "url": self.html_url(i.number),
                "state": "closed" if i.closed else "open",
            }
            for i in self.issues
        ]

    def close(self, number: int) -> tuple[dict[str, str], bytes] | None:
        """Close an open issue: the webhook GitHub would send (headers, raw body), or None."""
        issue = next((i for i in self.issues if i.number == number and not i.closed), None)
        if issue is None:
            return None
        issue.closed = True
        issue.updated_at = time.time()
        body = json.dumps(
            {
                "action": "closed",
                "issue": self.json(issue),
                "repository": {"full_name": self.repo},
                "sender": {"login": "sandbox"},
            }
        ).encode()
        signature = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "issues",
            "X-GitHub-Delivery": secrets.token_hex(16),
            "X-Hub-Signature-256": f"sha256={signature}",
        }
        return headers, body

    def application(self) -> web.Application:
        base = f"/repos/{self.repo}"

        @web.middleware
        async def bearer(request: web.Request, handler: Any) -> web.StreamResponse:
            if request.path.startswith("/repos/") and (
                request.headers.get("Authorization") != f"Bearer {self.token}"
            ):
                return web.json_response({"message": "Bad credentials"}, status=401)
            response: web.StreamResponse = await handler(request)
            return response

        async def create(request: web.Request) -> web.Response:
            try:
                data = await request.json()
            except ValueError:
                return web.json_response({"message": "Problems parsing JSON"}, status=400)
            if not isinstance(data, dict) or not data.get("title"):
                return web.json_response({"message": "Validation Failed"}, status=422)
            now = time.time()
            issue = SandboxIssue(
                len(self.issues) + 1, str(data["title"]), str(data.get("body") or ""), now, now
            )
            self.issues.append(issue)
            return web.json_response(self.json(issue), status=201)

        async def listed(request: web.Request) -> web.Response:
            since = request.query.get("since")
            floor = (
                datetime.strptime(since, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
                if since
                else 0.0
            )
            return web.json_response(
                [self.json(i) for i in reversed(self.issues) if i.updated_at >= floor]
            )

        def find(request: web.Request) -> SandboxIssue | None:
            number = request.match_info["number"]
            return next((i for i in self.issues if str(i.number) == number), None)

        async def one(request: web.Request) -> web.Response:
            issue = find(request)
            if issue is None:
                return web.json_response({"message": "Not Found"}, status=404)
            return web.json_response(self.json(issue))

        async def repo(request: web.Request) -> web.Response:
            return web.json_response({"full_name": self.repo, "has_issues": True})

        async def page(request: web.Request) -> web.Response:
            issue = find(request)
            if issue is None:
                return web.Response(status=404, text="no such issue\n")
            state = "closed" if issue.closed else "open"
            return web.Response(text=f"#{issue.number} {issue.title} ({state})\n\n{issue.body}\n")

        app = web.Application(middlewares=[bearer])
        app.router.add_post(f"{base}/issues", create)
        app.router.add_get(f"{base}/issues", listed)
        app.router.add_get(f"{base}/issues/{{number}}", one)
        app.router.add_get(base, repo)
        app.router.add_get(f"/{self.repo}/issues/{{number}}", page)
        return app
