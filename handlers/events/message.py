"""``message`` events: a customer message is stored as a job before Slack is acknowledged."""

from __future__ import annotations

import logging
from typing import Any

from bot.runtime.services import Services
from bot.slack.events import Ignored, parse_message_event
from persistence.db import DatabaseUnavailableError

log = logging.getLogger(__name__)


async def handle_message(services: Services, body: dict[str, Any]) -> None:
    await services.config.refresh()  # an admin may have just added or switched off a channel
    parsed = parse_message_event(
        body,
        # Channels switched off too: a thread a teammate opened there by hand is still read.
        watched_channels=services.support_channels,
        bot_user_id=services.workspace.bot_user_id,
    )
    if not isinstance(parsed, Ignored) and parsed.channel_id not in services.watched_channels:
        key = parsed.dedupe_key
        try:
            parsed = await services.intake.in_channel_switched_off(parsed)
        except DatabaseUnavailableError as exc:
            log.error("could not look up the thread of %s: %s", key, exc)
            raise  # not acknowledged: Slack delivers the message again later
    if isinstance(parsed, Ignored):
        event = body.get("event")
        channel = event.get("channel") if isinstance(event, dict) else None
        log.info("ignoring event %s in %s: %s", body.get("event_id"), channel, parsed.reason)
        return
    try:
        await services.intake.accept(parsed)
    except DatabaseUnavailableError as exc:
        # Not acknowledged (Bolt answers 500), so Slack delivers the message again later.
        log.error("could not accept message %s: %s", parsed.dedupe_key, exc)
        raise
