"""The "Try again" button of a delivery the bot gave up on (on its card, or on the plain notice
in the escalation channel when there is no card)."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.review.deliveries import DeliveryRetries
from bot.runtime.services import Services
from handlers.actions.notify import decide_from_click


async def handle_retry_delivery(
    services: Services, body: dict[str, Any], client: AsyncWebClient
) -> None:
    retries = DeliveryRetries(services.repos, services.people)
    await decide_from_click(client, body, retries.retry, "try again")
