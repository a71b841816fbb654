"""Typed values parsed from Slack interactivity payloads (button clicks, modal submissions)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ReviewOutcome:
    """What to tell the clicker (ephemerally); ``done`` is True when their decision took effect."""

    done: bool
    notice: str | None = None
    field_errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FormResult:
    """A modal submission: field errors to show, or the view to replace the modal with."""

    errors: dict[str, str] = field(default_factory=dict)
    view: dict[str, Any] | None = None


UNKNOWN_CARD = "This card is not known to the bot."


def unknown_card() -> ReviewOutcome:
    """A click or form on a card whose escalation the bot has no record of."""
    return ReviewOutcome(done=False, notice=UNKNOWN_CARD)


class BadInteraction(ValueError):
    """A payload without the fields a review action needs."""


_ID_NUMBER = re.compile(r"^[0-9]{1,12}$")


def id_number(value: object) -> int | None:
    """A positive id from a button value or form metadata: ASCII digits, a sane length."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 10**12 else None
    if isinstance(value, str) and _ID_NUMBER.match(value):
        return int(value)
    return None


def team_of(body: dict[str, Any], user: dict[str, Any]) -> str | None:
    team = user.get("team_id")
    if not isinstance(team, str):
        raw = body.get("team")
        team = raw.get("id") if isinstance(raw, dict) else None
    return team if isinstance(team, str) else None


def dict_at(data: object, *keys: str) -> dict[str, Any]:
    """``data[k1][k2]…`` when every level is a dict, else an empty dict."""
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}


def _clicker(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Who clicked, and the button: or BadInteraction."""
    user = body.get("user") or {}
    actions = body.get("actions") or []
    if not isinstance(user, dict) or not isinstance(user.get("id"), str):
        raise BadInteraction("no user")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise BadInteraction("no action")
    return user, actions[0]


def metadata_id(view: dict[str, Any], key: str) -> int | None:
    try:
        metadata = json.loads(view.get("private_metadata") or "")
    except (ValueError, TypeError, RecursionError):
        return None
    return id_number(metadata.get(key)) if isinstance(metadata, dict) else None


@dataclass(frozen=True)
class ReviewClick:
    escalation_id: int
    user_id: str
    user_team: str | None
    channel_id: str | None
    trigger_id: str | None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> ReviewClick:
        user, action = _clicker(body)
        escalation_id = id_number(action.get("value"))
        if escalation_id is None:
            raise BadInteraction("the button carries no escalation id")
        channel = body.get("channel") or {}
        container = body.get("container") or {}
        channel_id = channel.get("id") if isinstance(channel, dict) else None
        channel_id = channel_id or (
            container.get("channel_id") if isinstance(container, dict) else None
        )
        return cls(
            escalation_id=escalation_id,
            user_id=user["id"],
            user_team=team_of(body, user),
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
        if not isinstance(view, dict):
            raise BadInteraction("no view")
        escalation_id = metadata_id(view, "escalation_id")
        if escalation_id is None:
            raise BadInteraction("the form does not say which card it edits")
        text = dict_at(view, "state", "values", block_id, action_id).get("value")
        return cls(
            escalation_id=escalation_id,
            user_id=user["id"],
            user_team=team_of(body, user),
            text=text if isinstance(text, str) else "",
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
        user, action = _clicker(body)
        value = action.get("value")
        parts = [id_number(p) for p in value.split(":")] if isinstance(value, str) else []
        if len(parts) != 2 or parts[0] is None or parts[1] is None:
            raise BadInteraction("the button carries no ticket")
        channel = body.get("channel") or {}
        channel_id = channel.get("id") if isinstance(channel, dict) else None
        return cls(
            ticket_id=parts[0],
            round=parts[1],
            user_id=user["id"],
            user_team=team_of(body, user),
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
        escalation_id = metadata_id(view, "escalation_id")
        if escalation_id is None:
            raise BadInteraction("the form does not say which card it belongs to")
        return cls(
            escalation_id=escalation_id,
            user_id=user["id"],
            user_team=team_of(body, user),
            values=dict_at(view, "state", "values"),
        )

    def text(self, block_id: str, action_id: str) -> str:
        value = dict_at(self.values, block_id, action_id).get("value")
        return value if isinstance(value, str) else ""

    def selected(self, block_id: str, action_id: str) -> str | None:
        option = dict_at(self.values, block_id, action_id).get("selected_option")
        value = option.get("value") if isinstance(option, dict) else None
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class CsatClick:
    """A click on the satisfaction survey in a customer's thread: a score button (value
    ``ticket_id:score``, score 1-5) or "Add a comment" (value ``ticket_id``, score None)."""

    ticket_id: int
    score: int | None
    user_id: str
    user_team: str | None
    channel_id: str | None
    trigger_id: str | None

    @classmethod
    def from_body(cls, body: dict[str, Any], *, with_score: bool) -> CsatClick:
        user, action = _clicker(body)
        value = action.get("value")
        parts = [id_number(p) for p in value.split(":")] if isinstance(value, str) else []
        expected = 2 if with_score else 1
        if len(parts) != expected or any(p is None for p in parts):
            raise BadInteraction("the button carries no ticket")
        ticket_id = parts[0]
        score = parts[1] if with_score else None
        assert ticket_id is not None
        if with_score and (score is None or not 1 <= score <= 5):
            raise BadInteraction(f"a score of {score} is not 1 to 5")
        channel = body.get("channel") or {}
        channel_id = channel.get("id") if isinstance(channel, dict) else None
        trigger = body.get("trigger_id")
        return cls(
            ticket_id=ticket_id,
            score=score,
            user_id=user["id"],
            user_team=team_of(body, user),
            channel_id=channel_id if isinstance(channel_id, str) else None,
            trigger_id=trigger if isinstance(trigger, str) else None,
        )

    def as_review_click(self) -> ReviewClick:
        return ReviewClick(
            escalation_id=0,
            user_id=self.user_id,
            user_team=self.user_team,
            channel_id=self.channel_id,
            trigger_id=self.trigger_id,
        )
