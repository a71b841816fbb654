"""``app_home_opened``: render the App Home tab for whoever opened it."""

from __future__ import annotations

import logging
from typing import Any

from bot.runtime.services import Services

log = logging.getLogger(__name__)


async def handle_home_opened(services: Services, body: dict[str, Any]) -> None:
    event = body.get("event")
    if not isinstance(event, dict) or event.get("tab") not in (None, "home"):
        return
    user = event.get("user")
    if not isinstance(user, str) or not user:
        log.info("ignoring app_home_opened without a user")
        return
    # Who they are (team, guest or not) is looked up by user id; the envelope's team_id is the
    # workspace the event came through, not the user's.
    await services.home.publish(user)
