"""The daily digest in the escalation channel: yesterday's numbers and the knowledge gaps (what
customers asked that no article fitted). Checked every few minutes; posted once a day, after
DIGEST_HOUR in the support-hours time zone (UTC without hours), by whichever replica claims the
day first."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter, defaultdict
from zoneinfo import ZoneInfo

from bot.jobs import kinds as jobkinds
from bot.ops.stats import compute, stats_lines
from bot.settings.environment import Settings
from bot.settings.live import LiveConfig
from bot.slack.blocks.digest import TICKETS_SHOWN, Gap, digest_message
from bot.slack.text import message_link
from persistence.repos import Repositories
from persistence.retention import RetentionRepository
from persistence.stats import StatsRepository

log = logging.getLogger(__name__)

JOB_NAME = "daily-digest"
GAP_SAMPLE = 300  # recent no-fit tickets looked at
GAPS_SHOWN = 5


class DigestJob:
    def __init__(
        self,
        settings: Settings,
        config: LiveConfig,
        repos: Repositories,
        *,
        owner: str,
        workspace_url: str = "https://slack.com/",
    ) -> None:
        self.settings = settings
        self.workspace_url = workspace_url
        self.config = config
        self.repos = repos
        self.stats = StatsRepository(repos.db)
        self.runs = RetentionRepository(repos.db)
        self.owner = owner

    async def maybe_post(self, *, at: float | None = None) -> str | None:
        """Post yesterday's digest if it is due and no replica has; returns the day posted."""
        if self.settings.digest_hour is None:
            return None
        config = await self.config.refresh()
        if config.escalation_channel is None:
            return None
        zone = ZoneInfo(config.hours.tz if config.hours else "UTC")
        now = dt.datetime.fromtimestamp(time.time() if at is None else at, zone)
        if now.hour < self.settings.digest_hour:
            return None
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        yesterday = today - dt.timedelta(days=1)
        day = yesterday.date().isoformat()
        if await self.runs.has_run(name=JOB_NAME, period=day):
            return None
        since, until = yesterday.timestamp(), today.timestamp()
        numbers = await compute(self.stats, self.settings, since=since, until=until)
        quiet = (
            numbers.questions == 0
            and numbers.rounds == 0
            and numbers.approved == 0
            and numbers.csat.count == 0
        )
        message = None
        if not quiet:
            gaps = await self.knowledge_gaps(since, until)
            message = digest_message(day=day, lines=stats_lines(numbers, period=day), gaps=gaps)
        # The claim commits with the post's job: a replica that dies after claiming the day
        # has not lost its digest, and two replicas computing it at once post it once.
        async with self.repos.db.transaction() as tx:
            if not await self.runs.claim_run_in(tx, name=JOB_NAME, period=day, owner=self.owner):
                return None
            if message is None:
                log.info("no digest for %s: the support channels were quiet", day)
                return None
            await self.repos.jobs.enqueue(
                tx,
                kind=jobkinds.SLACK_POST,
                dedupe_key=f"digest:{day}",
                payload={
                    "channel": config.escalation_channel,
                    "thread_ts": None,
                    "text": message.text,
                    "blocks": message.blocks,
                    "purpose": "digest",
                },
            )
        log.info("daily digest for %s queued", day)
        return day

    async def knowledge_gaps(self, since: float, until: float) -> list[Gap]:
        """The most common no-fit topics: how many questions, an example, the tickets, and a
        sent reply to write an article from (the newest, where there is one)."""
        rows = await self.stats.knowledge_gaps(since, until, limit=GAP_SAMPLE)
        counts: Counter[str] = Counter()
        example: dict[str, str] = {}
        tickets: defaultdict[str, list[tuple[int, str]]] = defaultdict(list)
        write_from: dict[str, int] = {}
        for row in rows:
            topics = [k.strip().lower() for k in row.keywords if k.strip()] or ["(no keywords)"]
            link = message_link(self.workspace_url, row.channel_id, row.thread_ts)
            for topic in dict.fromkeys(topics):
                counts[topic] += 1
                example.setdefault(topic, row.question)
                if len(tickets[topic]) < TICKETS_SHOWN:
                    tickets[topic].append((row.ticket_id, link))
                if row.answered_escalation is not None:
                    write_from.setdefault(topic, row.answered_escalation)
        return [
            Gap(topic, n, example[topic], tickets[topic], write_from.get(topic))
            for topic, n in counts.most_common(GAPS_SHOWN)
        ]
