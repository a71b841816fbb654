"""The Reject button on a review card."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.interactions import BadInteraction, ReviewClick
from bot.services import Services
from handlers.actions.notify import FAILED, tell_clicker

log = logging.getLogger(__name__)


async def handle_reject(services: Services, body: dict[str, Any], client: AsyncWebClient) -> None:
    try:
        click = ReviewClick.from_body(body)
    except BadInteraction as exc:
        log.warning("ignoring a reject click: %s", exc)
        return
    try:
        outcome = await services.review.reject(
            click.escalation_id, user_id=click.user_id, user_team=click.user_team
        )
    except Exception:
        log.exception("recording a reject failed")
        await tell_clicker(client, click, FAILED)
        return
    if outcome.notice:
        await tell_clicker(client, click, outcome.notice)
