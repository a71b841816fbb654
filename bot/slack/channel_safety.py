"""Whether a channel may receive review cards: only people of this workspace may be in it.

A review card shows the customer's question, the draft reply and the team's notes. A channel
shared with another organisation (Slack Connect: ``is_ext_shared``, or an invitation not yet
accepted: ``is_pending_ext_shared``) would show every customer's cards to outsiders; so would a
channel configured as a customer channel, even one switched ``off`` (its customers are still
in it). Channels shared only between workspaces of our own Enterprise org (``is_org_shared``)
are internal and allowed. When Slack cannot tell us what the channel is, the answer is no:
``/support escalation``, the settings form and ``support-bot doctor`` all fail closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.text import slack_error

INFO_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class CardChannelCheck:
    """``problem`` is None when cards may go to the channel; ``info`` is what Slack said of it
    (empty when it could not be read)."""

    problem: str | None
    info: dict[str, Any]


def customer_channel_problem(channel: str, channels: Mapping[str, str]) -> str | None:
    mode = channels.get(channel)
    if mode is None:
        return None
    return (
        f"<#{channel}> is a support channel (`{mode}`): customers would see the cards"
        f"{', even while it is switched off' if mode == 'off' else ''}. Pick a channel only"
        " your team is in."
    )


def shared_problem(channel: str, info: Mapping[str, Any]) -> str | None:
    """Why a channel Slack describes as ``info`` (conversations.info) must not get cards."""
    if info.get("is_ext_shared"):
        return (
            f"<#{channel}> is shared with another organisation (Slack Connect): people outside"
            " your company would see every customer's cards. Pick a channel only your team is in."
        )
    if info.get("is_pending_ext_shared"):
        return (
            f"<#{channel}> has a pending Slack Connect invitation to another organisation:"
            " people outside your company could soon see every customer's cards. Pick a channel"
            " only your team is in."
        )
    return None


async def check_card_channel(
    client: AsyncWebClient,
    channel: str,
    channels: Mapping[str, str],
) -> CardChannelCheck:
    """Whether review cards may go to ``channel``, given the customer channels ``channels``
    (channel id -> mode, ``off`` included)."""
    problem = customer_channel_problem(channel, channels)
    if problem is not None:
        return CardChannelCheck(problem, {})
    try:
        async with asyncio.timeout(INFO_TIMEOUT_SECONDS):  # a slash command has 3 s to answer
            response = await client.conversations_info(channel=channel)
    except SlackApiError as exc:
        error = slack_error(exc)
        hint = (
            " If it is private, invite me there first (`/invite @Support Bot`)."
            if error == "channel_not_found"
            else ""
        )
        return CardChannelCheck(_unchecked(channel, f"Slack said {error}") + hint, {})
    except (TimeoutError, OSError, aiohttp.ClientError):
        return CardChannelCheck(_unchecked(channel, "Slack did not answer"), {})
    info = response.get("channel") or {}
    if not isinstance(info, dict):
        return CardChannelCheck(_unchecked(channel, "Slack's answer had no channel"), {})
    return CardChannelCheck(shared_problem(channel, info), info)


def _unchecked(channel: str, why: str) -> str:
    return (
        f"I could not check whether <#{channel}> is shared outside your company ({why}), so"
        " review cards will not go there. Try again in a moment."
    )
