"""Signed Slack-to-bot requests sent over real HTTP, as Slack itself would send them.

This module owns the *inbound* side of end-to-end tests: :func:`sign` computes Slack's v0
request signature, and :class:`SlackSender` builds Events API envelopes, interactivity
payloads (block_actions, view_submission) and slash commands, signs them with the app's
signing secret and POSTs them to the bot's ``/slack/events`` endpoint. Each send returns the
HTTP status and body text, so tests can assert on the ack as well as on its effects.

Payload shapes follow what Slack sends (and what slack_bolt parses): JSON for events,
``application/x-www-form-urlencoded`` with a ``payload=`` JSON field for interactivity, and
plain form fields for slash commands.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import aiohttp

if TYPE_CHECKING:
    from bot.sandbox.standin import SlackStandIn

__all__ = ["SlackSender", "sign"]

Json = dict[str, Any]

# Message subtypes that put a new message in the channel (others edit/delete/announce).
_MIRRORED_SUBTYPES = (None, "bot_message", "thread_broadcast", "file_share", "me_message")

JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"


def sign(
    body: str, secret: str, timestamp: int | None = None, *, content_type: str = JSON_TYPE
) -> dict[str, str]:
    """Headers Slack would send with ``body``: timestamp, v0 signature and Content-Type."""
    ts = int(time.time()) if timestamp is None else timestamp
    base = f"v0:{ts}:{body}".encode()
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": content_type,
    }


class SlackSender:
    """Sends signed Slack requests to a bot.

    ``base_url`` is either the full endpoint (``http://127.0.0.1:PORT/slack/events``) or just
    the server root, in which case ``/slack/events`` is appended.
    ``response_url`` is what interactivity payloads and slash commands carry; point it at
    :attr:`SlackStandIn.response_url` so the bot's ``respond()`` calls land in the fake.
    ``mirror`` (a SlackStandIn) makes every sent message also exist in the fake workspace, as a
    real message event implies: the bot can then read it back with conversations.replies.
    """

    def __init__(
        self,
        base_url: str,
        signing_secret: str,
        team_id: str = "THOME",
        api_app_id: str = "AAPP",
        *,
        bot_user_id: str = "UBOT",
        response_url: str = "https://hooks.slack.com/commands/THOME/1/fake",
        timeout: float = 30.0,
        mirror: SlackStandIn | None = None,
    ) -> None:
        path = urlsplit(base_url).path
        self.url = base_url.rstrip("/") + "/slack/events" if path in ("", "/") else base_url
        self.signing_secret = signing_secret
        self.team_id = team_id
        self.api_app_id = api_app_id
        self.bot_user_id = bot_user_id
        self.response_url = response_url
        self.timeout = timeout
        self.mirror = mirror
        if mirror is not None:
            # What happens in the stand-in that Slack reports to apps (a reaction added) is sent
            # to this bot, signed.
            mirror.events = self
        # How long the last request took to be acknowledged (Slack gives up after 3 s).
        self.last_elapsed: float = 0.0
        self._event_ids = itertools.count(1)
        self._last_ts = (0, 0)

    # ------------------------------------------------------------------ ids

    def new_event_id(self) -> str:
        return f"Ev{next(self._event_ids):04d}{uuid.uuid4().hex[:8].upper()}"

    def new_ts(self) -> str:
        """A wall-clock Slack ts, strictly increasing for this sender."""
        candidate = divmod(time.time_ns() // 1000, 1_000_000)
        if candidate <= self._last_ts:
            seconds, micros = self._last_ts
            candidate = (seconds, micros + 1) if micros < 999_999 else (seconds + 1, 0)
        self._last_ts = candidate
        return f"{candidate[0]}.{candidate[1]:06d}"

    # ------------------------------------------------------------------ transport

    async def raw(
        self, body: str | bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        """POST ``body`` with exactly ``headers`` (no signing): for malformed/forged requests."""
        started = time.monotonic()
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(self.url, data=body, headers=headers or {}) as response,
        ):
            text = await response.text()
        self.last_elapsed = time.monotonic() - started
        return response.status, text

    async def send(
        self,
        body: str,
        *,
        content_type: str = JSON_TYPE,
        extra_headers: dict[str, str] | None = None,
        timestamp: int | None = None,
    ) -> tuple[int, str]:
        """Sign ``body`` and POST it; the exact signed bytes go on the wire."""
        headers = sign(body, self.signing_secret, timestamp, content_type=content_type)
        headers.update(extra_headers or {})
        return await self.raw(body.encode(), headers)

    # ------------------------------------------------------------------ Events API

    def envelope(self, event: Json, event_id: str, *, shared: bool | None = None) -> Json:
        """An ``event_callback`` envelope around ``event``.

        ``is_ext_shared_channel`` is a property of the channel: unless ``shared`` says
        otherwise, the channel counts as Slack Connect when any team on the event (the
        message's or its author's) is not the home team.
        """
        if shared is None:
            teams = (event.get("team"), event.get("user_team"), event.get("source_team"))
            shared = any(t is not None and t != self.team_id for t in teams)
        return {
            "token": "verification-token",
            "team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            # A channel is shared when anyone in it (author or message team) is from elsewhere.
            "is_ext_shared_channel": shared,
            "event_context": f"4-fake-{event_id}",
        }

    async def event(
        self,
        event_dict: Json,
        event_id: str | None = None,
        retry_num: int | None = None,
        *,
        shared: bool | None = None,
    ) -> tuple[int, str, str]:
        """Send any event in an envelope; returns (status, body text, event_id)."""
        event_id = event_id or self.new_event_id()
        body = json.dumps(self.envelope(event_dict, event_id, shared=shared))
        headers: dict[str, str] = {}
        if retry_num is not None:
            # Slack's redelivery markers: same event_id, retry count and reason.
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        status, text = await self.send(body, extra_headers=headers)
        return status, text, event_id

    async def message_event(
        self,
        channel: str,
        user: str,
        text: str,
        ts: str | None = None,
        thread_ts: str | None = None,
        team: str | None = None,
        user_team: str | None = None,
        subtype: str | None = None,
        bot_id: str | None = None,
        event_id: str | None = None,
        retry_num: int | None = None,
        extra: Json | None = None,
        *,
        shared: bool | None = None,
        files: list[Json] | None = None,
    ) -> tuple[int, str, str, str]:
        """Send a ``message`` event; returns (status, body text, event_id, ts).

        ``team`` is the team the message belongs to and ``user_team`` the author's team; any
        team other than the sender's home team marks the channel as externally shared, as
        with Slack Connect (override with ``shared``). ``files`` (file objects, as
        ``SlackStandIn.add_file`` returns them) make it a ``file_share`` message, as Slack
        sends one with attachments. ``extra`` is merged into the event last.
        """
        ts = ts or self.new_ts()
        message_team = team or self.team_id
        event: Json = {
            "type": "message",
            "channel": channel,
            "user": user,
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "team": message_team,
            "user_team": user_team or message_team,
            "source_team": message_team,
            "channel_type": _channel_type(channel),
            "blocks": [
                {
                    "type": "rich_text",
                    "block_id": uuid.uuid4().hex[:5],
                    "elements": [
                        {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
                    ],
                }
            ],
        }
        if thread_ts is not None:
            event["thread_ts"] = thread_ts
        if subtype is not None:
            event["subtype"] = subtype
        if bot_id is not None:
            event["bot_id"] = bot_id
        if files:
            event.update(subtype="file_share", files=files, upload=False, display_as_bot=False)
        event.update(extra or {})
        if self.mirror is not None and event.get("subtype") in _MIRRORED_SUBTYPES:
            # Before sending: Slack stores a message before it delivers the event.
            self.mirror.add_message(
                channel,
                ts,
                text,
                user,
                thread_ts=thread_ts,
                team=user_team or message_team,
                **{k: event[k] for k in ("subtype", "bot_id", "files") if k in event},
            )
        status, body, event_id = await self.event(
            event, event_id=event_id, retry_num=retry_num, shared=shared
        )
        return status, body, event_id, ts

    async def reaction_event(
        self,
        user: str,
        reaction: str,
        *,
        channel: str,
        ts: str,
        item_user: str | None = None,
        event_id: str | None = None,
        retry_num: int | None = None,
        event_ts: str | None = None,
        shared: bool | None = None,
    ) -> tuple[int, str, str]:
        """Send a ``reaction_added`` event (``user`` added ``:reaction:`` to the message
        ``channel``/``ts``, written by ``item_user``) without touching the stand-in: a reaction
        Slack reported and that may be gone by now. Returns (status, body text, event_id)."""
        event: Json = {
            "type": "reaction_added",
            "user": user,
            "reaction": reaction,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "event_ts": event_ts or self.new_ts(),
        }
        if item_user is not None:
            event["item_user"] = item_user
        return await self.event(event, event_id=event_id, retry_num=retry_num, shared=shared)

    async def url_verification(self, challenge: str = "fake-challenge") -> tuple[int, str]:
        body = json.dumps(
            {"token": "verification-token", "challenge": challenge, "type": "url_verification"}
        )
        return await self.send(body)

    # ------------------------------------------------------------------ interactivity

    def _user(self, user: str, team_id: str) -> Json:
        return {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team_id}

    async def _send_payload(self, payload: Json) -> tuple[int, str]:
        body = urlencode({"payload": json.dumps(payload)})
        return await self.send(body, content_type=FORM_TYPE)

    async def block_action(
        self,
        user: str,
        action_id: str,
        value: str,
        *,
        team_id: str | None = None,
        channel: str | None = None,
        message_ts: str | None = None,
        trigger_id: str | None = None,
        block_id: str = "b",
        message: Json | None = None,
        view: Json | None = None,
        action: Json | None = None,
        response_url: str | None = None,
    ) -> tuple[int, str]:
        """Send a button click (``block_actions``).

        With ``channel`` the click comes from a message (``message`` overrides the minimal
        one built from ``message_ts``, e.g. pass a dict from ``SlackStandIn.posts()``); without
        it the container is a view (home tab or modal): ``view``, the view as Slack stores it,
        or a minimal home tab. ``action`` is merged over the button action (e.g. a select's
        ``type`` and ``selected_option``).
        """
        team = team_id or self.team_id
        payload: Json = {
            "type": "block_actions",
            "token": "verification-token",
            "api_app_id": self.api_app_id,
            "user": self._user(user, team),
            "team": {"id": team, "domain": team.lower()},
            "enterprise": None,
            "is_enterprise_install": False,
            # Slack makes a new trigger id for every interaction, so no two requests are equal.
            "trigger_id": trigger_id or new_trigger_id(),
            "response_url": response_url or self.response_url,
            "state": {"values": {}},
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": block_id,
                    "text": {"type": "plain_text", "text": action_id, "emoji": True},
                    "value": value,
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                    **(action or {}),
                }
            ],
        }
        if channel is not None:
            ts = message_ts or (message or {}).get("ts") or self.new_ts()
            payload["channel"] = {"id": channel, "name": channel.lower()}
            payload["container"] = {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel,
                "is_ephemeral": False,
            }
            payload["message"] = message or {
                "type": "message",
                "ts": ts,
                "user": self.bot_user_id,
                "text": "",
                "team": self.team_id,
                "blocks": [],
            }
        elif view is not None:
            payload["container"] = {"type": "view", "view_id": view["id"]}
            payload["view"] = view
        else:
            payload["container"] = {"type": "view", "view_id": "VFAKEVIEW"}
            payload["view"] = {"id": "VFAKEVIEW", "type": "home", "team_id": team}
        return await self._send_payload(payload)

    async def message_shortcut(
        self,
        user: str,
        callback_id: str,
        *,
        channel: str,
        message_ts: str,
        thread_ts: str | None = None,
        team_id: str | None = None,
    ) -> tuple[int, str]:
        """Run a message shortcut (``message_action``) on a message, e.g. a reply in a thread."""
        team = team_id or self.team_id
        message: Json = {"type": "message", "ts": message_ts, "user": user, "text": "..."}
        if thread_ts is not None:
            message["thread_ts"] = thread_ts
        payload: Json = {
            "type": "message_action",
            "token": "verification-token",
            "action_ts": f"{time.time():.6f}",
            "team": {"id": team, "domain": team.lower()},
            "user": self._user(user, team),
            "channel": {"id": channel, "name": channel.lower()},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": new_trigger_id(),
            "response_url": self.response_url,
            "message_ts": message_ts,
            "message": message,
        }
        return await self._send_payload(payload)

    async def view_submission(
        self,
        user: str,
        callback_id: str,
        values: dict[str, dict[str, Any]],
        private_metadata: str = "",
        *,
        team_id: str | None = None,
        view: Json | None = None,
        trigger_id: str | None = None,
    ) -> tuple[int, str]:
        """Submit a modal. ``values`` is ``{block_id: {action_id: value}}``; ``view`` is the
        modal as Slack stores it (its id, hash, blocks and metadata are sent), if known.

        A string value becomes a ``plain_text_input`` state entry; a dict is used as the entry
        verbatim (e.g. ``{"type": "static_select", "selected_option": {...}}``).
        """
        team = team_id or self.team_id
        state = {
            block_id: {
                action_id: (
                    value
                    if isinstance(value, dict)
                    else {"type": "plain_text_input", "value": value}
                )
                for action_id, value in actions.items()
            }
            for block_id, actions in values.items()
        }
        payload: Json = {
            "type": "view_submission",
            "token": "verification-token",
            "api_app_id": self.api_app_id,
            "user": self._user(user, team),
            "team": {"id": team, "domain": team.lower()},
            "enterprise": None,
            "is_enterprise_install": False,
            "trigger_id": trigger_id or new_trigger_id(),
            "response_urls": [],
            "view": {
                "id": "VFAKEMODAL",
                "team_id": team,
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": private_metadata,
                "title": {"type": "plain_text", "text": "Modal"},
                "blocks": [],
                "state": {"values": state},
                "hash": f"{time.time():.6f}.fake",
                "root_view_id": "VFAKEMODAL",
                "previous_view_id": None,
                "app_id": self.api_app_id,
                "external_id": "",
                "bot_id": "BBOT",
                "clear_on_close": False,
                "notify_on_close": False,
            },
        }
        if view is not None:
            payload["view"].update(
                {k: v for k, v in view.items() if k not in ("state", "callback_id")},
                state={"values": state},
                callback_id=view.get("callback_id") or callback_id,
            )
        return await self._send_payload(payload)

    async def slash_command(
        self,
        user: str,
        text: str,
        command: str = "/support",
        channel: str = "C0",
        team_id: str | None = None,
        response_url: str | None = None,
        trigger_id: str | None = None,
    ) -> tuple[int, str]:
        """Send a slash command as Slack's form post."""
        team = team_id or self.team_id
        form = {
            "token": "verification-token",
            "team_id": team,
            "team_domain": team.lower(),
            "channel_id": channel,
            "channel_name": channel.lower(),
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url or self.response_url,
            "trigger_id": trigger_id or new_trigger_id(),
        }
        return await self.send(urlencode(form), content_type=FORM_TYPE)


def new_trigger_id() -> str:
    return f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:24]}"


def _channel_type(channel: str) -> str:
    # Slack ids: C = public channel, G = private channel / group, D = direct message.
    return {"D": "im", "G": "group"}.get(channel[:1], "channel")
