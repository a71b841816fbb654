"""The issue trackers a review card files issues in: Linear, Jira Cloud and GitHub, over their
plain HTTP APIs (httpx), and their webhooks' signatures and payloads.

- Linear: GraphQL at ``LINEAR_API_URL`` with ``Authorization: <api key>``. ``issueCreate`` with
  ``teamId``, ``title``, Markdown ``description`` and our own ``id`` (a UUID made from the
  ticket's marker, so a retried creation can ask ``issue(id:)`` whether it exists already).
  State: ``issues(filter: {id: {in: [...]}})``, paged by ``pageInfo``; closed is a state of
  type ``completed`` or ``canceled``. Webhooks: ``Linear-Signature``, the hex HMAC-SHA256 of
  the raw body, and ``webhookTimestamp`` (ms) within a minute.
- Jira Cloud REST v3 at ``JIRA_URL``, HTTP Basic ``email:api token``. ``POST
  /rest/api/3/issue`` with an Atlassian Document Format description and a label carrying the
  ticket's marker (``GET /rest/api/3/search/jql`` finds it on a retry). State: ``GET
  /rest/api/3/issue/KEY?fields=status,resolution``; closed is status category ``done``.
  Webhooks (an admin webhook with a secret): ``X-Hub-Signature: sha256=<hex HMAC>``,
  ``jira:issue_updated`` with the issue's status.
- GitHub REST at ``GITHUB_API_URL``, ``Authorization: Bearer``, ``X-GitHub-Api-Version``.
  ``POST /repos/{owner}/{repo}/issues``; the body ends with an HTML comment carrying the
  marker (a retry lists the issues updated since, following ``Link: rel="next"``). State:
  ``GET /repos/{owner}/{repo}/issues/N``. Webhooks: ``X-Hub-Signature-256: sha256=<hex
  HMAC>``, event ``issues``, action ``closed``.

Every request: a 429 is waited out for its ``Retry-After`` when that is short, else the caller
is told to come back then (``TrackerError.retry_after``); a 5xx or a dropped connection is tried
once more; 401/403 say the token was refused, naming the variable. Tokens go to their tracker's
URL only, and never into a log line or an error.

The customer's question is put in a fenced code block in Markdown, so an ``@name`` or ``#12``
in it pings nobody and links nothing in the tracker.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from bot.settings.environment import Settings
from bot.settings.network import proxy_for, tls_context

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 20.0
MAX_WAIT_SECONDS = 10.0  # a Retry-After longer than this is left to the job queue
WEBHOOK_MAX_AGE_MS = 60_000  # Linear's advice: a delivery older than a minute is a replay
GITHUB_API_VERSION = "2022-11-28"
TITLE_MAX = 120
QUESTION_MAX = 6000
LABELS = {"linear": "Linear", "jira": "Jira", "github": "GitHub"}


class TrackerError(Exception):
    """A request the tracker did not carry out. ``reason`` is plain words for a card line;
    ``retry_after``: a rate limit, worth trying again after that many seconds."""

    def __init__(
        self, reason: str, *, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.status = status  # the HTTP status the tracker answered, when it answered


class BadWebhook(ValueError):
    """A webhook body that is not what the tracker sends (not JSON, missing fields)."""


@dataclass(frozen=True)
class NewIssue:
    ticket_id: int
    title: str
    question: str
    summary: str
    thread_link: str
    marker: str  # unique to the ticket's Slack thread: finds an issue a lost answer created


@dataclass(frozen=True)
class IssueRef:
    issue_id: str  # how webhooks and look-ups name it: Linear's UUID, Jira's id, GitHub's number
    key: str  # how people do: ENG-12, SUP-7, #42
    url: str


@dataclass(frozen=True)
class Closed:
    """An issue the tracker reports closed, and how (Done, Canceled, completed, not_planned)."""

    issue_id: str
    resolution: str


def marker_for(team_id: str, channel_id: str, thread_ts: str) -> str:
    """The ticket's mark in its issue: its Slack thread, which no other ticket shares."""
    return f"support-bot-{team_id}-{channel_id}-{thread_ts.replace('.', '')}".lower()


