"""App Home's Approve and Discard on a proposed verified answer (admins only)."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime.services import Services
from handlers.actions.notify import decide_from_click


async def handle_verified_approve(
    services: Services, body: dict[str, Any], client: AsyncWebClient
) -> None:
    # The button's value is the proposal's id.
    await decide_from_click(client, body, services.verified.approve, "verified answer approval")


async def handle_verified_discard(
    services: Services, body: dict[str, Any], client: AsyncWebClient
) -> None:
    await decide_from_click(client, body, services.verified.discard, "verified answer discard")
