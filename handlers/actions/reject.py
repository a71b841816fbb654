"""The Reject button on a review card."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime.services import Services
from handlers.actions.notify import decide_from_click


async def handle_reject(services: Services, body: dict[str, Any], client: AsyncWebClient) -> None:
    await decide_from_click(client, body, services.review.reject, "reject")
