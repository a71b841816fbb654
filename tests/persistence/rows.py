"""Rows the repository tests start from, written as the bot's own SQL would leave them."""

from __future__ import annotations

from persistence.db import Database


async def ticket_with_escalation(db: Database, n: int, *, state: str) -> tuple[int, int]:
    """A ticket (its thread told apart by ``n``) with one escalation in ``state``: their ids,
    ticket first."""
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO tickets(channel_id, thread_ts, customer_user_id, state, created_at,"
            " updated_at) VALUES ('C1', ?, 'U1', 'replied', 0, 0)",
            (f"1700000000.{n:06d}",),
        )
        ticket = await tx.fetchone("SELECT MAX(id) AS id FROM tickets")
        assert ticket is not None
        await tx.execute(
            "INSERT INTO escalations(ticket_id, round, state, reason, created_at)"
            " VALUES (?, 1, ?, 'r', 0)",
            (ticket["id"], state),
        )
        row = await tx.fetchone("SELECT MAX(id) AS id FROM escalations")
        assert row is not None
    return int(ticket["id"]), int(row["id"])
