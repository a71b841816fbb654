"""Customer satisfaction: one survey per ticket, and its one rating (score 1-5, an optional
comment), with whose answer the customer got (the bot's own or a person's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from persistence.db import Database, Tx, now

AnsweredBy = Literal["ai", "human", "none"]


@dataclass(frozen=True)
class CsatRating:
    ticket_id: int
    channel_id: str
    answered_by: AnsweredBy
    asked_at: float
    score: int | None
    comment: str | None
    rated_by: str | None
    rated_at: float | None


@dataclass(frozen=True)
class CsatGroup:
    """Ratings given in a period, for one channel and one kind of answer."""

    channel_id: str
    answered_by: AnsweredBy
    count: int
    total: int  # the scores summed
    satisfied: int  # rated 4 or 5


def _rating(row: Any) -> CsatRating:
    return CsatRating(
        ticket_id=int(row["ticket_id"]),
        channel_id=row["channel_id"],
        answered_by=row["answered_by"],
        asked_at=row["asked_at"],
        score=int(row["score"]) if row["score"] is not None else None,
        comment=row["comment"],
        rated_by=row["rated_by"],
        rated_at=row["rated_at"],
    )


class CsatRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def ask(self, tx: Tx, *, ticket_id: int, channel_id: str, answered_by: str) -> bool:
        """Note that the ticket's customer is asked; False when they were asked before (a
        ticket is asked once, however often it is reopened and resolved), or when its text was
        purged (retention)."""
        cur = await tx.execute(
            "INSERT INTO csat_ratings(ticket_id, channel_id, answered_by, asked_at)"
            " SELECT id, ?, ?, ? FROM tickets WHERE id = ? AND purged_at IS NULL"
            " ON CONFLICT(ticket_id) DO NOTHING",
            (channel_id, answered_by, now(), ticket_id),
        )
        return cur.rowcount == 1

    async def get(self, ticket_id: int, tx: Tx | None = None) -> CsatRating | None:
        sql, params = "SELECT * FROM csat_ratings WHERE ticket_id = ?", (ticket_id,)
        row = await (tx.fetchone(sql, params) if tx else self.db.fetchone(sql, params, inline=True))
        return None if row is None else _rating(row)

    async def rate(self, tx: Tx, *, ticket_id: int, score: int, user_id: str) -> None:
        await tx.execute(
            "UPDATE csat_ratings SET score = ?, rated_by = ?, rated_at = ? WHERE ticket_id = ?",
            (score, user_id, now(), ticket_id),
        )

    async def set_comment(self, tx: Tx, *, ticket_id: int, comment: str) -> None:
        await tx.execute(
            "UPDATE csat_ratings SET comment = ? WHERE ticket_id = ?", (comment, ticket_id)
        )

    async def groups(self, since: float, until: float) -> list[CsatGroup]:
        """Ratings given in the period, by channel and kind of answer."""
        rows = await self.db.fetchall(
            "SELECT channel_id, answered_by, COUNT(*) AS n, SUM(score) AS total,"
            " SUM(CASE WHEN score >= 4 THEN 1 ELSE 0 END) AS satisfied FROM csat_ratings"
            " WHERE score IS NOT NULL AND rated_at >= ? AND rated_at < ?"
            " GROUP BY channel_id, answered_by ORDER BY channel_id, answered_by",
            (since, until),
        )
        return [
            CsatGroup(
                channel_id=r["channel_id"],
                answered_by=r["answered_by"],
                count=int(r["n"]),
                total=int(r["total"] or 0),
                satisfied=int(r["satisfied"] or 0),
            )
            for r in rows
        ]
