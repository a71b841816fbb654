"""Events API listeners."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.runtime.services import Services
from handlers.events.home import handle_home_opened
from handlers.events.message import handle_message
from handlers.events.reaction import handle_reaction


def register(app: AsyncApp, services: Services) -> None:
    async def message(body: dict[str, Any]) -> None:
        await handle_message(services, body)

    async def home_opened(body: dict[str, Any]) -> None:
        await handle_home_opened(services, body)

    async def reaction_added(body: dict[str, Any]) -> None:
        await handle_reaction(services, body)

    app.event("message")(message)
    app.event("reaction_added")(reaction_added)
    app.event("app_home_opened")(home_opened)
