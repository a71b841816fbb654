"""Events API listeners."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from handlers.events.message import handle_message


def register(app: AsyncApp, services: Services) -> None:
    async def message(body: dict[str, Any]) -> None:
        await handle_message(services, body)

    app.event("message")(message)
