"""The Edit button on a review card: opens the modal with the draft."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime.services import Services
from handlers.actions.notify import open_form_from_click


async def handle_edit(services: Services, body: dict[str, Any], client: AsyncWebClient) -> None:
    await open_form_from_click(client, body, services.review.edit_form, "edit")
