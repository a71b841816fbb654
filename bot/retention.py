"""RETENTION_DAYS: once a day, across however many replicas, purge the message text of tickets
resolved longer ago than that, keeping everything statistics need."""

from __future__ import annotations

import datetime as dt
import logging
import time

from persistence.retention import RetentionRepository

log = logging.getLogger(__name__)

JOB_NAME = "retention-purge"


class RetentionJob:
    def __init__(self, repo: RetentionRepository, *, days: int | None, owner: str) -> None:
        self.repo = repo
        self.days = days
        self.owner = owner

    async def run_daily(self, *, at: float | None = None) -> int | None:
        """Purge for today's period if no replica has yet; None when skipped."""
        if self.days is None:
            return None
        now = time.time() if at is None else at
        period = dt.datetime.fromtimestamp(now, dt.UTC).date().isoformat()
        if not await self.repo.claim_run(name=JOB_NAME, period=period, owner=self.owner):
            return None
        purged = await self.repo.purge_resolved_before(now - self.days * 86400)
        log.info(
            "retention: purged the text of %d ticket(s) resolved over %d days ago",
            purged,
            self.days,
        )
        return purged
