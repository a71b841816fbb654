"""Turning a Slack ``message`` event into a typed inbound message, or a reason to ignore it.

This runs in the event handler before the acknowledgement, so it is pure and cheap: anything
that needs the database or Slack happens later, in the intake job.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.slack.text import clean_text

# Subtypes that are still a person writing a message; everything else (edits, deletions, joins,
# bot messages, topic changes...) is not a customer asking something.
_PERSON_SUBTYPES = {None, "file_share", "thread_broadcast", "me_message"}
# What the bot keeps of each file of a message (``files`` of a ``file_share`` message): enough
# to tell what it is, to fetch it later (``bot/slack/files.py``) and to link to it.
FILE_FIELDS = (
    "id",
    "name",
    "title",
    "mimetype",
    "filetype",
    "size",
    "url_private_download",
    "url_private",
    "permalink",
    "file_access",  # Slack Connect: "check_file_info" (files.info has the rest), "access_denied"
    "mode",  # "hosted", "snippet", "tombstone" (deleted), "hidden_by_limit"
)
MAX_FILES_KEPT = 20  # a message holds at most 10 files in Slack today
# Slack message timestamps: seconds, a dot, six digits.
_SLACK_TS = re.compile(r"^[0-9]{9,11}\.[0-9]{6}$")


@dataclass(frozen=True)
class InboundMessage:
    event_id: str | None
    channel_id: str
    ts: str
    thread_ts: str | None
    user_id: str
    user_team: str | None
    text: str
    shared_channel: bool
    files: tuple[dict[str, Any], ...] = ()

    @property
    def is_root(self) -> bool:
        return self.thread_ts is None or self.thread_ts == self.ts

    @property
    def dedupe_key(self) -> str:
        # Keyed by the message itself: drops Slack's retries (same event_id) and any second
        # delivery of the same message under another event id.
        return f"message:{self.channel_id}:{self.ts}"

    def to_payload(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "channel_id": self.channel_id,
            "ts": self.ts,
            "thread_ts": self.thread_ts,
            "user_id": self.user_id,
            "user_team": self.user_team,
            "text": self.text,
            "shared_channel": self.shared_channel,
            "files": [dict(f) for f in self.files],
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> InboundMessage:
        return cls(
            event_id=payload.get("event_id"),
            channel_id=str(payload["channel_id"]),
            ts=str(payload["ts"]),
            thread_ts=payload.get("thread_ts"),
            user_id=str(payload["user_id"]),
            user_team=payload.get("user_team"),
            text=str(payload.get("text") or ""),
            shared_channel=bool(payload.get("shared_channel")),
            files=tuple(
                f for f in payload.get("files") or [] if isinstance(f, dict) and f.get("id")
            ),
        )


@dataclass(frozen=True)
class Ignored:
    reason: str


def parse_message_event(
    body: dict[str, Any], *, watched_channels: frozenset[str], bot_user_id: str
) -> InboundMessage | Ignored:
    event = body.get("event")
    if not isinstance(event, dict):
        return Ignored("no event in the payload")
    subtype = event.get("subtype")
    if not (subtype is None or isinstance(subtype, str)) or subtype not in _PERSON_SUBTYPES:
        return Ignored(f"message subtype {subtype!r} is not a new message")
    if event.get("bot_id") or event.get("bot_profile"):
        return Ignored("message from a bot")
    user = event.get("user")
    if not isinstance(user, str) or not user:
        return Ignored("message has no user")
    if user == bot_user_id:
        return Ignored("the bot's own message")
    channel = event.get("channel")
    if not isinstance(channel, str) or channel not in watched_channels:
        return Ignored(f"channel {channel!r} is not a support channel")
    ts = event.get("ts")
    if not isinstance(ts, str) or not ts:
        return Ignored("message has no ts")
    if not _SLACK_TS.match(ts):
        return Ignored(f"message ts {ts[:40]!r} is not a Slack timestamp")
    thread_ts = event.get("thread_ts")
    if isinstance(thread_ts, str) and not _SLACK_TS.match(thread_ts):
        return Ignored(f"message thread_ts {thread_ts[:40]!r} is not a Slack timestamp")
    text = event.get("text")
    user_team = event.get("user_team") or event.get("team")
    return InboundMessage(
        event_id=body.get("event_id") if isinstance(body.get("event_id"), str) else None,
        channel_id=channel,
        ts=ts,
        thread_ts=thread_ts if isinstance(thread_ts, str) else None,
        user_id=user,
        user_team=user_team if isinstance(user_team, str) else None,
        text=clean_text(text) if isinstance(text, str) else "",
        shared_channel=bool(body.get("is_ext_shared_channel")),
        files=message_files(event.get("files")),
    )


@dataclass(frozen=True)
class InboundReaction:
    """A ``reaction_added`` on a message in a support channel, with one of the command emoji."""

    event_id: str | None
    channel_id: str
    ts: str  # the message reacted to
    user_id: str  # who reacted
    reaction: str  # as Slack named it (a skin tone included)
    action: str  # "open", "claim" or "resolve", from the emoji in force when it arrived
    item_user: str | None
    event_ts: str
    shared_channel: bool

    @property
    def dedupe_key(self) -> str:
        # One job per reaction: Slack's retries carry the same event; taking the reaction off and
        # putting it back is a new one (a new event_ts).
        return (
            f"reaction:{self.channel_id}:{self.ts}:{self.user_id}:{self.reaction}:{self.event_ts}"
        )

    def to_payload(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "channel_id": self.channel_id,
            "ts": self.ts,
            "user_id": self.user_id,
            "reaction": self.reaction,
            "action": self.action,
            "item_user": self.item_user,
            "event_ts": self.event_ts,
            "shared_channel": self.shared_channel,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> InboundReaction:
        return cls(
            event_id=payload.get("event_id"),
            channel_id=str(payload["channel_id"]),
            ts=str(payload["ts"]),
            user_id=str(payload["user_id"]),
            reaction=str(payload["reaction"]),
            action=str(payload["action"]),
            item_user=payload.get("item_user"),
            event_ts=str(payload.get("event_ts") or ""),
            shared_channel=bool(payload.get("shared_channel")),
        )


def parse_reaction_event(
    body: dict[str, Any],
    *,
    support_channels: frozenset[str],
    bot_user_id: str,
    action_of: Callable[[str], str | None],
) -> InboundReaction | Ignored:
    """A ``reaction_added`` the bot acts on, or why not. ``support_channels`` are every
    configured support channel, switched off or not (``:ticket:`` works in an ``off`` one);
    ``action_of`` names what an emoji does (None: nothing)."""
    event = body.get("event")
    if not isinstance(event, dict):
        return Ignored("no event in the payload")
    reaction = event.get("reaction")
    if not isinstance(reaction, str) or not reaction:
        return Ignored("reaction has no emoji")
    action = action_of(reaction)
    if action is None:
        return Ignored(f":{reaction[:60]}: is not a support reaction")
    user = event.get("user")
    if not isinstance(user, str) or not user:
        return Ignored("reaction has no user")
    if user == bot_user_id:
        return Ignored("the bot's own reaction")
    item = event.get("item")
    if not isinstance(item, dict) or item.get("type") != "message":
        return Ignored("reaction on something other than a message (a file?)")
    channel = item.get("channel")
    if not isinstance(channel, str) or channel not in support_channels:
        return Ignored(f"channel {str(channel)[:40]!r} is not a support channel")
    ts = item.get("ts")
    if not isinstance(ts, str) or not _SLACK_TS.match(ts):
        return Ignored(f"reaction on {str(ts)[:40]!r}, not a Slack message timestamp")
    event_ts = event.get("event_ts")
    item_user = event.get("item_user")
    return InboundReaction(
        event_id=body.get("event_id") if isinstance(body.get("event_id"), str) else None,
        channel_id=channel,
        ts=ts,
        user_id=user,
        reaction=reaction,
        action=action,
        item_user=item_user if isinstance(item_user, str) else None,
        event_ts=event_ts if isinstance(event_ts, str) else str(body.get("event_id") or ""),
        shared_channel=bool(body.get("is_ext_shared_channel")),
    )


def message_files(raw: object) -> tuple[dict[str, Any], ...]:
    """The files of a message event, each cut down to ``FILE_FIELDS`` of the expected types;
    an entry without a file id is dropped."""
    if not isinstance(raw, list):
        return ()
    files: list[dict[str, Any]] = []
    for item in raw[:MAX_FILES_KEPT]:
        if not isinstance(item, dict):
            continue
        file_id = item.get("id")
        if not isinstance(file_id, str) or not file_id or len(file_id) > 64:
            continue
        kept: dict[str, Any] = {}
        for key in FILE_FIELDS:
            value = item.get(key)
            if key == "size":
                if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                    kept[key] = value
            elif isinstance(value, str) and value:
                kept[key] = value[:2000]
        files.append(kept)
    return tuple(files)
