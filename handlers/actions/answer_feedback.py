"""The buttons under an AI answer in the customer's thread: Helpful, and Talk to a person."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime.services import Services
from bot.slack.interactions import AnswerClick, BadInteraction
from handlers.actions.notify import tell_clicker

log = logging.getLogger(__name__)


async def handle_answer_button(
    services: Services, body: dict[str, Any], client: AsyncWebClient, *, wants_person: bool
) -> None:
    try:
        click = AnswerClick.from_body(body)
    except BadInteraction as exc:
        log.warning("ignoring a click under an answer: %s", exc)
        return
    try:
        if wants_person:
            notice = await services.handoffs.talk_to_person(
                click.ticket_id, click.round, user_id=click.user_id
            )
        else:
            notice = await services.handoffs.helpful(
                click.ticket_id, click.round, user_id=click.user_id, user_team=click.user_team
            )
    except Exception:
        log.exception("recording a click under an answer failed")
        notice = "Something went wrong; please reply in the thread instead."
    await tell_clicker(client, click.as_review_click(), notice)
