"""``/support``: answered privately to the caller, or with a modal opened on their screen."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands.reply import CommandReply
from bot.commands.support import SupportCommands
from bot.slack.text import slack_error

log = logging.getLogger(__name__)


async def handle_support(
    commands: SupportCommands, body: dict[str, Any], ack: AsyncAck, client: AsyncWebClient
) -> None:
    user_id = body.get("user_id")
    if not isinstance(user_id, str):
        await ack(text="Slack did not say who ran this command.", response_type="ephemeral")
        return
    team = body.get("team_id")
    try:
        reply = await commands.run(
            user_id=user_id,
            user_team=team if isinstance(team, str) else None,
            text=str(body.get("text") or ""),
        )
    except Exception:
        log.exception("/support failed")
        reply = CommandReply("Something went wrong running that command; it has been logged.")
    if reply.modal is None:
        # Ephemeral: only the caller sees the answer, in the channel where they typed it.
        await ack(text=reply.text, response_type="ephemeral")
        return
    try:
        await client.views_open(trigger_id=str(body.get("trigger_id")), view=reply.modal)
    except SlackApiError as exc:
        error = slack_error(exc)
        log.warning("could not open a modal for /support: %s", error)
        await ack(
            text=f"Slack would not open the form ({error}); try again.", response_type="ephemeral"
        )
        return
    await ack()
