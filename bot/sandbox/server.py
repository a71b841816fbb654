"""The sandbox: the real bot, unchanged, against the Slack stand-in, and a page to play it.

``support-bot sandbox`` starts three things in one process: the Slack stand-in
(``bot/sandbox/standin.py``, which rejects what Slack would reject), the bot itself in HTTP mode
(``BotRuntime``, with its own SQLite file and the example knowledge base in ``bot/sandbox/kb``),
and this server: the page (``static/``) and the small JSON API behind it. What a person does on
the page becomes the signed request Slack would send the bot (``bot/sandbox/signed.py``); what
the bot sends Slack is what the page shows.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import SecretStr

from bot.kb.base import KnowledgeBase
from bot.runtime.runtime import BotRuntime
from bot.sandbox.signed import SlackSender, new_trigger_id
from bot.sandbox.standin import SlackStandIn
from bot.sandbox.tracker import SandboxTracker
from bot.settings.environment import Settings
from persistence.connect import database_for
from persistence.knowledge import KnowledgeRepository

log = logging.getLogger(__name__)

Json = dict[str, Any]
HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
EXAMPLE_KB = HERE / "kb"
HOME_TEAM = "TPARCELO"
# What the page may attach to one message: as many files as Slack allows, and a request body
# big enough for a file over the bot's limits (so the refusal can be tried).
ATTACH_MAX_FILES = 10
REQUEST_MAX_BYTES = 40 * 1024 * 1024


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    role: str
    company: str
    team: str


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    members: tuple[str, ...]
    note: str
    empty: str
    shared: bool = False


CUSTOMER = Person("UDANA", "Dana Kim", "Customer", "Acme Corp", "TACME")
REVIEWER = Person("URILEY", "Riley Chen", "Reviewer", "Parcelo support", HOME_TEAM)
ADMIN = Person("UALEX", "Alex Moreno", "Admin", "Parcelo support", HOME_TEAM)
PEOPLE = (CUSTOMER, REVIEWER, ADMIN)
SUPPORT = Channel(
    "CACMEHELP",
    "acme-help",
    (CUSTOMER.id, REVIEWER.id, ADMIN.id),
    "shared with Acme Corp (Slack Connect): the bot answers here",
    "Ask something as Dana, the way customers write: \u201cHi team! I printed a label by"
    " mistake yesterday for order #55123, can I still void it and get my money back?\u201d"
    " Or in another language: \u201cHallo! Kann ich ein Etikett noch stornieren, das ich"
    " aus Versehen gedruckt habe?\u201d",
    shared=True,
)
ESCALATIONS = Channel(
    "CESCALATE",
    "support-escalations",
    (REVIEWER.id, ADMIN.id),
    "your team only: the bot asks for review here",
    "Cards appear here when the bot needs a person.",
)
CHANNELS = (SUPPORT, ESCALATIONS)


class SandboxError(Exception):
    """A request from the page that cannot be carried out (shown on the page)."""


@dataclass
class Modal:
    view_id: str
    errors: dict[str, str] = field(default_factory=dict)


class Sandbox:
    def __init__(self, workdir: Path, *, llm_key: str | None = None) -> None:
        self.workdir = workdir
        self.llm_key = llm_key
        self.token = "xoxb-sandbox-" + secrets.token_hex(8)
        self.secret = secrets.token_hex(16)
        self.slack = SlackStandIn(
            token=self.token, team_id=HOME_TEAM, team_url="https://parcelo.slack.com/"
        )
        self.runtime: BotRuntime | None = None
        self.sender: SlackSender | None = None
        # "Create issue" on cards files issues here; the page closes them (a signed webhook).
        self.tracker = SandboxTracker()
        self.modals: dict[str, list[Modal]] = {p.id: [] for p in PEOPLE}
        self.notes: list[Json] = []  # replies to commands and clicks, shown to one person
        self._triggers: dict[str, str] = {}  # trigger id -> person
        self._seen_views: set[str] = set()
        self._responses_seen = 0
        self._changes = itertools.count(1)
        self._change = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def settings(self) -> Settings:
        values: dict[str, Any] = {
            "slack_bot_token": SecretStr(self.token),
            "slack_signing_secret": SecretStr(self.secret),
            "slack_api_url": self.slack.url,
            "host": "127.0.0.1",
            "port": 0,
            "database_url": f"sqlite:///{self.workdir / 'sandbox.db'}",
            "support_channels": [SUPPORT.id],
            "escalation_channel": ESCALATIONS.id,
            "support_reviewers": [REVIEWER.id],
            "support_admins": [ADMIN.id],
            "digest_hour": None,
            "metrics_port": None,
            "openai_api_key": SecretStr(self.llm_key) if self.llm_key else None,
            "issue_tracker": "github",
            "github_token": SecretStr(self.tracker.token),
            "github_repo": self.tracker.repo,
            "github_api_url": self.tracker.origin,
            "tracker_webhook_secret": SecretStr(self.tracker.secret),
        }
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    async def start(self) -> None:
        for person in PEOPLE:
            self.slack.users[person.id] = {
                "team_id": person.team,
                "name": person.name.split()[0].lower(),
                "real_name": person.name,
                "profile": {"display_name": person.name, "real_name": person.name},
            }
        for channel in CHANNELS:
            self.slack.channels[channel.id] = {
                "name": channel.name,
                "is_ext_shared": channel.shared,
            }
        await self.slack.start()
        await self.tracker.start()
        settings = self.settings()
        # A fresh workspace every run: the stand-in keeps its messages in memory, so tickets
        # left in an old database would point at cards and threads that no longer exist.
        for suffix in ("", "-wal", "-shm"):
            (self.workdir / f"sandbox.db{suffix}").unlink(missing_ok=True)
        await self._import_knowledge(settings)
        self.runtime = BotRuntime(settings)
        await self.runtime.start()
        self.sender = SlackSender(
            f"http://127.0.0.1:{self.runtime.port}/slack/events",
            self.secret,
            team_id=HOME_TEAM,
            mirror=self.slack,
        )

    async def _import_knowledge(self, settings: Settings) -> None:
        db = database_for(settings)
        await db.open()
        try:
            await KnowledgeBase(KnowledgeRepository(db)).import_paths([EXAMPLE_KB])
        finally:
            await db.close()

    async def stop(self) -> None:
        if self.runtime is not None:
            await self.runtime.stop()
            self.runtime = None
        await self.slack.stop()
        await self.tracker.stop()

    # -- what the page shows -----------------------------------------------------------------

    def _person(self, user: object) -> Person:
        for person in PEOPLE:
            if person.id == user:
                return person
        raise SandboxError(f"no such person in the sandbox: {user!r}")

    def _channel(self, channel: object, person: Person) -> Channel:
        for candidate in CHANNELS:
            if candidate.id == channel:
                if person.id not in candidate.members:
                    raise SandboxError(f"{person.name} is not in #{candidate.name}")
                return candidate
        raise SandboxError(f"no such channel in the sandbox: {channel!r}")

    def _changed(self) -> None:
        self._change = next(self._changes)

    def _collect(self) -> None:
        """Fold what the bot sent since the last look into who sees it."""
        for view in self.slack.views:
            if view["id"] in self._seen_views or view.get("type") != "modal":
                continue
            self._seen_views.add(view["id"])
            person = self._triggers.get(self.slack.view_triggers.get(view["id"], ""))
            if person is not None:
                self.modals[person].append(Modal(view["id"]))
        while self._responses_seen < len(self.slack.responses):
            body = self.slack.responses[self._responses_seen]
            path = self.slack.response_paths[self._responses_seen]
            self._responses_seen += 1
            user, _, channel = path.partition("/")
            self._note(user, channel.split("/")[0], body)

    def _note(self, user: str, channel: str, body: Json, thread_ts: str | None = None) -> None:
        if body.get("delete_original"):
            return
        text, blocks = body.get("text", ""), body.get("blocks")
        if not text and not blocks:
            return
        self.notes.append(
            {
                "user": user,
                "channel": channel,
                "text": text,
                "blocks": blocks,
                "thread_ts": thread_ts,
                "message_ts": f"note-{len(self.notes)}",
            }
        )
        self._changed()

    def _view(self, view_id: str) -> Json | None:
        return next((v for v in self.slack.views if v["id"] == view_id), None)

    def state(self) -> Json:
        self._collect()
        modals: Json = {}
        for person, stack in self.modals.items():
            while stack and self._view(stack[-1].view_id) is None:
                stack.pop()
            if stack:
                view = self._view(stack[-1].view_id)
                modals[person] = {"view": view, "errors": stack[-1].errors}
        messages = [
            {
                **{
                    key: m.get(key)
                    for key in ("channel", "ts", "thread_ts", "user", "text", "blocks", "bot_id")
                },
                "reactions": self.slack.message_reactions(m["channel"], m["ts"]),
            }
            | {
                "files": [
                    {k: f.get(k) for k in ("name", "mimetype", "size", "permalink")}
                    for f in m.get("files") or []
                ]
            }
            for m in self.slack.messages
            if m.get("subtype") not in ("message_deleted",)
        ]
        ephemerals = [
            {k: e.get(k) for k in ("user", "channel", "text", "blocks", "thread_ts", "message_ts")}
            for e in self.slack.ephemerals
        ]
        return {
            "version": len(self.slack.calls) * 100_000 + self._change,
            "mode": (
                "the real model (OPENAI_API_KEY is set)"
                if self.llm_key
                else "offline mode: answers are the best-fitting article passage, no model"
            ),
            "users": [
                {
                    "id": p.id,
                    "name": p.name,
                    "role": p.role,
                    "company": p.company,
                    "playable": True,
                }
                for p in PEOPLE
            ]
            + [
                {
                    "id": self.slack.bot_user_id,
                    "name": "Support bot",
                    "role": "Bot",
                    "company": "",
                    "playable": False,
                }
            ],
            "channels": [
                {
                    "id": c.id,
                    "name": c.name,
                    "members": list(c.members),
                    "note": c.note,
                    "empty": c.empty,
                }
                for c in CHANNELS
            ],
            "messages": messages,
            "ephemerals": ephemerals + self.notes,
            "modals": modals,
            "home": {user: view for user, view in self.slack.home_views.items()},
            "issues": self.tracker.listing(),
        }

    # -- what people do ----------------------------------------------------------------------

    @property
    def _send(self) -> SlackSender:
        if self.sender is None:
            raise SandboxError("the sandbox is still starting")
        return self.sender

    def _trigger(self, person: Person) -> str:
        trigger = new_trigger_id()
        self._triggers[trigger] = person.id
        return trigger

    def _response_url(self, person: Person, channel: str) -> str:
        return f"{self.slack.response_url.rsplit('/response_url/', 1)[0]}/response_url/" + (
            f"{person.id}/{channel}/{next(self._changes)}"
        )

    async def say(self, body: Json) -> Json:
        person = self._person(body.get("user"))
        channel = self._channel(body.get("channel"), person)
        text = str(body.get("text") or "").strip()
        files = self._attach(body.get("files"), person)
        if not text and not files:
            raise SandboxError("type a message or attach a file first")
        thread_ts = body.get("thread_ts") or None
        status, _, _, ts = await self._send.message_event(
            channel.id,
            person.id,
            text,
            thread_ts=thread_ts,
            team=person.team,
            user_team=person.team,
            shared=channel.shared,
            files=files or None,
        )
        self._changed()
        return {"ok": status == 200, "ts": ts, "status": status}

    async def react(self, body: Json) -> Json:
        """A person adds an emoji to a message (or takes theirs off, ``remove``): the stand-in
        stores it and, for an added one, sends the bot the ``reaction_added`` event Slack
        would."""
        person = self._person(body.get("user"))
        channel = self._channel(body.get("channel"), person)
        ts = str(body.get("ts") or "")
        if self.slack.find_message(channel.id, ts) is None:
            raise SandboxError("that message is gone")
        name = str(body.get("name") or "").strip().strip(":").lower()
        if not name:
            raise SandboxError("pick an emoji first")
        if body.get("remove"):
            answer = self.slack.remove_reaction(person.id, channel.id, ts, name)
        else:
            answer = await self.slack.react(person.id, channel.id, ts, name)
        if not answer.get("ok"):
            raise SandboxError(f"Slack says {answer.get('error')}")
        self._changed()
        return {"ok": True}

    def _attach(self, raw: object, person: Person) -> list[Json]:
        """Files the page attached ({name, mimetype, data: base64}), shared in the stand-in
        as Slack shares an upload; the message event then carries them."""
        if raw is None:
            return []
        if not isinstance(raw, list) or len(raw) > ATTACH_MAX_FILES:
            raise SandboxError(f"attach at most {ATTACH_MAX_FILES} files to a message")
        files: list[Json] = []
        for item in raw:
            if not isinstance(item, dict):
                raise SandboxError("each file needs a name, a type and its data")
            name = str(item.get("name") or "").strip()[:200] or "file"
            mimetype = str(item.get("mimetype") or "").strip()[:100] or "application/octet-stream"
            try:
                data = base64.b64decode(str(item.get("data") or ""), validate=True)
            except (binascii.Error, ValueError):
                raise SandboxError(f"{name}: its data is not base64") from None
            files.append(
                self.slack.add_file(name, data, mimetype=mimetype, user=person.id, team=person.team)
            )
        return files

    async def command(self, body: Json) -> Json:
        person = self._person(body.get("user"))
        channel = self._channel(body.get("channel"), person)
        command = str(body.get("command") or "").strip()
        if command != "/support":
            raise SandboxError(f"{command} is not a command of this app; try /support help")
        status, text = await self._send.slash_command(
            person.id,
            str(body.get("text") or ""),
            command=command,
            channel=channel.id,
            team_id=person.team,
            response_url=self._response_url(person, channel.id),
            trigger_id=self._trigger(person),
        )
        self._note(person.id, channel.id, _json(text))
        return {"ok": status == 200, "status": status}

    async def action(self, body: Json) -> Json:
        person = self._person(body.get("user"))
        action_id = str(body.get("action_id") or "")
        if not action_id:
            raise SandboxError("no action")
        action: Json = {"type": body.get("type") or "button"}
        if body.get("selected_option") is not None:
            action["selected_option"] = body["selected_option"]
        common: dict[str, Any] = {
            "team_id": person.team,
            "block_id": str(body.get("block_id") or "b"),
            "trigger_id": self._trigger(person),
            "action": action,
        }
        if body.get("view_id"):
            view = self._view(str(body["view_id"]))
            if view is None:
                raise SandboxError("that view is gone")
            channel = "home"
            status, _ = await self._send.block_action(
                person.id,
                action_id,
                str(body.get("value") or ""),
                view=view,
                response_url=self._response_url(person, channel),
                **common,
            )
        else:
            channel_obj = self._channel(body.get("channel"), person)
            message = self.slack.find_message(channel_obj.id, str(body.get("message_ts") or ""))
            if message is None:
                raise SandboxError("that message is gone")
            status, _ = await self._send.block_action(
                person.id,
                action_id,
                str(body.get("value") or ""),
                channel=channel_obj.id,
                message={k: v for k, v in message.items() if v is not None and k != "channel"},
                response_url=self._response_url(person, channel_obj.id),
                **common,
            )
        self._changed()
        return {"ok": status == 200, "status": status}

    async def close_issue(self, body: Json) -> Json:
        """Close an issue in the sandbox's tracker: the bot hears by the signed webhook."""
        number = body.get("number")
        if not isinstance(number, int) or isinstance(number, bool):
            raise SandboxError("which issue? (a number)")
        webhook = self.tracker.close(number)
        if webhook is None:
            raise SandboxError(f"there is no open issue #{number}")
        if self.runtime is None or self.runtime.port is None:
            raise SandboxError("the sandbox is still starting")
        headers, raw = webhook
        url = f"http://127.0.0.1:{self.runtime.port}/trackers/github"
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=raw, headers=headers) as response,
        ):
            status = response.status
        self._changed()
        return {"ok": status == 200, "status": status}

    async def submit(self, body: Json) -> Json:
        person = self._person(body.get("user"))
        stack = self.modals[person.id]
        view_id = str(body.get("view_id") or "")
        if not stack or stack[-1].view_id != view_id:
            raise SandboxError("that form is no longer open")
        view = self._view(view_id)
        if view is None:
            stack.pop()
            raise SandboxError("that form is gone")
        values = body.get("values")
        if not isinstance(values, dict):
            raise SandboxError("no form values")
        status, text = await self._send.view_submission(
            person.id,
            str(view.get("callback_id") or ""),
            values,
            team_id=person.team,
            view=view,
            trigger_id=self._trigger(person),
        )
        self._collect()
        answer = _json(text)
        action = answer.get("response_action")
        if action == "errors":
            stack[-1].errors = dict(answer.get("errors") or {})
            self._changed()
            return {"ok": True, "errors": stack[-1].errors}
        if action == "update":
            self.slack.replace_view(view_id, answer["view"])
            stack[-1].errors = {}
        elif action == "push":
            pushed = self.slack.store_pushed_view(answer["view"])
            stack.append(Modal(pushed["id"]))
        elif action == "clear":
            stack.clear()
        else:
            stack.remove(next(m for m in stack if m.view_id == view_id))
        self._changed()
        return {"ok": status == 200, "status": status}

    async def close(self, body: Json) -> Json:
        person = self._person(body.get("user"))
        stack = self.modals[person.id]
        view_id = str(body.get("view_id") or "")
        self.modals[person.id] = [m for m in stack if m.view_id != view_id]
        self._changed()
        return {"ok": True}

    async def open_home(self, body: Json) -> Json:
        person = self._person(body.get("user"))
        status, _, _ = await self._send.event(
            {
                "type": "app_home_opened",
                "user": person.id,
                "channel": f"D{person.id[1:]}",
                "tab": "home",
                "event_ts": f"{time.time():.6f}",
            }
        )
        self._changed()
        return {"ok": status == 200, "status": status}


