"""Verified answers: a reply the team sent (a reviewed card's, or a teammate's own reply that
resolved a thread), generalised into a question and answer for everyone, proposed once per
origin and approved (it then names its knowledge-base article) or discarded once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from persistence.db import Database, now

VerifiedState = Literal["proposed", "approved", "discarded"]


def card_origin(escalation_id: int) -> str:
    """A proposal from a review card's sent reply (approved, or edited)."""
    return f"card:{escalation_id}"


def thread_origin(ticket_id: int) -> str:
    """A proposal from a thread a teammate resolved with their own reply (one per thread)."""
    return f"thread:{ticket_id}"


@dataclass(frozen=True)
class VerifiedAnswer:
    id: int
    origin: str
    escalation_id: int | None
    ticket_id: int
    title: str
    body: str
    state: VerifiedState
    created_at: float
    decided_by: str | None
    decided_at: float | None
    article_id: int | None


def _verified(row: Any) -> VerifiedAnswer:
    return VerifiedAnswer(
        id=int(row["id"]),
        origin=row["origin"],
        escalation_id=int(row["escalation_id"]) if row["escalation_id"] is not None else None,
        ticket_id=int(row["ticket_id"]),
        title=row["title"],
        body=row["body"],
        state=row["state"],
        created_at=row["created_at"],
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        article_id=int(row["article_id"]) if row["article_id"] is not None else None,
    )


class VerifiedRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def propose(
        self,
        *,
        origin: str,
        escalation_id: int | None,
        ticket_id: int,
        title: str,
        body: str,
    ) -> tuple[VerifiedAnswer, bool]:
        """The origin's proposal, and whether it is new: one per origin (``card_origin``,
        ``thread_origin``), whatever the retries (an existing one is returned as it stands)."""
        async with self.db.transaction() as tx:
            written = await tx.execute(
                "INSERT INTO verified_answers(origin, escalation_id, ticket_id, title, body,"
                " state, created_at) VALUES (?, ?, ?, ?, ?, 'proposed', ?)"
                " ON CONFLICT(origin) DO NOTHING",
                (origin, escalation_id, ticket_id, title, body, now()),
            )
            row = await tx.fetchone("SELECT * FROM verified_answers WHERE origin = ?", (origin,))
        assert row is not None
        return _verified(row), written.rowcount == 1

    async def get(self, verified_id: int) -> VerifiedAnswer | None:
        row = await self.db.fetchone("SELECT * FROM verified_answers WHERE id = ?", (verified_id,))
        return _verified(row) if row is not None else None

    async def for_origin(self, origin: str) -> VerifiedAnswer | None:
        row = await self.db.fetchone("SELECT * FROM verified_answers WHERE origin = ?", (origin,))
        return _verified(row) if row is not None else None

    async def pending(self, *, limit: int) -> tuple[list[VerifiedAnswer], int]:
        """The oldest ``limit`` proposals waiting for a decision, and how many wait in all."""
        rows = await self.db.fetchall(
            "SELECT * FROM verified_answers WHERE state = 'proposed' ORDER BY id LIMIT ?",
            (limit,),
        )
        total = await self.db.fetchone(
            "SELECT COUNT(*) AS n FROM verified_answers WHERE state = 'proposed'"
        )
        return [_verified(r) for r in rows], int(total["n"]) if total is not None else 0

    async def decide(
        self,
        verified_id: int,
        *,
        state: Literal["approved", "discarded"],
        decided_by: str,
        article_id: int | None = None,
    ) -> bool:
        """Approve or discard a proposal still waiting; False when it was decided already (or is
        unknown)."""
        async with self.db.transaction() as tx:
            written = await tx.execute(
                "UPDATE verified_answers SET state = ?, decided_by = ?, decided_at = ?,"
                " article_id = ? WHERE id = ? AND state = 'proposed'",
                (state, decided_by, now(), article_id, verified_id),
            )
        return written.rowcount == 1

    async def counts(self) -> dict[str, int]:
        """How many proposals are in each state."""
        rows = await self.db.fetchall(
            "SELECT state, COUNT(*) AS n FROM verified_answers GROUP BY state"
        )
        return {str(r["state"]): int(r["n"]) for r in rows}
