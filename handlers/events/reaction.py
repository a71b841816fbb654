"""``reaction_added`` events: a teammate's command emoji is stored as a job before Slack is
acknowledged; any other reaction is logged and dropped here."""

from __future__ import annotations

import logging
from typing import Any

from bot.runtime.services import Services
from bot.slack.events import Ignored, parse_reaction_event
from persistence.db import DatabaseUnavailableError

log = logging.getLogger(__name__)


async def handle_reaction(services: Services, body: dict[str, Any]) -> None:
    config = await services.config.refresh()  # the emoji or the channels may have just changed
    parsed = parse_reaction_event(
        body,
        support_channels=services.support_channels,
        bot_user_id=services.workspace.bot_user_id,
        action_of=config.reaction_action,
    )
    if isinstance(parsed, Ignored):
        event = body.get("event")
        user = event.get("user") if isinstance(event, dict) else None
        log.info("ignoring reaction %s by %s: %s", body.get("event_id"), user, parsed.reason)
        return
    try:
        await services.reactions.accept(parsed)
    except DatabaseUnavailableError as exc:
        # Not acknowledged (Bolt answers 500), so Slack delivers the reaction again later.
        log.error("could not accept reaction %s: %s", parsed.dedupe_key, exc)
        raise
