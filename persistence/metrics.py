"""Totals for Prometheus, read from the trail and the queues at scrape time."""

from __future__ import annotations

from persistence.db import Database


class MetricsRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def step_totals(self) -> dict[str, int]:
        rows = await self.db.fetchall(
            "SELECT CASE WHEN step = 'decided' THEN 'decided:' ||"
            " COALESCE(json_extract(detail, '$.action'), '?') ELSE step END AS k, COUNT(*) AS n"
            " FROM ticket_events GROUP BY k"
        )
        return {r["k"]: int(r["n"]) for r in rows}

    async def delivery_failures(self) -> dict[str, int]:
        """Deliveries given up on, by purpose (answer, reply, card, failure_notice...)."""
        rows = await self.db.fetchall(
            "SELECT COALESCE(json_extract(detail, '$.purpose'), 'other') AS purpose,"
            " COUNT(*) AS n FROM ticket_events WHERE step = 'delivery_failed' GROUP BY purpose"
        )
        return {str(r["purpose"]): int(r["n"]) for r in rows}

    async def token_totals(self) -> tuple[int, int]:
        row = await self.db.fetchone(
            "SELECT COALESCE(SUM(tokens_in), 0) AS i, COALESCE(SUM(tokens_out), 0) AS o"
            " FROM ticket_events"
        )
        return (int(row["i"]), int(row["o"])) if row else (0, 0)

    async def jobs_by_kind_and_state(self) -> list[tuple[str, str, int]]:
        rows = await self.db.fetchall(
            "SELECT kind, state, COUNT(*) AS n FROM jobs GROUP BY kind, state"
        )
        return [(r["kind"], r["state"], int(r["n"])) for r in rows]

    async def tickets_by_state(self) -> dict[str, int]:
        rows = await self.db.fetchall("SELECT state, COUNT(*) AS n FROM tickets GROUP BY state")
        return {r["state"]: int(r["n"]) for r in rows}

    async def ping(self) -> bool:
        row = await self.db.fetchone("SELECT 1 AS ok")
        return bool(row and row["ok"] == 1)
