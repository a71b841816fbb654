"""The satisfaction survey in a customer's thread: a score button (1-5), and "Add a comment"."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime.services import Services
from bot.slack.interactions import BadInteraction, CsatClick
from bot.slack.text import slack_error
from handlers.actions.notify import tell_clicker

log = logging.getLogger(__name__)

FAILED = "Something went wrong recording your rating, so nothing was recorded. Please try again."


async def handle_csat_rate(
    services: Services, body: dict[str, Any], client: AsyncWebClient
) -> None:
    try:
        click = CsatClick.from_body(body, with_score=True)
    except BadInteraction as exc:
        log.warning("ignoring a survey click: %s", exc)
        return
    assert click.score is not None
    try:
        notice = await services.csat.rate(
            click.ticket_id, click.score, user_id=click.user_id, user_team=click.user_team
        )
    except Exception:
        log.exception("recording a rating failed")
        notice = FAILED
    await tell_clicker(client, click.as_review_click(), notice)


async def handle_csat_comment(
    services: Services, body: dict[str, Any], client: AsyncWebClient
) -> None:
    try:
        click = CsatClick.from_body(body, with_score=False)
    except BadInteraction as exc:
        log.warning("ignoring an Add a comment click: %s", exc)
        return
    try:
        view, refusal = await services.csat.comment_form(
            click.ticket_id,
            user_id=click.user_id,
            user_team=click.user_team,
        )
    except Exception:
        log.exception("preparing the comment form failed")
        view, refusal = None, "Something went wrong opening the form; please try again."
    if view is None or click.trigger_id is None:
        await tell_clicker(client, click.as_review_click(), refusal or "Please try again.")
        return
    try:
        await client.views_open(trigger_id=click.trigger_id, view=view)
    except SlackApiError as exc:
        error = slack_error(exc)
        log.warning("could not open the comment form: %s", error)
        await tell_clicker(
            client, click.as_review_click(), f"Slack would not open the form ({error}); try again."
        )
