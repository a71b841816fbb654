"""RETENTION_DAYS: once a day, across however many replicas, purge the message text of tickets
resolved longer ago than that, and the payloads of jobs finished longer ago than that (they
carried the same texts), keeping everything statistics and exactly-once delivery need."""

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
        cutoff = now - self.days * 86400
        purged = await self.repo.purge_resolved_before(cutoff)
        jobs = await self.repo.purge_finished_jobs_before(cutoff)
        log.info(
            "retention: purged the text of %d ticket(s) resolved and %d job(s) finished over"
            " %d days ago",
            purged,
            jobs,
            self.days,
        )
        return purged
