"""Slash commands."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime.services import Services
from bot.slack import ids
from handlers.commands.support import handle_support


def register(app: AsyncApp, services: Services) -> None:
    async def support(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await handle_support(services.commands, body, ack, client)

    app.command(ids.SLASH_COMMAND)(support)
