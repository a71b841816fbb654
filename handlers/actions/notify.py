"""What every review button shares: parsing the click, and telling the clicker privately."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.interactions import BadInteraction, ReviewClick, ReviewOutcome
from bot.slack.text import slack_error

log = logging.getLogger(__name__)

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")

FAILED = "Something went wrong recording your decision, so nothing was sent. Please try again."

Decision = Callable[..., Awaitable[ReviewOutcome]]


async def tell_clicker(client: AsyncWebClient, click: ReviewClick, text: str) -> None:
    """Privately: an ephemeral message where they clicked, or, for a click in the App Home tab
    (no channel), a message in their chat with the app."""
    try:
        if click.channel_id is None:
            if not _USER_ID.match(click.user_id):
                log.info("not telling %r (not a user id): %s", click.user_id, text)
                return
            await client.chat_postMessage(channel=click.user_id, text=text)
        else:
            await client.chat_postEphemeral(channel=click.channel_id, user=click.user_id, text=text)
    except SlackApiError as exc:
        log.warning("could not tell %s: %s", click.user_id, slack_error(exc))


async def decide_from_click(
    client: AsyncWebClient, body: dict[str, Any], decision: Decision, name: str
) -> None:
    """Run one reviewer decision for a button click; the clicker hears of anything but success."""
    try:
        click = ReviewClick.from_body(body)
    except BadInteraction as exc:
        log.warning("ignoring a %s click: %s", name, exc)
        return
    try:
        outcome = await decision(
            click.escalation_id, user_id=click.user_id, user_team=click.user_team
        )
    except Exception:
        log.exception("recording a %s failed", name)
        await tell_clicker(client, click, FAILED)
        return
    if outcome.notice:
        await tell_clicker(client, click, outcome.notice)


Form = Callable[..., Awaitable[tuple[dict[str, Any] | None, ReviewOutcome | None]]]
Opened = Callable[..., Awaitable[None]]


async def open_form_from_click(
    client: AsyncWebClient,
    body: dict[str, Any],
    form: Form,
    name: str,
    *,
    opened: Opened | None = None,
) -> None:
    """A card button that opens a modal, or tells the clicker privately why it cannot.
    ``opened`` is told of the modal Slack opened (its id, to fill it in later)."""
    try:
        click = ReviewClick.from_body(body)
    except BadInteraction as exc:
        log.warning("ignoring a %s click: %s", name, exc)
        return
    try:
        view, refusal = await form(
            click.escalation_id, user_id=click.user_id, user_team=click.user_team
        )
    except Exception:
        log.exception("preparing the %s form failed", name)
        await tell_clicker(client, click, "Something went wrong opening that form; try again.")
        return
    if refusal is not None:
        await tell_clicker(client, click, refusal.notice or "")
        return
    if view is None or click.trigger_id is None:
        return
    try:
        response = await client.views_open(trigger_id=click.trigger_id, view=view)
    except SlackApiError as exc:
        error = slack_error(exc)
        log.warning("could not open the %s form: %s", name, error)
        await tell_clicker(client, click, f"Slack would not open the form ({error}); try again.")
        return
    if opened is None:
        return
    shown = response.get("view")
    opened_view = shown if isinstance(shown, dict) else {}
    try:
        await opened(click.escalation_id, user_id=click.user_id, view=opened_view)
    except Exception:
        log.exception("preparing the %s form failed", name)
        await tell_clicker(
            client, click, "Something went wrong preparing that form; close it and try again."
        )
