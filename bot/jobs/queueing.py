"""Putting work on the queue: the kinds of job the domain layer asks for, each keyed once."""

from __future__ import annotations

from typing import Any

from bot.jobs import kinds as jobkinds
from persistence.db import Tx
from persistence.jobs import JobRepository


async def queue_timer(
    jobs: JobRepository, tx: Tx, *, kind: str, key: str, delay: float, payload: dict[str, Any]
) -> None:
    """A timer is a job that becomes available later: it survives restarts, and the claim
    makes it fire once however many workers or replicas sweep for it."""
    await jobs.enqueue(tx, kind=kind, dedupe_key=key, payload=payload, delay=delay)


async def queue_card_sync(jobs: JobRepository, tx: Tx, *, escalation_id: int, reason: str) -> None:
    """Post the review card (reason ``open``) or bring it up to date with the escalation."""
    await jobs.enqueue(
        tx,
        kind=jobkinds.SYNC_CARD,
        dedupe_key=jobkinds.card_key(escalation_id, reason),
        payload={"escalation_id": escalation_id},
    )


async def queue_advance(jobs: JobRepository, tx: Tx, *, ticket_id: int, round: int) -> None:
    """Run (or resume) a ticket's workflow round."""
    await jobs.enqueue(
        tx,
        kind=jobkinds.ADVANCE_TICKET,
        dedupe_key=jobkinds.advance_key(ticket_id, round),
        payload={"ticket_id": ticket_id, "round": round},
    )
