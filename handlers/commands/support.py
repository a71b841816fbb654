"""``/support``: answered privately to the caller, in the acknowledgement itself."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.commands import SupportCommands

log = logging.getLogger(__name__)


async def handle_support(commands: SupportCommands, body: dict[str, Any], ack: AsyncAck) -> None:
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
        reply = "Something went wrong running that command; it has been logged."
    # Ephemeral: only the caller sees the answer, in the channel where they typed it.
    await ack(text=reply, response_type="ephemeral")
