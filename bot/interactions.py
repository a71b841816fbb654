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
