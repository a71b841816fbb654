"""The buttons under an edit waiting to be sent in the customer's language: Send in <language>,
Send as written, Discard edit."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime.services import Services
from bot.slack import ids
from handlers.actions.notify import decide_from_click

log = logging.getLogger(__name__)


def _checksum(body: dict[str, Any]) -> int | None:
    """The checksum the clicked button's action id ends in (of the text it sends)."""
    actions = body.get("actions")
    first = actions[0] if isinstance(actions, list) and actions else None
    action_id = first.get("action_id") if isinstance(first, dict) else None
    return ids.action_suffix(action_id) if isinstance(action_id, str) else None


async def handle_send_translation(
    services: Services, body: dict[str, Any], client: AsyncWebClient
) -> None:
    send = partial(services.translated_edits.send, which="translation", checksum=_checksum(body))
    await decide_from_click(client, body, send, "send translation")


async def handle_send_as_written(
    services: Services, body: dict[str, Any], client: AsyncWebClient
) -> None:
    send = partial(services.translated_edits.send, which="written", checksum=_checksum(body))
    await decide_from_click(client, body, send, "send as written")


async def handle_discard_edit(
    services: Services, body: dict[str, Any], client: AsyncWebClient
) -> None:
    await decide_from_click(client, body, services.translated_edits.discard, "discard edit")
