"""Slash commands."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot import ids
from bot.commands import SupportCommands
from bot.services import Services
from handlers.commands.support import handle_support


def register(app: AsyncApp, services: Services) -> None:
    commands = SupportCommands(services.settings, services.people, services.repos)

    async def support(ack: AsyncAck, body: dict[str, Any]) -> None:
        await handle_support(commands, body, ack)

    app.command(ids.SLASH_COMMAND)(support)
