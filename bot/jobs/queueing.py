"""Putting work on the queue: the kinds of job the domain layer asks for, each keyed once."""

from __future__ import annotations

from typing import Any

from bot.jobs import kinds as jobkinds
from bot.slack.blocks import OutgoingMessage
from persistence.db import Tx
from persistence.jobs import JobRepository
from persistence.records import Ticket


async def queue_thread_post(
    jobs: JobRepository,
    tx: Tx,
    *,
    key: str,
    ticket: Ticket,
    message: OutgoingMessage,
    purpose: str,
    author: str | None = None,
) -> None:
    """A message for the customer's thread, delivered once by the outbox. ``author`` names the
    teammate whose words it is (an edited reply), so the history says a human wrote it."""
    await jobs.enqueue(
        tx,
        kind=jobkinds.SLACK_POST,
        dedupe_key=key,
        payload={
            "ticket_id": ticket.id,
            "channel": ticket.channel_id,
            "thread_ts": ticket.thread_ts,
            "text": message.text,
            "blocks": message.blocks,
            "purpose": purpose,
            "author": author,
        },
    )


async def queue_card_thread_post(
    jobs: JobRepository, tx: Tx, *, key: str, channel: str, thread_ts: str, text: str
) -> None:
    """A message in a review card's thread (reminders): for the team, not part of the ticket."""
    await jobs.enqueue(
        tx,
        kind=jobkinds.SLACK_POST,
        dedupe_key=key,
        payload={"channel": channel, "thread_ts": thread_ts, "text": text, "purpose": "reminder"},
    )


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
