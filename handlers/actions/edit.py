"""The Edit button on a review card: opens the modal with the draft."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime.services import Services
from bot.slack.interactions import BadInteraction, ReviewClick
from bot.slack.text import slack_error
from handlers.actions.notify import FAILED, tell_clicker

log = logging.getLogger(__name__)


async def handle_edit(services: Services, body: dict[str, Any], client: AsyncWebClient) -> None:
    try:
        click = ReviewClick.from_body(body)
    except BadInteraction as exc:
        log.warning("ignoring an edit click: %s", exc)
        return
    try:
        view, refusal = await services.review.edit_form(
            click.escalation_id, user_id=click.user_id, user_team=click.user_team
        )
    except Exception:
        log.exception("preparing the edit modal failed")
        await tell_clicker(client, click, FAILED)
        return
    if refusal is not None:
        await tell_clicker(client, click, refusal.notice or "")
        return
    if view is None or click.trigger_id is None:
        return
    try:
        await client.views_open(trigger_id=click.trigger_id, view=view)
    except SlackApiError as exc:
        error = slack_error(exc)
        log.warning("could not open the edit modal: %s", error)
        await tell_clicker(client, click, f"Slack would not open the editor ({error}); try again.")
