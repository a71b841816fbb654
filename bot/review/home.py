"""The App Home tab: the review queue with the card's buttons, your tickets, today's numbers."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ops.stats import CsatSummary, Stats, compute
from bot.review.deliveries import describe, undelivered
from bot.review.verified import VerifiedAnswers
from bot.settings.durations import format_duration
from bot.settings.environment import Settings
from bot.settings.live import DEFAULT, MODE_MEANINGS, ConfigSnapshot, LiveConfig
from bot.slack.blocks.command_replies import source_line
from bot.slack.blocks.common import category_list
from bot.slack.blocks.home import HOME_PAGE_SIZE, VERIFIED_HOME_MAX, HomeContent, home_view
from bot.slack.people import People
from bot.slack.text import slack_error
from persistence.repos import Repositories
from persistence.sources import SourceRepository
from persistence.stats import StatsRepository

log = logging.getLogger(__name__)


def config_lines(settings: Settings, c: ConfigSnapshot) -> list[str]:
    """The configuration in force, one line a setting (App Home and ``/support status``)."""
    channels = ", ".join(f"<#{ch}> ({MODE_MEANINGS[m]})" for ch, m in sorted(c.channels.items()))
    people = ", ".join(f"<@{u}>" for u in sorted(c.reviewers)) or (
        f"members of <#{c.escalation_channel}> (no guests)"
        if c.escalation_channel
        else "nobody (no list, no review channel)"
    )
    if c.reviewer_groups:
        people += " and " + ", ".join(f"<!subteam^{g}>" for g in sorted(c.reviewer_groups))
    own = [
        f"• Answered automatically in <#{ch}>: {category_list(chosen)}"
        for ch, chosen in sorted(c.auto_categories.items())
        if ch != DEFAULT
    ]
    return [
        f"• Support channels: {channels or 'none'}",
        f"• Review cards: <#{c.escalation_channel}>",
        f"• Reviewers: {people}",
        "• Admins: " + (", ".join(f"<@{u}>" for u in sorted(c.admins)) or "workspace admins"),
        f"• Auto-answer threshold: {c.threshold:.2f}",
        f"• Answered automatically (default): {category_list(c.default_categories)}",
        *own,
        "• Satisfaction survey (“How did we do?”): "
        + (", ".join(f"<#{ch}>" for ch in sorted(c.csat_channels)) or "no channel"),
        f"• Support hours: {c.hours.describe() if c.hours else 'always'}",
        f"• Reminders after {format_duration(c.review_reminder)} (at most"
        f" {settings.review_reminders_max}); the customer hears “still on it” after"
        f" {format_duration(c.review_timeout)}; quiet tickets close after"
        f" {format_duration(settings.auto_close_after)}",
        f"• Redrafts per card: {settings.review_max_redrafts}",
        f"• Reactions on a customer's message: :{c.reactions['open']}: opens a ticket,"
        f" :{c.reactions['claim']}: claims it, :{c.reactions['resolve']}: resolves it",
        "• ⏸ *Paused*: watching and logging, answering and escalating nothing"
        if c.paused
        else "• Running",
    ]


def week_line(s: Stats) -> str:
    def pct(value: float | None) -> str:
        return "–" if value is None else f"{value:.0%}"

    first = "–" if s.first_response_p50 is None else format_duration(round(s.first_response_p50))
    return (
        f"*Last 7 days:* {s.questions} questions · {pct(s.deflection)} answered by the bot ·"
        f" drafts approved as written {pct(s.approved_share)} · median first response {first}"
        " · `/support stats` for more"
    )


@dataclass(eq=False)
class HomeDesk:
    """The App Home tab: a person's queue, their tickets and the settings in force."""

    settings: Settings
    config: LiveConfig
    repos: Repositories
    people: People
    client: AsyncWebClient
    verified: VerifiedAnswers

    async def content(self, user_id: str, page: int = 0) -> HomeContent:
        """The tab as ``user_id`` may see it: who they are (their team, whether a guest) comes
        from ``users.info``, never from the team an event or click names."""
        await self.config.refresh()
        is_reviewer = await self.people.can_review(user_id)
        # Who sees the queue is who may act on it (workspace admins not listed as reviewers
        # still see the configuration, below, but not the queue's buttons).
        is_admin = await self.people.is_admin_anywhere(user_id)
        proposals, proposed = (
            await self.verified.pending(limit=VERIFIED_HOME_MAX) if is_admin else ([], 0)
        )
        if not is_reviewer:
            return HomeContent(
                user_id=user_id,
                is_reviewer=False,
                is_admin=is_admin,
                config_lines=config_lines(self.settings, self.config.current) if is_admin else [],
                source_lines=await self._source_lines() if is_admin else [],
                verified=proposals,
                verified_total=proposed,
            )
        now = time.time()
        waiting, total = await self.repos.escalations.desk_page(
            limit=HOME_PAGE_SIZE, offset=max(0, page) * HOME_PAGE_SIZE
        )
        if not waiting and page > 0 and total:
            last = (total - 1) // HOME_PAGE_SIZE
            return await self.content(user_id, last)
        not_delivered: dict[int, list[str]] = {}
        for item in waiting:
            failed = undelivered(await self.repos.trail.for_ticket(item.ticket_id))
            if failed:
                not_delivered[item.escalation_id] = [f"{describe(f)}: {f.reason}" for f in failed]
        midnight = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        config = config_lines(self.settings, await self.config.refresh())
        stats = StatsRepository(self.repos.db)
        csat = CsatSummary.of(await stats.csat_groups(midnight.timestamp(), now + 1))
        return HomeContent(
            user_id=user_id,
            is_reviewer=True,
            is_admin=is_admin,
            waiting=waiting,
            waiting_total=total,
            page=max(0, page),
            not_delivered=not_delivered,
            mine=await self.repos.tickets.owned_by(user_id, limit=10),
            today=await self.repos.trail.counts_since(midnight.timestamp()),
            today_csat=csat.describe() if csat.count else "",
            week_line=week_line(await compute(stats, self.settings, since=now - 7 * 86400)),
            config_lines=config,
            source_lines=await self._source_lines() if is_admin else [],
            now=now,
            verified=proposals,
            verified_total=proposed,
        )

    async def _source_lines(self) -> list[str]:
        return [source_line(s) for s in await SourceRepository(self.repos.db).all()]

    async def publish(self, user_id: str, page: int = 0) -> None:
        view = home_view(await self.content(user_id, page))
        try:
            await self.client.views_publish(user_id=user_id, view=view)
        except SlackApiError as exc:
            log.warning("could not publish the home tab of %s: %s", user_id, slack_error(exc))