def _json(text: str) -> Json:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {"text": text}
    return value if isinstance(value, dict) else {}


# -- the HTTP side ---------------------------------------------------------------------------

LOCAL_NAMES = ("127.0.0.1", "localhost", "[::1]")
JSON_TYPE = "application/json"


def _refuse(status: int, error: str) -> web.Response:
    return web.json_response({"ok": False, "error": error}, status=status)


def _own_hosts(request: web.Request) -> tuple[int | None, set[str]]:
    """The port the request came in on, and the ``Host`` values that name this server there:
    its loopback names, or the address the connection came in on (a page served on a LAN
    address)."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if not isinstance(sockname, tuple) or len(sockname) < 2:
        return None, set()
    address, port = str(sockname[0]), int(sockname[1])
    names = {*LOCAL_NAMES, f"[{address}]" if ":" in address else address}
    hosts = {f"{name}:{port}" for name in names}
    if port == 80:  # a browser leaves the default port out
        hosts |= names
    return port, hosts


@web.middleware
async def same_origin_only(request: web.Request, handler: Any) -> web.StreamResponse:
    """Only the sandbox's own page may drive it or read it.

    The page is served to a browser, and any site the browser visits can send requests to
    127.0.0.1: a ``Host`` that is not the sandbox's own address is a DNS-rebinding page reading
    the sandbox's state, an ``Origin`` that is not its own is another site driving it. A JSON
    body must say so (``Content-Type: application/json``): a cross-site page can only send one
    after a CORS preflight, which the sandbox never grants.
    """
    port, own = _own_hosts(request)
    host = request.headers.get("Host", "")
    if host.lower() not in own:
        log.warning("refused a request for host %r (DNS rebinding?)", host)
        return _refuse(
            403,
            f"the sandbox only answers at http://127.0.0.1:{port}/ or http://localhost:{port}/,"
            f" not {host!r}",
        )
    origin = request.headers.get("Origin")
    if origin is not None and origin.lower() not in {f"http://{h}" for h in own}:
        log.warning("refused a request to %s from the page at %r", request.path, origin)
        return _refuse(
            403, f"the sandbox only takes requests from its own page, not from {origin!r}"
        )
    if request.method == "POST" and request.content_type != JSON_TYPE:
        return _refuse(415, f"send JSON with Content-Type: {JSON_TYPE}")
    response: web.StreamResponse = await handler(request)
    return response


def web_app(sandbox: Sandbox) -> web.Application:
    async def index(_: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html")

    async def state(_: web.Request) -> web.StreamResponse:
        return web.json_response(sandbox.state())

    def post(handler: Any) -> Any:
        async def run(request: web.Request) -> web.StreamResponse:
            try:
                body = await request.json()
            except ValueError:
                return web.json_response({"ok": False, "error": "the body is not JSON"}, status=400)
            if not isinstance(body, dict):
                return web.json_response({"ok": False, "error": "expected an object"}, status=400)
            try:
                return web.json_response(await handler(body))
            except SandboxError as exc:
                return web.json_response({"ok": False, "error": str(exc)}, status=400)
            except Exception:
                log.exception("the sandbox could not carry out %s", request.path)
                return web.json_response(
                    {"ok": False, "error": "that did not work; the sandbox's log says why"},
                    status=500,
                )

        return run

    async def no_icon(_: web.Request) -> web.StreamResponse:
        return web.Response(status=204)

    app = web.Application(middlewares=[same_origin_only], client_max_size=REQUEST_MAX_BYTES)
    app.router.add_get("/", index)
    app.router.add_get("/favicon.ico", no_icon)
    app.router.add_get("/api/state", state)
    app.router.add_post("/api/message", post(sandbox.say))
    app.router.add_post("/api/command", post(sandbox.command))
    app.router.add_post("/api/react", post(sandbox.react))
    app.router.add_post("/api/action", post(sandbox.action))
    app.router.add_post("/api/submit", post(sandbox.submit))
    app.router.add_post("/api/close", post(sandbox.close))
    app.router.add_post("/api/home", post(sandbox.open_home))
    app.router.add_post("/api/close-issue", post(sandbox.close_issue))
    app.router.add_static("/static/", STATIC)
    return app


async def serve(sandbox: Sandbox, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(web_app(sandbox), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner
