"""A ticket's rounds: which turns a round answers, and starting the next one."""

from __future__ import annotations

from typing import Any

from bot.jobs.queueing import queue_advance
from persistence.db import Tx
from persistence.records import Ticket, Turn
from persistence.repos import Repositories


def split_round(turns: list[Turn], processed_turn_id: int) -> tuple[list[Turn], list[Turn]]:
    """Earlier turns (context) and this round's new customer turns (the question)."""
    new = [t for t in turns if t.id > processed_turn_id and t.role == "customer"]
    history = [t for t in turns if t not in new]
    return history, new


async def start_next_round(repos: Repositories, tx: Tx, ticket: Ticket, **changes: Any) -> bool:
    """Move the ticket (as read) to a new round and queue its workflow; False when someone
    moved it first."""
    moved = await repos.tickets.move(tx, ticket, "received", round=ticket.round + 1, **changes)
    if moved is None:
        return False
    await queue_advance(repos.jobs, tx, ticket_id=ticket.id, round=ticket.round + 1)
    return True
