"""Telling the clicker, privately, what happened to their click."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.interactions import ReviewClick

log = logging.getLogger(__name__)

FAILED = "Something went wrong recording your decision, so nothing was sent. Please try again."


async def tell_clicker(client: AsyncWebClient, click: ReviewClick, text: str) -> None:
    if click.channel_id is None:
        log.info("cannot tell %s (no channel in the payload): %s", click.user_id, text)
        return
    try:
        await client.chat_postEphemeral(channel=click.channel_id, user=click.user_id, text=text)
    except SlackApiError as exc:
        log.warning("could not tell %s: %s", click.user_id, exc.response.get("error"))
