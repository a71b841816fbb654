"""Message shortcuts (a message's ⋯ menu): "Hand back to the bot" and "Mark resolved" from
inside a customer's thread, where Slack does not run slash commands."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime.services import Services
from bot.slack import ids
from bot.slack.interactions import team_of
from bot.slack.text import slack_error

log = logging.getLogger(__name__)

NOT_A_TICKET = "That message is not part of a support ticket."


async def handle_ticket_shortcut(
    services: Services, body: dict[str, Any], client: AsyncWebClient, *, action: str
) -> None:
    user = body.get("user") or {}
    user_id = user.get("id") if isinstance(user, dict) else None
    channel = (
        (body.get("channel") or {}).get("id") if isinstance(body.get("channel"), dict) else None
    )
    raw_message = body.get("message")
    message: dict[str, Any] = raw_message if isinstance(raw_message, dict) else {}
    if not isinstance(user_id, str) or not isinstance(channel, str):
        log.warning("ignoring a %s shortcut without a user or channel", action)
        return
    thread_ts = message.get("thread_ts") or message.get("ts") or body.get("message_ts")
    team = team_of(body, user) if isinstance(user, dict) else None
    notice: str
    try:
        ticket = (
            await services.repos.tickets.find_by_thread(channel, str(thread_ts))
            if isinstance(thread_ts, str)
            else None
        )
        if ticket is None:
            notice = NOT_A_TICKET
        else:
            run = services.handoffs.hand_back if action == "handback" else services.handoffs.resolve
            outcome = await run(
                ticket.id, user_id=user_id, user_team=team if isinstance(team, str) else None
            )
            notice = outcome.notice or (
                f"Ticket #{ticket.id} is back with the bot."
                if action == "handback"
                else f"Ticket #{ticket.id} is resolved."
            )
    except Exception:
        log.exception("the %s shortcut failed", action)
        notice = "Something went wrong; nothing changed. Try again."
    try:
        await client.chat_postEphemeral(
            channel=channel,
            user=user_id,
            text=notice,
            thread_ts=thread_ts if isinstance(thread_ts, str) else None,
        )
    except SlackApiError as exc:
        log.warning("could not tell %s: %s", user_id, slack_error(exc))


def register(app: AsyncApp, services: Services) -> None:
    async def handback(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await handle_ticket_shortcut(services, body, client, action="handback")

    async def resolve(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await handle_ticket_shortcut(services, body, client, action="resolve")

    app.shortcut(ids.SHORTCUT_HANDBACK)(handback)
    app.shortcut(ids.SHORTCUT_RESOLVE)(resolve)
