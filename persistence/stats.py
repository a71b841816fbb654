"""The raw numbers behind statistics, exports and digests: read-only queries over a period."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from persistence.csat import CsatGroup, CsatRepository
from persistence.db import Database


@dataclass(frozen=True)
class TicketFacts:
    """One ticket's numbers for a statistics period."""

    id: int
    created_at: float
    state: str
    first_response_at: float | None  # first answer from our side (not the holding reply)


@dataclass(frozen=True)
class GapTicket:
    """A ticket whose search found nothing that fits (``knowledge_gaps``)."""

    ticket_id: int
    channel_id: str
    thread_ts: str
    keywords: list[str]
    question: str
    answered_escalation: int | None  # its reply, sent by a person, can become an article


class StatsRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def step_counts(self, since: float, until: float) -> dict[str, int]:
        """Trail steps in the period; ``decided:answer`` / ``decided:escalate`` split decisions."""
        rows = await self.db.fetchall(
            "SELECT CASE WHEN step = 'decided' THEN 'decided:' ||"
            " COALESCE(json_extract(detail, '$.action'), '?') ELSE step END AS k, COUNT(*) AS n"
            " FROM ticket_events WHERE created_at >= ? AND created_at < ? GROUP BY k",
            (since, until),
        )
        return {r["k"]: int(r["n"]) for r in rows}

    async def delivery_failures(self, since: float, until: float) -> dict[str, int]:
        """Deliveries given up on in the period, by purpose."""
        rows = await self.db.fetchall(
            "SELECT COALESCE(json_extract(detail, '$.purpose'), 'other') AS purpose,"
            " COUNT(*) AS n FROM ticket_events WHERE step = 'delivery_failed'"
            " AND created_at >= ? AND created_at < ? GROUP BY purpose",
            (since, until),
        )
        return {str(r["purpose"]): int(r["n"]) for r in rows}

    async def first_responses(self, since: float, until: float) -> list[TicketFacts]:
        """Tickets opened in the period, with when our side first answered them."""
        rows = await self.db.fetchall(
            "SELECT t.id, t.created_at, t.state, (SELECT MIN(e.created_at) FROM ticket_events e"
            "   WHERE e.ticket_id = t.id AND e.step = 'sent'"
            "   AND json_extract(e.detail, '$.purpose') IN ('answer', 'reply')) AS bot_first,"
            " (SELECT MIN(u.created_at) FROM ticket_turns u WHERE u.ticket_id = t.id"
            "   AND u.role = 'staff') AS staff_first"
            " FROM tickets t WHERE t.created_at >= ? AND t.created_at < ? ORDER BY t.id",
            (since, until),
        )
        facts = []
        for r in rows:
            firsts = [x for x in (r["bot_first"], r["staff_first"]) if x is not None]
            facts.append(
                TicketFacts(
                    id=r["id"],
                    created_at=r["created_at"],
                    state=r["state"],
                    first_response_at=min(firsts) if firsts else None,
                )
            )
        return facts

    async def review_durations(self, since: float, until: float) -> list[tuple[str, float]]:
        """(decision, seconds from escalation to decision) for escalations decided in the period."""
        rows = await self.db.fetchall(
            "SELECT state, decided_at - created_at AS waited FROM escalations"
            " WHERE decided_at >= ? AND decided_at < ? AND decided_at IS NOT NULL",
            (since, until),
        )
        return [(r["state"], float(r["waited"])) for r in rows]

    async def tokens(self, since: float, until: float) -> list[tuple[str | None, int, int]]:
        """(model, tokens in, tokens out) summed per model over the period."""
        rows = await self.db.fetchall(
            "SELECT model, COALESCE(SUM(tokens_in), 0) AS i, COALESCE(SUM(tokens_out), 0) AS o"
            " FROM ticket_events WHERE created_at >= ? AND created_at < ?"
            " AND (tokens_in IS NOT NULL OR tokens_out IS NOT NULL) GROUP BY model",
            (since, until),
        )
        return [(r["model"], int(r["i"]), int(r["o"])) for r in rows]

    async def feedback(self, since: float, until: float) -> dict[str, int]:
        rows = await self.db.fetchall(
            "SELECT verdict, COUNT(*) AS n FROM answer_feedback"
            " WHERE created_at >= ? AND created_at < ? GROUP BY verdict",
            (since, until),
        )
        return {r["verdict"]: int(r["n"]) for r in rows}

    async def csat_groups(self, since: float, until: float) -> list[CsatGroup]:
        """Satisfaction ratings given in the period, by channel and kind of answer."""
        return await CsatRepository(self.db).groups(since, until)

    async def knowledge_gaps(self, since: float, until: float, *, limit: int) -> list[GapTicket]:
        """Tickets in the period whose search found nothing that fits, newest first (the caller
        groups them): their keywords, first question, thread, and the latest escalation whose
        reply a person sent (approved or edited), if any."""
        rows = await self.db.fetchall(
            "SELECT t.id, t.channel_id, t.thread_ts, t.classification, (SELECT text FROM"
            "   ticket_turns u WHERE u.ticket_id = t.id AND u.role = 'customer' ORDER BY u.id"
            "   LIMIT 1) AS question, (SELECT e.id FROM escalations e WHERE e.ticket_id = t.id"
            "   AND e.state IN ('approved', 'edited') AND e.final_text IS NOT NULL"
            "   ORDER BY e.id DESC LIMIT 1) AS answered"
            " FROM tickets t WHERE t.created_at >= ? AND t.created_at < ?"
            " AND CAST(json_extract(t.retrieval, '$.fits') AS INTEGER) = 0"
            " ORDER BY t.id DESC LIMIT ?",
            (since, until, limit),
        )
        return [
            GapTicket(
                ticket_id=int(r["id"]),
                channel_id=r["channel_id"],
                thread_ts=r["thread_ts"],
                keywords=(json.loads(r["classification"]) or {}).get("keywords") or []
                if r["classification"]
                else [],
                question=r["question"] or "",
                answered_escalation=int(r["answered"]) if r["answered"] is not None else None,
            )
            for r in rows
        ]

    async def verified_served(self, since: float, until: float) -> int:
        """Answers sent as drafted in the period (by the bot, or approved as written) whose
        draft cited a verified answer's article (``verified_answers.article_id``)."""
        verified = {
            int(r["article_id"])
            for r in await self.db.fetchall(
                "SELECT article_id FROM verified_answers WHERE article_id IS NOT NULL"
            )
        }
        if not verified:
            return 0
        rows = await self.db.fetchall(
            "SELECT ticket_id, step, detail, created_at FROM ticket_events"
            " WHERE step IN ('drafted', 'redrafted', 'decided', 'approved') AND ticket_id IN"
            " (SELECT ticket_id FROM ticket_events WHERE step IN ('decided', 'approved')"
            "  AND created_at >= ? AND created_at < ?) ORDER BY id",
            (since, until),
        )
        cited: dict[int, set[int]] = {}
        served = 0
        for r in rows:
            detail = json.loads(r["detail"]) if r["detail"] else {}
            if not isinstance(detail, dict):
                continue
            ticket = int(r["ticket_id"])
            if r["step"] in ("drafted", "redrafted"):
                if isinstance(detail.get("sources"), list):
                    cited[ticket] = {int(a) for a in detail["sources"] if isinstance(a, int)}
                continue
            if not since <= r["created_at"] < until:
                continue
            sent = r["step"] == "approved" or detail.get("action") == "answer"
            if sent and cited.get(ticket, set()) & verified:
                served += 1
        return served

    async def tickets_since(self, since: float) -> list[dict[str, Any]]:
        rows = await self.db.fetchall(
            "SELECT * FROM tickets WHERE created_at >= ? ORDER BY id", (since,)
        )
        return [dict(r) for r in rows]

    async def events_of(self, ticket_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        out: dict[int, list[dict[str, Any]]] = {t: [] for t in ticket_ids}
        for start in range(0, len(ticket_ids), 500):
            chunk = ticket_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = await self.db.fetchall(
                f"SELECT * FROM ticket_events WHERE ticket_id IN ({marks}) ORDER BY id", chunk
            )
            for r in rows:
                out[int(r["ticket_id"])].append(dict(r))
        return out
