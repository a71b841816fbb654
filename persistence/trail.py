"""The audit trail of every ticket, and the log of messages deliberately ignored."""

from __future__ import annotations

import json
from typing import Any

from persistence.db import Database, Tx, now
from persistence.records import TrailEvent


class TrailRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(
        self,
        tx: Tx,
        *,
        ticket_id: int | None,
        step: str,
        actor: str,
        detail: dict[str, Any] | None = None,
        duration_ms: int | None = None,
        model: str | None = None,
        prompt_name: str | None = None,
        prompt_version: str | None = None,
        tokens_in: int | None = None,
        tokens_out: int | None = None,
    ) -> None:
        await tx.execute(
            "INSERT INTO ticket_events(ticket_id, step, actor, detail, duration_ms, model,"
            " prompt_name, prompt_version, tokens_in, tokens_out, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                ticket_id,
                step,
                actor,
                json.dumps(detail or {}),
                duration_ms,
                model,
                prompt_name,
                prompt_version,
                tokens_in,
                tokens_out,
                now(),
            ),
        )

    async def for_ticket(self, ticket_id: int) -> list[TrailEvent]:
        rows = await self.db.fetchall(
            "SELECT * FROM ticket_events WHERE ticket_id = ? ORDER BY id", (ticket_id,)
        )
        return [
            TrailEvent(
                id=r["id"],
                ticket_id=r["ticket_id"],
                step=r["step"],
                actor=r["actor"],
                detail=json.loads(r["detail"]),
                duration_ms=r["duration_ms"],
                model=r["model"],
                prompt_name=r["prompt_name"],
                prompt_version=r["prompt_version"],
                tokens_in=r["tokens_in"],
                tokens_out=r["tokens_out"],
                created_at=r["created_at"],
            )
            for r in rows
        ]

    async def ignore(
        self, tx: Tx, *, channel_id: str | None, ts: str | None, user_id: str | None, reason: str
    ) -> None:
        await tx.execute(
            "INSERT INTO ignored_messages(channel_id, ts, user_id, reason, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (channel_id, ts, user_id, reason, now()),
        )

    async def ignored(self) -> list[tuple[str | None, str | None, str]]:
        rows = await self.db.fetchall(
            "SELECT channel_id, ts, reason FROM ignored_messages ORDER BY id"
        )
        return [(r["channel_id"], r["ts"], r["reason"]) for r in rows]

    async def counts_since(self, since: float) -> dict[str, int]:
        """How many of each step happened since ``since``; ``answered`` counts auto-answers."""
        rows = await self.db.fetchall(
            "SELECT CASE WHEN step = 'decided' THEN 'decided:' ||"
            " COALESCE(json_extract(detail, '$.action'), '?') ELSE step END AS k, COUNT(*) AS n"
            " FROM ticket_events WHERE created_at >= ? GROUP BY k",
            (since,),
        )
        return {r["k"]: r["n"] for r in rows}
