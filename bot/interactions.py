"""Typed values parsed from Slack interactivity payloads (button clicks, modal submissions)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class BadInteraction(ValueError):
    """A payload without the fields a review action needs."""


@dataclass(frozen=True)
class ReviewClick:
    escalation_id: int
    user_id: str
    user_team: str | None
    channel_id: str | None
    trigger_id: str | None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> ReviewClick:
        user = body.get("user") or {}
        actions = body.get("actions") or []
        if not isinstance(user, dict) or not isinstance(user.get("id"), str):
            raise BadInteraction("no user")
        if not actions or not isinstance(actions[0], dict):
            raise BadInteraction("no action")
        value = actions[0].get("value")
        if not isinstance(value, str) or not value.isdigit():
            raise BadInteraction("the button carries no escalation id")
        channel = body.get("channel") or {}
        container = body.get("container") or {}
        channel_id = channel.get("id") if isinstance(channel, dict) else None
        channel_id = channel_id or (
            container.get("channel_id") if isinstance(container, dict) else None
        )
        team = user.get("team_id") or (body.get("team") or {}).get("id")
        return cls(
            escalation_id=int(value),
            user_id=user["id"],
            user_team=team if isinstance(team, str) else None,
            channel_id=channel_id if isinstance(channel_id, str) else None,
            trigger_id=body.get("trigger_id") if isinstance(body.get("trigger_id"), str) else None,
        )


@dataclass(frozen=True)
class EditSubmission:
    escalation_id: int
    user_id: str
    user_team: str | None
    text: str

    @classmethod
    def from_body(cls, body: dict[str, Any], *, block_id: str, action_id: str) -> EditSubmission:
        user = body.get("user") or {}
        view = body.get("view") or {}
        if not isinstance(user, dict) or not isinstance(user.get("id"), str):
            raise BadInteraction("no user")
        try:
            metadata = json.loads(view.get("private_metadata") or "")
            escalation_id = int(metadata["escalation_id"])
        except (ValueError, TypeError, KeyError) as exc:
            raise BadInteraction("the form does not say which card it edits") from exc
        values = ((view.get("state") or {}).get("values") or {}).get(block_id) or {}
        text = (values.get(action_id) or {}).get("value") or ""
        team = user.get("team_id") or (body.get("team") or {}).get("id")
        return cls(
            escalation_id=escalation_id,
            user_id=user["id"],
            user_team=team if isinstance(team, str) else None,
            text=str(text),
        )


@dataclass(frozen=True)
class AnswerClick:
    """A click on a button under an AI answer; the value is ``ticket_id:round``."""

    ticket_id: int
    round: int
    user_id: str
    user_team: str | None
    channel_id: str | None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> AnswerClick:
        user = body.get("user") or {}
        actions = body.get("actions") or []
        if not isinstance(user, dict) or not isinstance(user.get("id"), str):
            raise BadInteraction("no user")
        if not actions or not isinstance(actions[0], dict):
            raise BadInteraction("no action")
        value = actions[0].get("value")
        parts = value.split(":") if isinstance(value, str) else []
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise BadInteraction("the button carries no ticket")
        channel = body.get("channel") or {}
        channel_id = channel.get("id") if isinstance(channel, dict) else None
        team = user.get("team_id") or (body.get("team") or {}).get("id")
        return cls(
            ticket_id=int(parts[0]),
            round=int(parts[1]),
            user_id=user["id"],
            user_team=team if isinstance(team, str) else None,
            channel_id=channel_id if isinstance(channel_id, str) else None,
        )

    def as_review_click(self) -> ReviewClick:
        return ReviewClick(
            escalation_id=0,
            user_id=self.user_id,
            user_team=self.user_team,
            channel_id=self.channel_id,
            trigger_id=None,
        )


@dataclass(frozen=True)
class FormSubmission:
    """A modal submission tied to one review card: its escalation id, who, and the values."""

    escalation_id: int
    user_id: str
    user_team: str | None
    values: dict[str, Any]

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> FormSubmission:
        user = body.get("user") or {}
        view = body.get("view") or {}
        if not isinstance(user, dict) or not isinstance(user.get("id"), str):
            raise BadInteraction("no user")
        if not isinstance(view, dict):
            raise BadInteraction("no view")
        try:
            metadata = json.loads(view.get("private_metadata") or "")
            escalation_id = int(metadata["escalation_id"])
        except (ValueError, TypeError, KeyError) as exc:
            raise BadInteraction("the form does not say which card it belongs to") from exc
        values = (view.get("state") or {}).get("values") or {}
        team = user.get("team_id") or (body.get("team") or {}).get("id")
        return cls(
            escalation_id=escalation_id,
            user_id=user["id"],
            user_team=team if isinstance(team, str) else None,
            values=values if isinstance(values, dict) else {},
        )

    def text(self, block_id: str, action_id: str) -> str:
        entry = (self.values.get(block_id) or {}).get(action_id) or {}
        value = entry.get("value") if isinstance(entry, dict) else None
        return value if isinstance(value, str) else ""

    def selected(self, block_id: str, action_id: str) -> str | None:
        entry = (self.values.get(block_id) or {}).get(action_id) or {}
        option = entry.get("selected_option") if isinstance(entry, dict) else None
        value = option.get("value") if isinstance(option, dict) else None
        return value if isinstance(value, str) else None
