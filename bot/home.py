"""The App Home tab: the review queue with the card's buttons, your tickets, today's numbers."""

from __future__ import annotations

import datetime as dt
import logging
import time

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import HOME_PAGE_SIZE, HomeContent, home_view
from bot.config import Settings
from bot.durations import format_duration
from bot.people import People
from bot.repos import Repositories

log = logging.getLogger(__name__)


class HomeDesk:
    def __init__(
        self, settings: Settings, repos: Repositories, people: People, client: AsyncWebClient
    ) -> None:
        self.settings = settings
        self.repos = repos
        self.people = people
        self.client = client

    async def content(self, user_id: str, user_team: str | None, page: int = 0) -> HomeContent:
        is_reviewer = self.people.may_review(user_id=user_id, user_team=user_team)
        is_admin = self.people.is_admin(user_id)
        if not is_reviewer:
            return HomeContent(user_id=user_id, is_reviewer=False, is_admin=is_admin)
        now = time.time()
        waiting, total = await self.repos.escalations.desk_page(
            limit=HOME_PAGE_SIZE, offset=max(0, page) * HOME_PAGE_SIZE
        )
        if not waiting and page > 0 and total:
            last = (total - 1) // HOME_PAGE_SIZE
            return await self.content(user_id, user_team, last)
        midnight = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        s = self.settings
        config = [
            "• Answering in: " + (", ".join(f"<#{c}>" for c in s.support_channels) or "none"),
            f"• Review cards: <#{s.escalation_channel}>",
            f"• Auto-answer threshold: {s.auto_answer_threshold:.2f}",
            f"• Reminders after {format_duration(s.review_reminder)} (at most"
            f" {s.review_reminders_max}); customer hears “still on it” after"
            f" {format_duration(s.review_timeout)}; quiet tickets close after"
            f" {format_duration(s.auto_close_after)}",
            f"• Redrafts per card: {s.review_max_redrafts}",
        ]
        return HomeContent(
            user_id=user_id,
            is_reviewer=True,
            is_admin=is_admin,
            waiting=waiting,
            waiting_total=total,
            page=max(0, page),
            mine=await self.repos.tickets.owned_by(user_id, limit=10),
            today=await self.repos.trail.counts_since(midnight.timestamp()),
            config_lines=config,
            now=now,
        )

    async def publish(self, user_id: str, user_team: str | None, page: int = 0) -> None:
        view = home_view(await self.content(user_id, user_team, page))
        try:
            await self.client.views_publish(user_id=user_id, view=view)
        except SlackApiError as exc:
            log.warning(
                "could not publish the home tab of %s: %s", user_id, exc.response.get("error")
            )