def issue_title(ticket_id: int, summary: str, question: str) -> str:
    text = " ".join((summary or question or "Customer question").split())
    if len(text) > TITLE_MAX - 20:
        text = text[: TITLE_MAX - 21].rstrip() + "…"
    return f"{text} (support #{ticket_id})"


def _fenced(text: str) -> str:
    """Customer text as a Markdown code block that nothing in it can close."""
    body = text[:QUESTION_MAX].replace("```", "ˋˋˋ")
    return f"```text\n{body}\n```"


def markdown_body(issue: NewIssue) -> str:
    parts = ["**The customer's question**", _fenced(issue.question)]
    if issue.summary:
        parts.append(f"**Summary:** {' '.join(issue.summary.split())}")
    parts.append(f"**Slack thread:** {issue.thread_link}")
    parts.append(f"Support ticket #{issue.ticket_id}, filed from Slack by the support bot.")
    return "\n\n".join(parts)


def _hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.strip().encode(), expected.encode())


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadWebhook(f"the body is not JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise BadWebhook("the body is not a JSON object")
    return data


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None


class Tracker(ABC):
    """One tracker's API. ``name`` is ISSUE_TRACKER's value, ``label`` how people call it."""

    name: str
    label: str
    token_names: str  # the variables to check when the token is refused

    def __init__(self, base_url: str, *, ca_bundle: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._ca_bundle = ca_bundle
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:  # never the token
        return f"{type(self).__name__}({self.base_url!r})"

    @abstractmethod
    def headers(self) -> dict[str, str]:
        """Authorization and the API's own headers."""

    @abstractmethod
    async def create(self, issue: NewIssue, *, look_first: bool, since: float) -> IssueRef:
        """File the issue; with ``look_first`` (an earlier attempt may have filed it), return
        the one carrying ``issue.marker`` if there is one."""

    @abstractmethod
    async def closed(self, issues: list[IssueRef]) -> list[Closed]:
        """Which of these issues are closed now."""

    @abstractmethod
    async def check(self) -> str:
        """A cheap authenticated call (doctor): what the token may do, in a few words."""

    @abstractmethod
    def signature_ok(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        """The webhook is signed with ``secret`` (compared in constant time)."""

    @abstractmethod
    def closed_event(self, headers: Mapping[str, str], body: bytes) -> Closed | None:
        """The issue a signed webhook reports closed, None for any other event; BadWebhook
        when the body is not what the tracker sends."""

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                verify=tls_context(self._ca_bundle),
                proxy=proxy_for(self.base_url),
                trust_env=False,
                timeout=TIMEOUT_SECONDS,
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def request(
        self, method: str, url: str, *, again: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """One call, with a short rate limit waited out and (``again``) a 5xx or lost connection
        tried once more; any other failure is a TrackerError in plain words. A create passes
        ``again=False``: its 5xx may hide an issue that was filed, which the next attempt looks
        for before filing."""
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        waited = False
        for attempt in range(3):
            try:
                response = await self.client().request(method, url, headers=headers, **kwargs)
            except httpx.HTTPError as exc:
                if attempt == 0 and again:
                    await asyncio.sleep(0.5)
                    continue
                raise TrackerError(f"cannot reach {self.label} ({type(exc).__name__})") from None
            status = response.status_code
            if status == 429:
                wait = _retry_after(response.headers.get("retry-after"))
                if wait is not None and wait <= MAX_WAIT_SECONDS and not waited:
                    waited = True
                    await asyncio.sleep(wait)
                    continue
                raise TrackerError(
                    f"{self.label} is rate limiting the bot", retry_after=wait if wait else 30.0
                )
            if status >= 500 and attempt == 0 and again:
                await asyncio.sleep(0.5)
                continue
            if status >= 400:
                raise TrackerError(self._refusal(response), status=status)
            return response
        raise TrackerError(f"{self.label} did not answer")

    def _refusal(self, response: httpx.Response) -> str:
        status = response.status_code
        if status in (401, 403):
            return f"{self.label} refused the token (HTTP {status}): check {self.token_names}"
        detail = ""
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict):
            messages = [str(m) for m in data.get("errorMessages") or []]  # Jira
            errors = data.get("errors")
            if isinstance(errors, dict):
                messages += [f"{k}: {v}" for k, v in errors.items()]
            elif isinstance(errors, list):
                messages += [str(e.get("message", e)) for e in errors if isinstance(e, dict)]
            if isinstance(data.get("message"), str):  # GitHub
                messages.append(data["message"])
            detail = "; ".join(messages)[:300]
        reason = f"{self.label} answered HTTP {status}"
        return f"{reason}: {detail}" if detail else reason


# ------------------------------------------------------------------------------------------ Linear


_CREATE = """mutation IssueCreate($input: IssueCreateInput!) {
  issueCreate(input: $input) { success issue { id identifier url } }
}"""
_ISSUE = "query Issue($id: String!) { issue(id: $id) { id identifier url } }"
_STATES = """query IssueStates($ids: [ID!], $after: String) {
  issues(filter: {id: {in: $ids}}, first: 50, after: $after) {
    nodes { id state { name type } }
    pageInfo { hasNextPage endCursor }
  }
}"""
_VIEWER = "query { viewer { id name } }"
_LINEAR_CLOSED = frozenset({"completed", "canceled"})


def linear_id(marker: str) -> str:
    """A UUID in v4's format made from the marker: the same for every attempt at one ticket."""
    return str(uuid.UUID(bytes=hashlib.sha256(marker.encode()).digest()[:16], version=4))


class LinearTracker(Tracker):
    name = "linear"
    label = "Linear"
    token_names = "LINEAR_API_KEY"

    def __init__(
        self, api_key: str, team_id: str, base_url: str, *, ca_bundle: str | None = None
    ) -> None:
        super().__init__(base_url, ca_bundle=ca_bundle)
        self._key = api_key
        self.team_id = team_id

    def headers(self) -> dict[str, str]:
        return {"Authorization": self._key, "Content-Type": "application/json"}

    async def graphql(
        self, query: str, variables: dict[str, Any], *, again: bool = True
    ) -> dict[str, Any]:
        response = await self.request(
            "POST", self.base_url, again=again, json={"query": query, "variables": variables}
        )
        try:
            data = response.json()
        except ValueError:
            raise TrackerError("Linear's answer was not JSON") from None
        errors = data.get("errors") if isinstance(data, dict) else None
        if errors:
            first = errors[0] if isinstance(errors, list) and errors else {}
            message = str(first.get("message", "error")) if isinstance(first, dict) else "error"
            extensions = first.get("extensions") if isinstance(first, dict) else None
            kind = str((extensions or {}).get("type") or (extensions or {}).get("code") or "")
            if "authentication" in kind.lower() or "authentication" in message.lower():
                raise TrackerError(f"Linear refused the token: check {self.token_names}")
            raise TrackerError(f"Linear answered: {message[:300]}")
        if not isinstance(data, dict) or not isinstance(data.get("data"), dict):
            raise TrackerError("Linear's answer had no data")
        return dict(data["data"])

    def _ref(self, issue: object) -> IssueRef:
        if not isinstance(issue, dict) or not all(
            isinstance(issue.get(k), str) for k in ("id", "identifier", "url")
        ):
            raise TrackerError("Linear's answer did not name the issue")
        return IssueRef(issue_id=issue["id"], key=issue["identifier"], url=issue["url"])

    async def create(self, issue: NewIssue, *, look_first: bool, since: float) -> IssueRef:
        own_id = linear_id(issue.marker)
        if look_first:
            try:
                found = await self.graphql(_ISSUE, {"id": own_id})
            except TrackerError as exc:
                if "not found" not in exc.reason.lower():
                    raise
            else:
                if found.get("issue"):
                    return self._ref(found["issue"])
        data = await self.graphql(
            _CREATE,
            {
                "input": {
                    "id": own_id,
                    "teamId": self.team_id,
                    "title": issue.title,
                    "description": markdown_body(issue),
                }
            },
            again=False,
        )
        created = data.get("issueCreate") or {}
        if not isinstance(created, dict) or not created.get("success"):
            raise TrackerError("Linear did not create the issue")
        return self._ref(created.get("issue"))

    async def closed(self, issues: list[IssueRef]) -> list[Closed]:
        found: list[Closed] = []
        ids = [i.issue_id for i in issues]
        for start in range(0, len(ids), 50):
            after: str | None = None
            for _page in range(100):
                data = await self.graphql(_STATES, {"ids": ids[start : start + 50], "after": after})
                page = data.get("issues") or {}
                for node in page.get("nodes") or []:
                    state = node.get("state") if isinstance(node, dict) else None
                    if isinstance(state, dict) and state.get("type") in _LINEAR_CLOSED:
                        found.append(Closed(str(node["id"]), str(state.get("name") or "Done")))
                info = page.get("pageInfo") or {}
                if not info.get("hasNextPage") or not info.get("endCursor"):
                    break
                after = str(info["endCursor"])
        return found

    async def check(self) -> str:
        data = await self.graphql(_VIEWER, {})
        viewer = data.get("viewer") or {}
        return f"the API key is {viewer.get('name') or 'accepted'}'s"

    def signature_ok(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        return _same(headers.get("linear-signature"), _hmac_hex(secret, body))

    def closed_event(self, headers: Mapping[str, str], body: bytes) -> Closed | None:
        data = _json_object(body)
        stamp = data.get("webhookTimestamp")
        if not isinstance(stamp, int | float) or isinstance(stamp, bool):
            raise BadWebhook("no webhookTimestamp")
        if abs(time.time() * 1000 - stamp) > WEBHOOK_MAX_AGE_MS:
            raise BadWebhook("webhookTimestamp is more than a minute away: a replay")
        if data.get("type") != "Issue" or data.get("action") != "update":
            return None
        issue = data.get("data")
        if not isinstance(issue, dict) or not isinstance(issue.get("id"), str):
            raise BadWebhook("an Issue event without data.id")
        state = issue.get("state")
        if not isinstance(state, dict) or state.get("type") not in _LINEAR_CLOSED:
            return None
        return Closed(issue["id"], str(state.get("name") or "Done"))


# -------------------------------------------------------------------------------------------- Jira


def adf_description(issue: NewIssue) -> dict[str, Any]:
    """The description in Atlassian Document Format (REST v3 takes nothing else)."""

    def paragraph(*content: dict[str, Any]) -> dict[str, Any]:
        return {"type": "paragraph", "content": list(content)}

    def text(value: str, *marks: dict[str, Any]) -> dict[str, Any]:
        node: dict[str, Any] = {"type": "text", "text": value}
        if marks:
            node["marks"] = list(marks)
        return node

    strong = {"type": "strong"}
    content: list[dict[str, Any]] = [
        paragraph(text("The customer's question", strong)),
        {
            "type": "codeBlock",
            "content": [text(issue.question[:QUESTION_MAX] or "(no text)")],
        },
    ]
    if issue.summary:
        content.append(paragraph(text("Summary: ", strong), text(" ".join(issue.summary.split()))))
    content.append(
        paragraph(
            text("Slack thread: ", strong),
            text(issue.thread_link, {"type": "link", "attrs": {"href": issue.thread_link}}),
        )
    )
    content.append(
        paragraph(text(f"Support ticket #{issue.ticket_id}, filed from Slack by the support bot."))
    )
    return {"type": "doc", "version": 1, "content": content}


class JiraTracker(Tracker):
    name = "jira"
    label = "Jira"
    token_names = "JIRA_EMAIL and JIRA_API_TOKEN"

    def __init__(
        self,
        site: str,
        email: str,
        api_token: str,
        project_key: str,
        *,
        issue_type: str = "Task",
        ca_bundle: str | None = None,
    ) -> None:
        super().__init__(site, ca_bundle=ca_bundle)
        self._basic = base64.b64encode(f"{email}:{api_token}".encode()).decode()
        self.project_key = project_key
        self.issue_type = issue_type

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Basic {self._basic}", "Accept": "application/json"}

    def _ref(self, issue: object) -> IssueRef:
        if not isinstance(issue, dict) or not all(
            isinstance(issue.get(k), str) for k in ("id", "key")
        ):
            raise TrackerError("Jira's answer did not name the issue")
        return IssueRef(
            issue_id=issue["id"], key=issue["key"], url=f"{self.base_url}/browse/{issue['key']}"
        )

    async def create(self, issue: NewIssue, *, look_first: bool, since: float) -> IssueRef:
        if look_first:
            response = await self.request(
                "GET",
                f"{self.base_url}/rest/api/3/search/jql",
                params={
                    "jql": f'project = "{self.project_key}" AND labels = "{issue.marker}"',
                    "fields": "summary",
                    "maxResults": "1",
                },
            )
            issues = response.json().get("issues") or []
            if issues:
                return self._ref(issues[0])
        response = await self.request(
            "POST",
            f"{self.base_url}/rest/api/3/issue",
            again=False,
            json={
                "fields": {
                    "project": {"key": self.project_key},
                    "issuetype": {"name": self.issue_type},
                    "summary": issue.title,
                    "description": adf_description(issue),
                    "labels": ["support-bot", issue.marker],
                }
            },
        )
        return self._ref(response.json())

    async def closed(self, issues: list[IssueRef]) -> list[Closed]:
        found: list[Closed] = []
        for issue in issues:
            try:
                response = await self.request(
                    "GET",
                    f"{self.base_url}/rest/api/3/issue/{issue.key}",
                    params={"fields": "status,resolution"},
                )
            except TrackerError as exc:
                if exc.status != 404:
                    raise
                log.info("Jira issue %s is gone (deleted, or moved out of reach)", issue.key)
                continue
            fields = response.json().get("fields") or {}
            closed = _jira_closed(fields)
            if closed is not None:
                found.append(Closed(issue.issue_id, closed))
        return found

    async def check(self) -> str:
        response = await self.request("GET", f"{self.base_url}/rest/api/3/myself")
        who = response.json().get("displayName") or "accepted"
        return f"the API token is {who}'s"

    def signature_ok(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        return _same(headers.get("x-hub-signature"), "sha256=" + _hmac_hex(secret, body))

    def closed_event(self, headers: Mapping[str, str], body: bytes) -> Closed | None:
        data = _json_object(body)
        event = data.get("webhookEvent")
        if not isinstance(event, str):
            raise BadWebhook("no webhookEvent")
        if event != "jira:issue_updated":
            return None
        issue = data.get("issue")
        if not isinstance(issue, dict) or not isinstance(issue.get("id"), str | int):
            raise BadWebhook("an issue event without issue.id")
        fields = issue.get("fields")
        closed = _jira_closed(fields if isinstance(fields, dict) else {})
        return Closed(str(issue["id"]), closed) if closed is not None else None


def _jira_closed(fields: dict[str, Any]) -> str | None:
    """The resolution's (or status's) name when the status is in the "done" category."""
    status = fields.get("status")
    category = status.get("statusCategory") if isinstance(status, dict) else None
    if not isinstance(category, dict) or category.get("key") != "done":
        return None
    resolution = fields.get("resolution")
    if isinstance(resolution, dict) and resolution.get("name"):
        return str(resolution["name"])
    return str(status.get("name") or "Done") if isinstance(status, dict) else "Done"


# ------------------------------------------------------------------------------------------ GitHub

_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


class GitHubTracker(Tracker):
    name = "github"
    label = "GitHub"
    token_names = "GITHUB_TOKEN (it needs Issues: read and write on GITHUB_REPO)"

    def __init__(
        self, token: str, repo: str, base_url: str, *, ca_bundle: str | None = None
    ) -> None:
        super().__init__(base_url, ca_bundle=ca_bundle)
        self._token = token
        self.repo = repo

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": GITHUB_API_VERSION,
        }

    def _ref(self, issue: object) -> IssueRef:
        if not isinstance(issue, dict) or not isinstance(issue.get("number"), int):
            raise TrackerError("GitHub's answer did not name the issue")
        return IssueRef(
            issue_id=str(issue["number"]),
            key=f"#{issue['number']}",
            url=str(issue.get("html_url") or ""),
        )

    async def create(self, issue: NewIssue, *, look_first: bool, since: float) -> IssueRef:
        mark = f"<!-- {issue.marker} -->"
        if look_first:
            found = await self._find(mark, since)
            if found is not None:
                return found
        response = await self.request(
            "POST",
            f"{self.base_url}/repos/{self.repo}/issues",
            again=False,
            json={"title": issue.title, "body": f"{markdown_body(issue)}\n\n{mark}"},
        )
        return self._ref(response.json())

    async def _find(self, mark: str, since: float) -> IssueRef | None:
        """An issue carrying ``mark`` among those updated since ``since`` (every page)."""
        url: str | None = f"{self.base_url}/repos/{self.repo}/issues"
        stamp = datetime.fromtimestamp(since - 60, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        params: dict[str, str] | None = {"state": "all", "since": stamp, "per_page": "100"}
        for _page in range(50):
            if url is None:
                return None
            response = await self.request("GET", url, params=params)
            for issue in response.json() or []:
                if isinstance(issue, dict) and mark in str(issue.get("body") or ""):
                    return self._ref(issue)
            link = _NEXT.search(response.headers.get("link", ""))
            url, params = (link.group(1), None) if link else (None, None)
        return None

    async def closed(self, issues: list[IssueRef]) -> list[Closed]:
        found: list[Closed] = []
        for issue in issues:
            try:
                response = await self.request(
                    "GET", f"{self.base_url}/repos/{self.repo}/issues/{issue.issue_id}"
                )
            except TrackerError as exc:
                if exc.status not in (404, 410):
                    raise
                log.info("GitHub issue %s is gone (deleted or transferred)", issue.key)
                continue
            data = response.json()
            if isinstance(data, dict) and data.get("state") == "closed":
                found.append(Closed(issue.issue_id, str(data.get("state_reason") or "completed")))
        return found

    async def check(self) -> str:
        response = await self.request("GET", f"{self.base_url}/repos/{self.repo}")
        data = response.json()
        if isinstance(data, dict) and data.get("has_issues") is False:
            raise TrackerError(f"{self.repo} has issues turned off")
        return f"the token reaches {self.repo}"

    def signature_ok(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        return _same(headers.get("x-hub-signature-256"), "sha256=" + _hmac_hex(secret, body))

    def closed_event(self, headers: Mapping[str, str], body: bytes) -> Closed | None:
        data = _json_object(body)
        event = headers.get("x-github-event")
        if not event:
            raise BadWebhook("no X-GitHub-Event header")
        if event != "issues" or data.get("action") != "closed":
            return None
        issue = data.get("issue")
        repo = data.get("repository")
        if not isinstance(issue, dict) or not isinstance(issue.get("number"), int):
            raise BadWebhook("an issues event without issue.number")
        name = repo.get("full_name") if isinstance(repo, dict) else None
        if isinstance(name, str) and name.lower() != self.repo.lower():
            return None  # another repository's issue with the same number
        return Closed(str(issue["number"]), str(issue.get("state_reason") or "completed"))


def tracker_from_settings(settings: Settings) -> Tracker | None:
    """The configured tracker (ISSUE_TRACKER), or None. Its settings are checked at start
    (``tracker_problems``)."""
    ca = settings.support_bot_ca_bundle
    if settings.issue_tracker == "linear":
        assert settings.linear_api_key is not None and settings.linear_team_id is not None
        return LinearTracker(
            settings.linear_api_key.get_secret_value(),
            settings.linear_team_id,
            settings.linear_api_url,
            ca_bundle=ca,
        )
    if settings.issue_tracker == "jira":
        assert settings.jira_url and settings.jira_email and settings.jira_project_key
        assert settings.jira_api_token is not None
        return JiraTracker(
            settings.jira_url,
            settings.jira_email,
            settings.jira_api_token.get_secret_value(),
            settings.jira_project_key,
            issue_type=settings.jira_issue_type,
            ca_bundle=ca,
        )
    if settings.issue_tracker == "github":
        assert settings.github_token is not None and settings.github_repo is not None
        return GitHubTracker(
            settings.github_token.get_secret_value(),
            settings.github_repo,
            settings.github_api_url,
            ca_bundle=ca,
        )
    return None
