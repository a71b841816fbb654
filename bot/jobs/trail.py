"""A ticket's jobs on its trail: every retry, with the error and the wait, and a job given up
whose kind has nobody else to tell."""

from __future__ import annotations

from typing import Any

from persistence.records import Job
from persistence.repos import Repositories


class JobTrail:
    def __init__(self, repos: Repositories) -> None:
        self.repos = repos

    async def retried(self, job: Job, error: str, delay: float) -> None:
        """The worker's ``on_retry``: every retry of a ticket's job is a step of its trail."""
        detail = {"job": job.dedupe_key, "error": error[:300], "attempt": job.attempts}
        await self._record(job, "retried", {**detail, "retry_in_s": round(delay, 1)})

    async def gave_up(self, job: Job, error: str) -> None:
        """A ``JobKind.failed`` for timers (a reminder, a review timeout, an auto-close)."""
        await self._record(job, "delivery_failed", {"job": job.dedupe_key, "error": error})

    async def _record(self, job: Job, step: str, detail: dict[str, Any]) -> None:
        ticket_id = job.payload.get("ticket_id")
        if ticket_id is None and "escalation_id" in job.payload:
            escalation = await self.repos.escalations.get(int(job.payload["escalation_id"]))
            ticket_id = escalation.ticket_id if escalation else None
        if ticket_id is None and step == "retried":
            return  # not about a ticket (a digest, a reminder post): the log has it
        async with self.repos.db.transaction() as tx:
            await self.repos.trail.record(
                tx, ticket_id=ticket_id, step=step, actor="bot", detail=detail
            )
