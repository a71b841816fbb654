"""A stand-in for Slack's Web API served over real HTTP: the sandbox's Slack, and the tests'.

This module owns :class:`SlackStandIn`: an aiohttp server on 127.0.0.1 that answers the Web API
methods the bot uses the way Slack does (HTTP 200 with ``ok: false`` for API errors, 429 with
``Retry-After`` for rate limits), keeps the workspace state those methods touch (messages,
ephemerals, views, reactions, response_url posts), records every call, and lets a test inject
faults: HTTP errors, ``ok: false`` answers, and withheld responses, either queued one by one
(:meth:`SlackStandIn.fail_next`, :meth:`SlackStandIn.error_next`, :meth:`SlackStandIn.hold`)
or at seeded random rates (:meth:`SlackStandIn.random_faults`: 429 with ``Retry-After``, 500
before the method ran, and 500 *after* the method ran and stored its message, as real Slack
sometimes does).
Every injected fault is counted by kind in :attr:`SlackStandIn.injected`.

It is driven by the real ``slack_sdk`` ``AsyncWebClient`` (``base_url=fake.url``), so it accepts
JSON bodies, form-encoded bodies (JSON-valued fields such as ``blocks`` arrive as strings) and
query strings, exactly as the SDK sends them.

Message timestamps are wall-clock based (``"1763551234.000123"``, strictly increasing) rather
than fixed: the bot compares Slack ts values with ``time.time()`` (e.g. ``oldest=`` on
conversations.history) and sorts bot replies against user messages the test injects with
real-time ts values, so a fixed epoch would put replies before their thread root.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import random
import re
import ssl
import time
import urllib.parse
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from aiohttp import web

from bot.sandbox.blockkit import Surface, validate_blocks, validate_view
from bot.sandbox.local_server import LocalServer
from bot.slack.limits import MESSAGE_TEXT_MAX
from bot.slack.scopes import BOT_SCOPES

__all__ = [
    "FileDownload",
    "SlackCall",
    "SlackStandIn",
    "Surface",
    "validate_blocks",
    "validate_view",
]

Json = dict[str, Any]
Handler = Callable[[Json], Json]

# An emoji name as reactions.add takes it, a skin tone optional ("thumbsup::skin-tone-2").
_EMOJI_NAME = re.compile(r"^[a-z0-9_+'-]{1,100}(::skin-tone-[2-6])?$")
# Different emoji one message may carry.
MAX_REACTIONS = 50


# Fields the SDK (or a hand-rolled form post) may send as JSON-encoded strings.
_JSON_FIELDS = ("blocks", "attachments", "view", "metadata")


@dataclass
class SlackCall:
    """One Web API call as the fake saw it.

    ``status`` is the HTTP status returned; ``ok``/``error`` mirror the JSON answer (``ok`` is
    None when the answer was not JSON, e.g. an injected 500).
    """

    method: str
    args: Json
    at: float
    status: int
    ok: bool | None = None
    error: str | None = None
    http_method: str = "POST"


@dataclass(frozen=True)
class FileDownload:
    """One request for a file's bytes, as it arrived (``authorized``: it carried the token)."""

    file_id: str
    authorized: bool
    status: int


@dataclass
class _HttpFault:
    status: int
    retry_after: int


@dataclass
class _ErrorFault:
    error: str


@dataclass
class _StoreThenFail:
    """Perform the call, then answer 500 (the caller cannot tell it worked)."""


@dataclass
class _RandomFaults:
    """Seeded random faults on some methods; rates are probabilities per call."""

    rng: random.Random
    methods: frozenset[str]
    rate_429: float
    rate_500: float
    rate_500_after_store: float
    retry_after: int


# Kinds counted in SlackStandIn.injected.
FAULT_429 = "429"
FAULT_500 = "500"
FAULT_500_AFTER_STORE = "500_after_store"
FAULT_ERROR = "error"


@dataclass
class _Held:
    """A method whose answers are withheld; ``waiting`` counts calls parked on ``event``."""

    event: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: int = 0


def _truthy(value: object) -> bool:
    # Query strings carry booleans as "true"/"1" (slack_sdk converts True to "1").
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true")


def _ts_key(ts: object) -> tuple[int, int]:
    # Compare ts values exactly as (seconds, microseconds); float() loses microseconds at
    # this magnitude. "1.5" means 1.500000, so the fraction is right-padded.
    seconds, _, fraction = str(ts).strip().partition(".")
    return int(seconds or 0), int((fraction + "000000")[:6])


def _error(error: str, **extra: Any) -> Json:
    return {"ok": False, "error": error, **extra}


def _invalid(error: str, reasons: list[str]) -> Json:
    # Slack reports block problems both as ``errors`` and in response_metadata.messages.
    return _error(
        error,
        errors=reasons,
        response_metadata={"messages": [f"[ERROR] {reason}" for reason in reasons]},
    )


class EventSink(Protocol):
    """Where the stand-in sends the events Slack would send the app (``SlackSender``)."""

    async def event(
        self,
        event_dict: Json,
        event_id: str | None = None,
        retry_num: int | None = None,
        *,
        shared: bool | None = None,
    ) -> tuple[int, str, str]: ...


