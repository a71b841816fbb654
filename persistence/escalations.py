"""Escalations: each time a ticket waits for a reviewer, and the one decision that ends the wait."""

from __future__ import annotations

import sqlite3

from persistence.db import Database, Tx, now
from persistence.records import Escalation, EscalationState


def _escalation(row: sqlite3.Row) -> Escalation:
    return Escalation(
        id=row["id"],
        ticket_id=row["ticket_id"],
        round=row["round"],
        state=row["state"],
        version=row["version"],
        reason=row["reason"],
        draft_text=row["draft_text"],
        card_channel=row["card_channel"],
        card_ts=row["card_ts"],
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        final_text=row["final_text"],
        created_at=row["created_at"],
    )


class EscalationRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self, tx: Tx, *, ticket_id: int, round: int, reason: str, draft_text: str | None
    ) -> Escalation:
        await tx.execute(
            "INSERT INTO escalations(ticket_id, round, state, reason, draft_text, created_at)"
            " VALUES (?, ?, 'pending', ?, ?, ?) ON CONFLICT(ticket_id, round) DO NOTHING",
            (ticket_id, round, reason, draft_text, now()),
        )
        row = await tx.fetchone(
            "SELECT * FROM escalations WHERE ticket_id = ? AND round = ?", (ticket_id, round)
        )
        assert row is not None
        return _escalation(row)

    async def get(self, escalation_id: int, tx: Tx | None = None) -> Escalation | None:
        sql, params = "SELECT * FROM escalations WHERE id = ?", (escalation_id,)
        row = await (tx.fetchone(sql, params) if tx else self.db.fetchone(sql, params))
        return None if row is None else _escalation(row)

    async def pending_for_ticket(self, tx: Tx, ticket_id: int) -> Escalation | None:
        row = await tx.fetchone(
            "SELECT * FROM escalations WHERE ticket_id = ? AND state = 'pending'"
            " ORDER BY id DESC LIMIT 1",
            (ticket_id,),
        )
        return None if row is None else _escalation(row)

    async def decide(
        self,
        tx: Tx,
        *,
        escalation_id: int,
        new_state: EscalationState,
        decided_by: str,
        final_text: str | None,
    ) -> bool:
        """Record the decision only if the escalation is still pending; False if already decided."""
        cur = await tx.execute(
            "UPDATE escalations SET state = ?, version = version + 1, decided_by = ?,"
            " decided_at = ?, final_text = ? WHERE id = ? AND state = 'pending'",
            (new_state, decided_by, now(), final_text, escalation_id),
        )
        return cur.rowcount == 1

    async def set_card(self, tx: Tx, *, escalation_id: int, channel: str, ts: str) -> None:
        await tx.execute(
            "UPDATE escalations SET card_channel = ?, card_ts = ? WHERE id = ?",
            (channel, ts, escalation_id),
        )

    async def for_ticket(self, ticket_id: int) -> list[Escalation]:
        rows = await self.db.fetchall(
            "SELECT * FROM escalations WHERE ticket_id = ? ORDER BY id", (ticket_id,)
        )
        return [_escalation(r) for r in rows]

    async def count_pending(self) -> int:
        row = await self.db.fetchone("SELECT COUNT(*) AS n FROM escalations WHERE state='pending'")
        return int(row["n"]) if row else 0
