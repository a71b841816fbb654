"""Button clicks on review cards."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.services import Services
from handlers.actions.approve import handle_approve
from handlers.actions.edit import handle_edit
from handlers.actions.reject import handle_reject


def register(app: AsyncApp, services: Services) -> None:
    async def approve(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await handle_approve(services, body, client)

    async def edit(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await handle_edit(services, body, client)

    async def reject(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await handle_reject(services, body, client)

    app.action(ids.ACTION_APPROVE)(approve)
    app.action(ids.ACTION_EDIT)(edit)
    app.action(ids.ACTION_REJECT)(reject)