class SlackStandIn(LocalServer):
    """A fake Slack workspace and Web API; see the module docstring.

    State a test may read or fill directly: ``calls``, ``messages`` (every stored message,
    posted or injected), ``ephemerals``, ``views``, ``home_views`` (user id -> home view),
    ``reactions``, ``responses`` (bodies posted to :attr:`response_url`), ``channels``,
    ``users`` and ``teams`` (partial dicts merged over the defaults conversations.info,
    users.info and team.info return; :meth:`mark_guest` makes a guest) and ``members``
    (channel -> ids, for conversations.members).
    """

    name = "SlackStandIn"

    def __init__(
        self,
        token: str = "xoxb-test",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        team_id: str = "THOME",
        team_url: str = "https://home.slack.com/",
        app_token: str = "xapp-test",
        tls: ssl.SSLContext | None = None,  # serve https and wss (a test's own CA)
    ) -> None:
        super().__init__(tls=tls)
        self.token = token
        self.app_token = app_token
        # Socket Mode: connected websockets, and the acks the app sent back by envelope id.
        self.sockets: list[web.WebSocketResponse] = []
        self.socket_acks: dict[str, Json] = {}
        self._envelopes = itertools.count(1)
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.team_url = team_url
        self.calls: list[SlackCall] = []
        self.messages: list[Json] = []
        self.ephemerals: list[Json] = []
        self.views: list[Json] = []
        self.home_views: dict[str, Json] = {}
        # user group id -> member ids, for usergroups.users.list
        self.usergroups: dict[str, list[str]] = {}
        # Every reaction on a message: channel, ts, name (as given, a skin tone included) and
        # user, oldest first (reactions.get groups them by name).
        self.reactions: list[Json] = []
        # Where events about changes made here (a reaction added) go: the app's signed
        # endpoint, set by a SlackSender built with ``mirror=`` this stand-in; None: nowhere.
        self.events: EventSink | None = None
        self.delivered_events: list[Json] = []
        # The bot token's scopes (the X-OAuth-Scopes header): all the bot uses, unless a test
        # takes one away.
        self.scopes: list[str] = list(BOT_SCOPES)
        self._deliveries: set[asyncio.Task[None]] = set()
        self.responses: list[Json] = []
        # The path each response_url body was posted to (same order as ``responses``).
        self.response_paths: list[str] = []
        # The trigger id each modal was opened with (views.open / views.push), by view id.
        self.view_triggers: dict[str, str] = {}
        self.channels: dict[str, Json] = {}
        self.users: dict[str, Json] = {}
        # team id -> partial dicts merged over what team.info returns
        self.teams: dict[str, Json] = {}
        # channel id -> member ids, for conversations.members (a channel not here has the bot
        # as its only member)
        self.members: dict[str, list[str]] = {}
        # Identity of the dicts created by chat.postMessage, so posts() skips injected ones.
        self._posted: list[Json] = []
        self._faults: dict[str, deque[_HttpFault | _ErrorFault | _StoreThenFail]] = {}
        # channel -> the error chat.postMessage/chat.update there answer (refuse_channel)
        self.refused_channels: dict[str, str] = {}
        self._refusals_left: dict[str, int] = {}  # channel -> how many more (absent: all)
        # True: conversations.replies/history leave message metadata out even when asked (a
        # token without metadata.message:read, as far as the bot can tell)
        self.hide_metadata = False
        self._held: dict[str, _Held] = {}
        self._random: _RandomFaults | None = None
        # Injected faults by kind ("429", "500", "500_after_store", "error"), and by
        # "method:kind"; queued and random ones alike.
        self.injected: Counter[str] = Counter()
        self.injected_by_method: Counter[str] = Counter()
        self._used_ts: set[str] = set()
        self._last_ts = (0, 0)
        self._view_ids = itertools.count(1)
        self._started_at = time.monotonic()
        self._methods: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "views.open": self._views_open,
            "views.push": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "conversations.info": self._conversations_info,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
            "conversations.members": self._conversations_members,
            "users.info": self._users_info,
            "team.info": self._team_info,
            "usergroups.users.list": self._usergroups_users_list,
            "reactions.get": self._reactions_get,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "files.info": self._files_info,
        }
        # Files people shared (add_file): the objects files.info returns, their bytes, the
        # download faults queued per file, and every download request as it arrived.
        self.files: dict[str, Json] = {}
        self.file_bodies: dict[str, bytes] = {}
        self._download_faults: dict[str, deque[int]] = {}
        self.downloads: list[FileDownload] = []
        self._file_ids = itertools.count(1)

    # ------------------------------------------------------------------ lifecycle

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle)
        app.router.add_get("/socket", self._handle_socket)
        app.router.add_post("/response_url/{key:.*}", self._handle_response_url)
        # Slack's file host (files.slack.com): url_private_download, with the bot token.
        app.router.add_get("/files-pri/{team_file}/download/{name}", self._handle_download)
        return app

    async def start(self) -> None:
        await super().start()
        self._started_at = time.monotonic()

    async def wake_waiting(self) -> None:
        # Release parked answers first so their handlers finish and cleanup is quick.
        for held in self._held.values():
            held.event.set()
        self._held.clear()
        for ws in self.sockets:
            await ws.close()

    @property
    def url(self) -> str:
        """Base URL for ``AsyncWebClient(base_url=...)``; the SDK appends the method name."""
        return f"{self.origin}/api/"

    @property
    def response_url(self) -> str:
        """A response_url the bot can post to; bodies land in :attr:`responses`."""
        return f"http://127.0.0.1:{self.port}/response_url/T0/B0/fake"

    def share_externally(
        self, channel: str, team_id: str = "TPARTNER", *, pending: bool = False
    ) -> None:
        """Make ``channel`` a Slack Connect channel shared with ``team_id`` (or, ``pending``,
        one with an invitation to it not yet accepted), as conversations.info then says."""
        info = self.channels.setdefault(channel, {})
        if pending:
            info.update(is_pending_ext_shared=True, pending_connected_team_ids=[team_id])
        else:
            info.update(
                is_shared=True,
                is_ext_shared=True,
                is_pending_ext_shared=False,
                connected_team_ids=[self.team_id, team_id],
                shared_team_ids=[self.team_id, team_id],
            )

    # ------------------------------------------------------------------ fault injection

    def fail_next(
        self,
        method: str,
        status: Literal[429, 500, 503] | int = 429,
        times: int = 1,
        retry_after: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP ``status``, unperformed.

        429 carries ``Retry-After: retry_after`` and ``{"ok": false, "error": "ratelimited"}``;
        5xx carries a plain-text body, like a failing load balancer.
        """
        queue = self._faults.setdefault(method, deque())
        queue.extend(_HttpFault(status, retry_after) for _ in range(times))

    def error_next(self, method: str, error: str = "channel_not_found", times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with ``ok: false``, not performing them."""
        queue = self._faults.setdefault(method, deque())
        queue.extend(_ErrorFault(error) for _ in range(times))

    def refuse_channel(
        self, channel: str, error: str = "not_in_channel", times: int | None = None
    ) -> None:
        """Answer chat.postMessage/chat.update in ``channel`` with ``error`` (the bot was removed
        from it, say): the next ``times`` calls, or every one until :meth:`allow_channel`."""
        self.refused_channels[channel] = error
        self._refusals_left.pop(channel, None)
        if times is not None:
            self._refusals_left[channel] = times

    def allow_channel(self, channel: str) -> None:
        self.refused_channels.pop(channel, None)
        self._refusals_left.pop(channel, None)

    def fail_next_after_store(self, method: str, times: int = 1) -> None:
        """Perform the next ``times`` calls of ``method`` (a message is stored) but answer 500,
        as when a process dies between Slack taking a message and recording it."""
        queue = self._faults.setdefault(method, deque())
        queue.extend(_StoreThenFail() for _ in range(times))

    def random_faults(
        self,
        *,
        seed: int | None = None,
        rate_429: float = 0.0,
        rate_500: float = 0.0,
        rate_500_after_store: float = 0.0,
        methods: Iterable[str] = ("chat.postMessage", "chat.update"),
        retry_after: int = 1,
    ) -> None:
        """Fail calls of ``methods`` at random, with a RNG seeded by ``seed``.

        Per call, with probability ``rate_429`` the answer is a 429 with ``Retry-After:
        retry_after`` (nothing done); with ``rate_500`` a plain-text 500 (nothing done); with
        ``rate_500_after_store`` the method runs (a message is stored, an update applied) and the
        answer is still a 500, so the caller cannot tell whether it worked. Queued faults
        (fail_next, error_next) take precedence. Call :meth:`stop_random_faults` to end it.
        """
        total = rate_429 + rate_500 + rate_500_after_store
        if min(rate_429, rate_500, rate_500_after_store) < 0 or total > 1:
            raise ValueError("fault rates must be >= 0 and add up to at most 1")
        self._random = _RandomFaults(
            rng=random.Random(seed),
            methods=frozenset(methods),
            rate_429=rate_429,
            rate_500=rate_500,
            rate_500_after_store=rate_500_after_store,
            retry_after=retry_after,
        )

    def stop_random_faults(self) -> None:
        self._random = None

    def _count_fault(self, method: str, kind: str) -> None:
        self.injected[kind] += 1
        self.injected_by_method[f"{method}:{kind}"] += 1

    def _roll(self, method: str) -> str | None:
        """The random fault kind for this call of ``method``, or None."""
        faults = self._random
        if faults is None or method not in faults.methods:
            return None
        roll = faults.rng.random()
        if roll < faults.rate_429:
            return FAULT_429
        roll -= faults.rate_429
        if roll < faults.rate_500:
            return FAULT_500
        roll -= faults.rate_500
        if roll < faults.rate_500_after_store:
            return FAULT_500_AFTER_STORE
        return None

    def hold(self, method: str) -> None:
        """Perform and record calls of ``method`` but withhold the HTTP answer until release().

        This is the "Slack accepted it, the client never heard back" case: the message is
        stored (visible to conversations.replies/history) while the caller waits or times out.
        """
        self._held.setdefault(method, _Held())

    def release(self, method: str) -> None:
        held = self._held.pop(method, None)
        if held is not None:
            held.event.set()

    def held_count(self, method: str) -> int:
        """How many answers of ``method`` are currently parked by hold()."""
        held = self._held.get(method)
        return held.waiting if held is not None else 0

    # ------------------------------------------------------------------ files

    def add_file(
        self,
        name: str,
        content: bytes,
        *,
        mimetype: str,
        filetype: str | None = None,
        user: str = "UCUSTOMER",
        team: str | None = None,
        size: int | None = None,
        connect: bool = False,
    ) -> Json:
        """Share a file (its bytes are served at its ``url_private_download`` to the bot token)
        and return the file object a ``file_share`` message event carries: Slack's full one,
        or, ``connect``, the Slack Connect stub with ``file_access: check_file_info`` whose
        details only files.info gives. ``size`` overrides the size Slack reports."""
        file_id = f"F{next(self._file_ids):08d}"
        team_id = team or self.team_id
        ext = filetype or name.rpartition(".")[2].lower() or "binary"
        created = int(time.time())
        # Slack's links carry the name with its spaces and the like made safe.
        slug = urllib.parse.quote(name.replace(" ", "_"), safe="")
        download = f"{self.origin}/files-pri/{team_id}-{file_id}/download/{slug}"
        file: Json = {
            "id": file_id,
            "created": created,
            "timestamp": created,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": ext,
            "pretty_type": ext.upper(),
            "user": user,
            "user_team": team_id,
            "editable": False,
            "size": len(content) if size is None else size,
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": True,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": download.replace("/download/", "/"),
            "url_private_download": download,
            "permalink": f"{self.team_url.rstrip('/')}/files/{user}/{file_id}/{slug}",
            "permalink_public": f"https://slack-files.com/{team_id}-{file_id}-0000",
            "has_rich_preview": False,
            "file_access": "visible",
        }
        self.files[file_id] = file
        self.file_bodies[file_id] = content
        if connect:
            return {
                "id": file_id,
                "mode": "file_access",
                "file_access": "check_file_info",
                "created": 0,
                "timestamp": 0,
                "user": "",
            }
        return copy.deepcopy(file)

    def fail_download(self, file_id: str, status: int = 500, times: int = 1) -> None:
        """Answer the next ``times`` downloads of the file with HTTP ``status``."""
        self._download_faults.setdefault(file_id, deque()).extend([status] * times)

    async def _handle_download(self, request: web.Request) -> web.StreamResponse:
        _, _, file_id = request.match_info["team_file"].partition("-")
        authorized = request.headers.get("Authorization", "") == f"Bearer {self.token}"

        def answer(status: int) -> None:
            self.downloads.append(FileDownload(file_id, authorized, status))

        faults = self._download_faults.get(file_id)
        if faults:
            status = faults.popleft()
            answer(status)
            headers = {"Retry-After": "0"} if status == 429 else None
            return web.Response(
                status=status, text=f"fake file host error {status}", headers=headers
            )
        if not authorized:
            # Slack sends a request without a valid token to its sign-in page.
            answer(302)
            raise web.HTTPFound(f"{self.team_url.rstrip('/')}/?redir=%2Ffiles-pri")
        file = self.files.get(file_id)
        if file is None or file_id not in self.file_bodies:
            answer(404)
            return web.Response(status=404, text="file not found")
        answer(200)
        return web.Response(body=self.file_bodies[file_id], content_type=file["mimetype"])

    def _files_info(self, args: Json) -> Json:
        file = self.files.get(str(args.get("file") or ""))
        if file is None:
            return _error("file_not_found")
        return {
            "ok": True,
            "file": copy.deepcopy(file),
            "comments": [],
            "response_metadata": {"next_cursor": ""},
        }

    # ------------------------------------------------------------------ test helpers

    def mark_guest(self, user: str, *, single_channel: bool = False) -> None:
        """Make ``user`` a workspace guest in users.info: a multi-channel guest
        (``is_restricted``), or a single-channel one (``is_ultra_restricted`` too, as Slack
        reports them)."""
        self.users.setdefault(user, {}).update(
            {"is_restricted": True, "is_ultra_restricted": single_channel}
        )

    def add_message(
        self,
        channel: str,
        ts: str | None,
        text: str,
        user: str,
        thread_ts: str | None = None,
        team: str | None = None,
        **extra: Any,
    ) -> Json:
        """Inject a message (e.g. from a customer) so conversations.* can return it.

        ``ts=None`` picks a fresh one. Injecting an existing channel+ts again updates that
        message in place (so redelivered events mirrored by SlackSender don't duplicate it).
        """
        if ts is None:
            ts = self._new_ts()
        else:
            self._claim_ts(ts)
            existing = self.find_message(channel, ts)
            if existing is not None:
                existing.update(text=text, user=user, thread_ts=thread_ts, **extra)
                if team is not None:
                    existing["team"] = team
                return existing
        message: Json = {
            "type": "message",
            "channel": channel,
            "ts": ts,
            "thread_ts": thread_ts,
            "text": text,
            "user": user,
            "team": team or self.team_id,
            "blocks": None,
            "metadata": None,
            "bot_id": None,
            **extra,
        }
        self.messages.append(message)
        return message

    def calls_to(self, method: str) -> list[Json]:
        """Args of the successful (HTTP 200, ok: true) calls of ``method``, in order."""
        return [c.args for c in self.calls if c.method == method and c.status == 200 and c.ok]

    def posts(self, channel: str | None = None, thread_ts: str | None = None) -> list[Json]:
        """Messages stored by successful chat.postMessage calls (current state, after updates).

        ``thread_ts`` selects replies in that thread (the root itself is not included).
        """
        return [
            copy.deepcopy(m)
            for m in self._posted
            if (channel is None or m["channel"] == channel)
            and (thread_ts is None or m.get("thread_ts") == thread_ts)
        ]

    def find_message(self, channel: str, ts: str) -> Json | None:
        for message in self.messages:
            if message["channel"] == channel and message["ts"] == ts:
                return message
        return None

    def dump(self) -> str:
        """A readable log of calls and stored messages, for assertion messages."""
        lines = [f"SlackStandIn: {len(self.calls)} call(s)"]
        for c in self.calls:
            args = json.dumps(c.args, default=str)
            if len(args) > 400:
                args = args[:400] + "..."
            outcome = "ok" if c.ok else (c.error or "no json")
            lines.append(
                f"  +{c.at - self._started_at:7.3f}s {c.http_method} {c.method} "
                f"-> {c.status} {outcome} {args}"
            )
        lines.append(f"SlackStandIn: {len(self.messages)} stored message(s)")
        for m in self.messages:
            text = (m.get("text") or "")[:120]
            lines.append(
                f"  {m['channel']} ts={m['ts']} thread_ts={m.get('thread_ts')} "
                f"user={m.get('user')} text={text!r}"
            )
        return "\n".join(lines)

    # A timeout argument (not asyncio.timeout) so the failure carries the call dump.
    async def wait_for(
        self,
        predicate: Callable[[SlackStandIn], bool],
        timeout: float = 10.0,
    ) -> None:
        """Poll ``predicate(self)`` every 20 ms; AssertionError with a call dump on timeout.

        An exception from the predicate counts as "not yet" (so ``s.posts()[0]`` may be used
        before anything is posted) and is reported if the wait times out.
        """
        deadline = time.monotonic() + timeout
        last_exc: Exception | None = None
        while True:
            try:
                if predicate(self):
                    return
                last_exc = None
            except Exception as exc:  # reported if the wait times out
                last_exc = exc
            if time.monotonic() >= deadline:
                detail = f" (last predicate error: {last_exc!r})" if last_exc else ""
                raise AssertionError(
                    f"SlackStandIn.wait_for timed out after {timeout}s{detail}\n{self.dump()}"
                )
            await asyncio.sleep(0.02)

    async def wait_for_posts(
        self,
        n: int,
        channel: str | None = None,
        thread_ts: str | None = None,
        timeout: float = 10.0,
    ) -> list[Json]:
        """Wait until at least ``n`` matching posts exist; return them all."""
        await self.wait_for(lambda s: len(s.posts(channel, thread_ts)) >= n, timeout)
        return self.posts(channel, thread_ts)

    # ------------------------------------------------------------------ HTTP plumbing

    async def _read_args(self, request: web.Request) -> Json:
        args: Json = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    body = None
                if isinstance(body, dict):
                    args.update(body)
                else:
                    args["__invalid_json__"] = True
            else:
                form = await request.post()
                for key, value in form.items():
                    args[key] = value if isinstance(value, str) else getattr(value, "filename", "")
        for key in _JSON_FIELDS:
            raw = args.get(key)
            if isinstance(raw, str) and raw.strip()[:1] in ("[", "{"):
                # Left as a string when malformed: the method handler then reports it invalid.
                with contextlib.suppress(ValueError):
                    args[key] = json.loads(raw)
        return args

    def _token(self, request: web.Request, args: Json) -> str | None:
        token = args.pop("token", None)
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[len("Bearer ") :]
        return token if isinstance(token, str) else None

    def _record(
        self, request: web.Request, method: str, args: Json, status: int, body: Json | None
    ) -> None:
        self.calls.append(
            SlackCall(
                method=method,
                args=copy.deepcopy(args),
                at=time.monotonic(),
                status=status,
                ok=None if body is None else bool(body.get("ok")),
                error=None if body is None else body.get("error"),
                http_method=request.method,
            )
        )

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        args = await self._read_args(request)
        invalid_json = bool(args.pop("__invalid_json__", False))
        token = self._token(request, args)
        if method == "apps.connections.open":
            # Socket Mode: only the app-level token may open a connection.
            body = (
                # By the name the app reached us by (a proxy test's name resolves only there).
                {"ok": True, "url": f"{'wss' if self.tls else 'ws'}://{request.host}/socket"}
                if token == self.app_token
                else _error("invalid_auth")
            )
            self._record(request, method, args, 200, body)
            return web.json_response(body)
        if token != self.token:
            # Auth failures do not consume injected faults: the call never reached the method.
            body = _error("invalid_auth")
            self._record(request, method, args, 200, body)
            return web.json_response(body)

        queue = self._faults.get(method)
        fault = queue.popleft() if queue else None
        after_store = False
        if isinstance(fault, _StoreThenFail):
            fault, after_store = None, True
        if fault is None:
            kind = self._roll(method)
            if kind == FAULT_429:
                fault = _HttpFault(429, self._random.retry_after if self._random else 1)
            elif kind == FAULT_500:
                fault = _HttpFault(500, 0)
            elif kind == FAULT_500_AFTER_STORE:
                after_store = True
        if isinstance(fault, _HttpFault):
            if fault.status == 429:
                self._count_fault(method, FAULT_429)
                body = _error("ratelimited")
                self._record(request, method, args, 429, body)
                return web.json_response(
                    body, status=429, headers={"Retry-After": str(fault.retry_after)}
                )
            self._count_fault(method, FAULT_500 if fault.status == 500 else str(fault.status))
            self._record(request, method, args, fault.status, None)
            return web.Response(status=fault.status, text=f"fake upstream error {fault.status}")
        if isinstance(fault, _ErrorFault):
            self._count_fault(method, FAULT_ERROR)
            body = _error(fault.error)
        elif invalid_json:
            body = _error("invalid_json")
        elif method not in self._methods:
            body = _error("unknown_method")
        elif method in ("chat.postMessage", "chat.update") and (
            str(args.get("channel")) in self.refused_channels
        ):
            channel = str(args.get("channel"))
            self._count_fault(method, FAULT_ERROR)
            body = _error(self.refused_channels[channel])
            left = self._refusals_left.get(channel)
            if left is not None:
                self._refusals_left[channel] = left - 1
                if left <= 1:
                    self.allow_channel(channel)
        else:
            body = self._methods[method](args)
        if after_store and body.get("ok"):
            # Performed and stored, but the caller only sees a failing load balancer.
            self._count_fault(method, FAULT_500_AFTER_STORE)
            self._record(request, method, args, 500, None)
            return web.Response(status=500, text="fake upstream error 500 (after storing)")
        self._record(request, method, args, 200, body)

        held = self._held.get(method)
        if held is not None:
            # The call is performed and recorded; only the answer waits for release().
            held.waiting += 1
            try:
                await held.event.wait()
            finally:
                held.waiting -= 1
        # Like Slack, every answer to a token names the scopes it was granted.
        return web.json_response(body, headers={"X-OAuth-Scopes": ",".join(self.scopes)})

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_json(
            {"type": "hello", "num_connections": len(self.sockets), "debug_info": {}}
        )
        async for message in ws:
            if message.type != web.WSMsgType.TEXT:
                continue
            with contextlib.suppress(ValueError):
                data = json.loads(message.data)
                if isinstance(data, dict) and "envelope_id" in data:
                    self.socket_acks[str(data["envelope_id"])] = data
        if ws in self.sockets:
            self.sockets.remove(ws)
        return ws

    async def socket_send(self, kind: str, payload: Json, retry_attempt: int = 0) -> str:
        """Deliver a Socket Mode envelope (``events_api``, ``interactive``, ``slash_commands``)
        to the newest connection; returns its envelope id."""
        await self.wait_for(lambda s: bool(s.sockets))
        envelope_id = f"env-{next(self._envelopes)}"
        await self.sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": retry_attempt,
                "retry_reason": "timeout" if retry_attempt else "",
            }
        )
        return envelope_id

    async def socket_ack(self, envelope_id: str, timeout: float = 10.0) -> Json:
        """The app's acknowledgement of an envelope (with its response payload, if any)."""
        await self.wait_for(lambda s: envelope_id in s.socket_acks, timeout=timeout)
        return self.socket_acks[envelope_id]

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        if request.content_type == "application/json":
            body = await request.json()
        else:
            body = dict(await request.post())
        self.responses.append(body if isinstance(body, dict) else {"body": body})
        self.response_paths.append(request.match_info["key"])
        return web.json_response({"ok": True})

    # ------------------------------------------------------------------ state helpers

    def _claim_ts(self, ts: str) -> None:
        self._used_ts.add(ts)
        self._last_ts = max(self._last_ts, _ts_key(ts))

    def _new_ts(self) -> str:
        now_us = time.time_ns() // 1000
        candidate = divmod(now_us, 1_000_000)
        if candidate <= self._last_ts:
            seconds, micros = self._last_ts
            candidate = (seconds, micros + 1) if micros < 999_999 else (seconds + 1, 0)
        ts = f"{candidate[0]}.{candidate[1]:06d}"
        self._claim_ts(ts)
        return ts

    def _public(self, message: Json, *, include_metadata: bool = True) -> Json:
        """A stored message as Slack returns it: no channel, no null fields, thread info."""
        out = {
            k: copy.deepcopy(v)
            for k, v in message.items()
            if v is not None and k not in ("channel", "metadata")
        }
        if include_metadata and message.get("metadata") is not None:
            out["metadata"] = copy.deepcopy(message["metadata"])
        reactions = self.message_reactions(message["channel"], message["ts"])
        if reactions:
            out["reactions"] = reactions
        if not message.get("thread_ts") or message["thread_ts"] == message["ts"]:
            replies = self._replies(message["channel"], message["ts"])
            if replies:
                out["thread_ts"] = message["ts"]
                out["reply_count"] = len(replies)
                out["reply_users"] = sorted({r["user"] for r in replies if r.get("user")})
                out["latest_reply"] = replies[-1]["ts"]
        return out

    def _replies(self, channel: str, root_ts: str) -> list[Json]:
        found = [
            m
            for m in self.messages
            if m["channel"] == channel and m.get("thread_ts") == root_ts and m["ts"] != root_ts
        ]
        return sorted(found, key=lambda m: _ts_key(m["ts"]))

    def _check_message_content(self, args: Json, surface: Surface = "message") -> Json | None:
        """The error answer for bad text/blocks/metadata, or None if acceptable."""
        text = args.get("text")
        if text is not None and not isinstance(text, str):
            return _error("invalid_arguments")
        if isinstance(text, str) and len(text) > MESSAGE_TEXT_MAX:
            return _error("msg_too_long")
        if "blocks" in args:
            reasons = validate_blocks(args["blocks"], surface=surface)
            if reasons:
                return _invalid("invalid_blocks", reasons)
        metadata = args.get("metadata")
        if metadata is not None and not (
            isinstance(metadata, dict)
            and isinstance(metadata.get("event_type"), str)
            and isinstance(metadata.get("event_payload"), dict)
        ):
            return _error("invalid_metadata_format")
        return None

    def _is_own(self, message: Json) -> bool:
        return message.get("user") == self.bot_user_id or message.get("bot_id") == self.bot_id

    @staticmethod
    def _page(items: list[Json], args: Json, default_limit: int) -> tuple[list[Json], Json]:
        # Offset cursors: enough for clients that follow next_cursor, opaque to everyone else.
        try:
            limit = int(args.get("limit") or default_limit)
        except (TypeError, ValueError):
            limit = default_limit
        cursor = str(args.get("cursor") or "")
        start = int(cursor[4:]) if cursor.startswith("off:") and cursor[4:].isdigit() else 0
        page = items[start : start + max(limit, 1)]
        more = start + len(page) < len(items)
        meta = {
            "has_more": more,
            "response_metadata": {"next_cursor": f"off:{start + len(page)}" if more else ""},
        }
        return page, meta

    @staticmethod
    def _in_range(ts: str, args: Json) -> bool:
        inclusive = _truthy(args.get("inclusive", False))
        key = _ts_key(ts)
        oldest, latest = args.get("oldest"), args.get("latest")
        if oldest not in (None, "", "0"):
            low = _ts_key(oldest)
            if key < low or (key == low and not inclusive):
                return False
        if latest not in (None, "", "0"):
            high = _ts_key(latest)
            if key > high or (key == high and not inclusive):
                return False
        return True

    def _store_view(self, view: Json, *, existing: Json | None = None) -> Json:
        view_id = existing["id"] if existing else f"V{next(self._view_ids):08d}"
        stored: Json = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view["type"],
            "title": view.get("title"),
            "submit": view.get("submit"),
            "close": view.get("close"),
            "blocks": copy.deepcopy(view.get("blocks", [])),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "state": {"values": {}},
            "hash": f"{time.time():.6f}.{view_id}",
            "root_view_id": existing["root_view_id"] if existing else view_id,
            "previous_view_id": None,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        # Slack omits absent optional fields (a home tab has no title/submit/close).
        stored = {k: v for k, v in stored.items() if v is not None or k == "previous_view_id"}
        if existing is not None:
            existing.clear()
            existing.update(stored)
            return existing
        self.views.append(stored)
        return stored

    def store_pushed_view(self, view: Json) -> Json:
        """Store a view an app returned in a response (``response_action: push``)."""
        return copy.deepcopy(self._store_view(view))

    def replace_view(self, view_id: str, view: Json) -> Json:
        """Replace a stored view's content (``response_action: update``)."""
        existing = next(v for v in self.views if v["id"] == view_id)
        return copy.deepcopy(self._store_view(view, existing=existing))

    # ------------------------------------------------------------------ API methods

    def _auth_test(self, args: Json) -> Json:
        return {
            "ok": True,
            "url": self.team_url,
            "team": "Home",
            "user": "support-bot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, args: Json) -> Json:
        channel = args.get("channel")
        if not channel:
            return _error("channel_not_found")
        if not args.get("text") and not args.get("blocks") and not args.get("attachments"):
            return _error("no_text")
        problem = self._check_message_content(args)
        if problem is not None:
            return problem
        message: Json = {
            "type": "message",
            "channel": channel,
            "ts": self._new_ts(),
            "thread_ts": args.get("thread_ts") or None,
            "text": args.get("text", ""),
            "blocks": args.get("blocks"),
            "metadata": args.get("metadata"),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "team": self.team_id,
        }
        self.messages.append(message)
        self._posted.append(message)
        return {
            "ok": True,
            "channel": channel,
            "ts": message["ts"],
            "message": self._public(message),
        }

    def _chat_update(self, args: Json) -> Json:
        channel, ts = args.get("channel"), args.get("ts")
        message = self.find_message(channel, ts) if channel and ts else None
        if message is None:
            return _error("message_not_found")
        if not self._is_own(message):
            return _error("cant_update_message")
        if "text" not in args and "blocks" not in args and "attachments" not in args:
            return _error("no_text")
        problem = self._check_message_content(args)
        if problem is not None:
            return problem
        # Like Slack, fields left out keep their previous value.
        for key in ("text", "blocks", "metadata", "attachments"):
            if key in args:
                message[key] = args[key]
        message["edited"] = {"user": self.bot_user_id, "ts": self._new_ts()}
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": message.get("text", ""),
            "message": self._public(message),
        }

    def _chat_delete(self, args: Json) -> Json:
        channel, ts = args.get("channel"), args.get("ts")
        message = self.find_message(channel, ts) if channel and ts else None
        if message is None:
            return _error("message_not_found")
        if not self._is_own(message):
            return _error("cant_delete_message")
        self.messages = [m for m in self.messages if m is not message]
        self._posted = [m for m in self._posted if m is not message]
        return {"ok": True, "channel": channel, "ts": ts}

    def _chat_post_ephemeral(self, args: Json) -> Json:
        channel, user = args.get("channel"), args.get("user")
        if not channel:
            return _error("channel_not_found")
        if not user:
            return _error("user_not_in_channel")
        if not args.get("text") and not args.get("blocks") and not args.get("attachments"):
            return _error("no_text")
        problem = self._check_message_content(args)
        if problem is not None:
            return problem
        message_ts = self._new_ts()
        self.ephemerals.append(
            {
                "channel": channel,
                "user": user,
                "text": args.get("text", ""),
                "blocks": args.get("blocks"),
                "thread_ts": args.get("thread_ts") or None,
                "message_ts": message_ts,
            }
        )
        return {"ok": True, "message_ts": message_ts}

    def _chat_get_permalink(self, args: Json) -> Json:
        channel, ts = args.get("channel"), args.get("message_ts")
        if not channel:
            return _error("channel_not_found")
        if not ts:
            return _error("message_not_found")
        # Deliberately lenient: the fake never sees the events a test sends to the bot, so it
        # cannot know whether such a message exists; the permalink depends only on its ids.
        link = f"{self.team_url.rstrip('/')}/archives/{channel}/p{str(ts).replace('.', '')}"
        message = self.find_message(channel, ts)
        if message and message.get("thread_ts") and message["thread_ts"] != ts:
            link += f"?thread_ts={message['thread_ts']}&cid={channel}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _views_open(self, args: Json) -> Json:
        if not args.get("trigger_id") or "view" not in args:
            return _error("invalid_arguments")
        reasons = validate_view(args["view"], expect_type="modal")
        if reasons:
            return _invalid("invalid_arguments", reasons)
        stored = self._store_view(args["view"])
        self.view_triggers[stored["id"]] = str(args["trigger_id"])
        return {"ok": True, "view": copy.deepcopy(stored)}

    def _views_update(self, args: Json) -> Json:
        view_id, external_id = args.get("view_id"), args.get("external_id")
        if (not view_id and not external_id) or "view" not in args:
            return _error("invalid_arguments")
        existing = next(
            (
                v
                for v in self.views
                if (view_id and v["id"] == view_id)
                or (external_id and v["external_id"] == external_id)
            ),
            None,
        )
        if existing is None:
            return _error("not_found")
        if args.get("hash") and args["hash"] != existing["hash"]:
            return _error("hash_conflict")
        reasons = validate_view(args["view"])
        if reasons:
            return _invalid("invalid_arguments", reasons)
        return {
            "ok": True,
            "view": copy.deepcopy(self._store_view(args["view"], existing=existing)),
        }

    def _views_publish(self, args: Json) -> Json:
        user_id = args.get("user_id")
        if not user_id or "view" not in args:
            return _error("invalid_arguments")
        reasons = validate_view(args["view"], expect_type="home")
        if reasons:
            return _invalid("invalid_arguments", reasons)
        stored = self._store_view(args["view"], existing=self.home_views.get(user_id))
        self.home_views[user_id] = stored
        return {"ok": True, "view": copy.deepcopy(stored)}

    def _conversations_info(self, args: Json) -> Json:
        channel = args.get("channel")
        if not channel:
            return _error("channel_not_found")
        info: Json = {
            "id": channel,
            "name": channel.lower(),
            "is_channel": not channel.startswith("D"),
            "is_im": channel.startswith("D"),
            "is_private": channel.startswith("G"),
            "is_shared": False,
            "is_org_shared": False,
            "is_ext_shared": False,
            "is_pending_ext_shared": False,
            "is_member": True,
        }
        info.update(copy.deepcopy(self.channels.get(channel, {})))
        return {"ok": True, "channel": info}

    def _conversations_replies(self, args: Json) -> Json:
        channel, ts = args.get("channel"), args.get("ts")
        if not channel:
            return _error("channel_not_found")
        message = self.find_message(channel, ts) if ts else None
        if message is None:
            return _error("thread_not_found")
        # A reply's ts also names its thread, as with real Slack.
        root_ts = message.get("thread_ts") or message["ts"]
        root = self.find_message(channel, root_ts)
        replies = [m for m in self._replies(channel, root_ts) if self._in_range(m["ts"], args)]
        thread = ([root] if root is not None else []) + replies
        with_metadata = _truthy(args.get("include_all_metadata", False)) and not self.hide_metadata
        page, meta = self._page(thread, args, default_limit=1000)
        return {
            "ok": True,
            "messages": [self._public(m, include_metadata=with_metadata) for m in page],
            **meta,
        }

    def _conversations_history(self, args: Json) -> Json:
        channel = args.get("channel")
        if not channel:
            return _error("channel_not_found")
        roots = [
            m
            for m in self.messages
            if m["channel"] == channel
            and m.get("thread_ts") in (None, m["ts"])
            and self._in_range(m["ts"], args)
        ]
        roots.sort(key=lambda m: _ts_key(m["ts"]), reverse=True)
        with_metadata = _truthy(args.get("include_all_metadata", False)) and not self.hide_metadata
        page, meta = self._page(roots, args, default_limit=100)
        return {
            "ok": True,
            "messages": [self._public(m, include_metadata=with_metadata) for m in page],
            **meta,
        }

    def _users_info(self, args: Json) -> Json:
        user = args.get("user")
        if not user:
            return _error("user_not_found")
        info: Json = {
            "id": user,
            "team_id": self.team_id,
            "name": user.lower(),
            "real_name": user,
            "deleted": False,
            "is_admin": False,
            "is_owner": False,
            "is_bot": False,
            "profile": {"display_name": user.lower(), "real_name": user},
        }
        info.update(copy.deepcopy(self.users.get(user, {})))
        return {"ok": True, "user": info}

    def _team_info(self, args: Json) -> Json:
        team = args.get("team") or self.team_id
        info: Json = {"id": team, "name": "Home" if team == self.team_id else team}
        info["domain"] = str(info["name"]).lower()
        info.update(copy.deepcopy(self.teams.get(team, {})))
        return {"ok": True, "team": info}

    def _conversations_members(self, args: Json) -> Json:
        channel = args.get("channel")
        if not channel:
            return _error("channel_not_found")
        members = [{"id": m} for m in self.members.get(channel, [self.bot_user_id])]
        page, meta = self._page(members, args, default_limit=100)
        return {"ok": True, "members": [m["id"] for m in page], **meta}

    def _usergroups_users_list(self, args: Json) -> Json:
        group = args.get("usergroup")
        if not group or group not in self.usergroups:
            return _error("no_such_subteam")
        return {"ok": True, "users": list(self.usergroups[group])}

    def _reactions_get(self, args: Json) -> Json:
        """The message and its reactions (``full``: every user; the stand-in always gives all)."""
        channel, ts = args.get("channel"), args.get("timestamp")
        if not channel or not ts:
            return _error("no_item_specified")
        message = self.find_message(str(channel), str(ts))
        if message is None:
            return _error("message_not_found")
        public = self._public(message)
        public["permalink"] = self._chat_get_permalink({"channel": channel, "message_ts": ts})[
            "permalink"
        ]
        return {"ok": True, "type": "message", "channel": channel, "message": public}

    def _reactions_add(self, args: Json) -> Json:
        # The token's user reacts: with the bot token, the bot.
        return self.add_reaction(
            self.bot_user_id, args.get("channel"), args.get("timestamp"), args.get("name")
        )

    def _reactions_remove(self, args: Json) -> Json:
        return self.remove_reaction(
            self.bot_user_id, args.get("channel"), args.get("timestamp"), args.get("name")
        )

    # ------------------------------------------------------------------ reactions

    def message_reactions(self, channel: str, ts: str) -> list[Json]:
        """A message's reactions as Slack lists them: ``name``, ``users``, ``count``, in the
        order each emoji was first added."""
        grouped: dict[str, list[str]] = {}
        for r in self.reactions:
            if r["channel"] == channel and r["ts"] == ts:
                grouped.setdefault(r["name"], []).append(r["user"])
        return [{"name": n, "users": u, "count": len(u)} for n, u in grouped.items()]

    def add_reaction(self, user: str, channel: object, ts: object, name: object) -> Json:
        """``user`` adds ``:name:`` to a message, with reactions.add's answers; on success the
        ``reaction_added`` event goes to the app (:attr:`events`) as Slack would send it."""
        checked = self._reaction_target(channel, ts, name)
        if "error" in checked:
            return checked
        reaction = {"channel": channel, "ts": ts, "name": str(name), "user": user}
        if reaction in self.reactions:
            return _error("already_reacted")
        names = [r["name"] for r in self.message_reactions(str(channel), str(ts))]
        if len(names) >= MAX_REACTIONS and reaction["name"] not in names:
            return _error("too_many_reactions")
        self.reactions.append(reaction)
        message = self.find_message(str(channel), str(ts))
        assert message is not None
        self._deliver_event(
            {
                "type": "reaction_added",
                "user": user,
                "reaction": str(name),
                "item_user": message.get("user"),
                "item": {"type": "message", "channel": channel, "ts": ts},
                "event_ts": self._new_ts(),
            }
        )
        return {"ok": True}

    def remove_reaction(self, user: str, channel: object, ts: object, name: object) -> Json:
        """``user`` takes ``:name:`` off a message, with reactions.remove's answers."""
        checked = self._reaction_target(channel, ts, name)
        if "error" in checked:
            return checked
        reaction = {"channel": channel, "ts": ts, "name": str(name), "user": user}
        if reaction not in self.reactions:
            return _error("no_reaction")
        self.reactions.remove(reaction)
        return {"ok": True}

    async def react(self, user: str, channel: str, ts: str, name: str) -> Json:
        """A person reacts in the client: the reaction is stored and the app's
        ``reaction_added`` event delivered (awaited) before this returns."""
        answer = self.add_reaction(user, channel, ts, name)
        await self.delivered()
        return answer

    async def delivered(self) -> None:
        """Wait until every event the stand-in sent the app has been acknowledged."""
        while self._deliveries:
            await asyncio.gather(*list(self._deliveries), return_exceptions=True)

    def _reaction_target(self, channel: object, ts: object, name: object) -> Json:
        if not channel or not ts:
            return _error("no_item_specified")
        if not isinstance(name, str) or not _EMOJI_NAME.match(name):
            return _error("invalid_name")
        if self.find_message(str(channel), str(ts)) is None:
            return _error("message_not_found")
        return {"ok": True}

    def _deliver_event(self, event: Json) -> None:
        """Send ``event`` to the app, signed, as Slack does after the change (in the
        background: Slack answers the API call without waiting for the app)."""
        sender = self.events
        if sender is None:
            return

        item = event.get("item") or {}
        shared = bool(self.channels.get(str(item.get("channel")), {}).get("is_ext_shared"))

        async def deliver() -> None:
            status, _, event_id = await sender.event(event, shared=shared)
            self.delivered_events.append({"event": event, "event_id": event_id, "status": status})

        task = asyncio.get_running_loop().create_task(deliver())
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)
