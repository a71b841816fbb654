"""Escalations: each time a ticket waits for a reviewer, and the one decision that ends the wait."""

from __future__ import annotations

import json
from typing import Any

from persistence.db import Database, Row, Tx, now
from persistence.records import DeskItem, DraftVersion, Escalation, EscalationState, load_json

_FIRST_QUESTION = (
    "(SELECT text FROM ticket_turns u WHERE u.ticket_id = t.id AND u.role = 'customer'"
    " ORDER BY u.id LIMIT 1)"
)


def _escalation(row: Row) -> Escalation:
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
        work=row["work"],
        work_by=row["work_by"],
        reminders=row["reminders"],
        shown_turn_id=row["shown_turn_id"],
        edit_text=row["edit_text"],
        edit_by=row["edit_by"],
        edit_translation=row["edit_translation"],
        edit_problem=row["edit_problem"],
    )


class EscalationRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        tx: Tx,
        *,
        ticket_id: int,
        round: int,
        reason: str,
        draft_text: str | None,
        card_channel: str | None = None,
    ) -> Escalation:
        """``card_channel`` is where the card will go, fixed now so a retried post looks for an
        earlier one in the same channel even if the escalation channel changes meanwhile."""
        await tx.execute(
            "INSERT INTO escalations(ticket_id, round, state, reason, draft_text, card_channel,"
            " created_at) VALUES (?, ?, 'pending', ?, ?, ?, ?)"
            " ON CONFLICT(ticket_id, round) DO NOTHING",
            (ticket_id, round, reason, draft_text, card_channel, now()),
        )
        row = await tx.fetchone(
            "SELECT * FROM escalations WHERE ticket_id = ? AND round = ?", (ticket_id, round)
        )
        assert row is not None
        return _escalation(row)

    async def get(self, escalation_id: int, tx: Tx | None = None) -> Escalation | None:
        sql, params = "SELECT * FROM escalations WHERE id = ?", (escalation_id,)
        row = await (tx.fetchone(sql, params) if tx else self.db.fetchone(sql, params, inline=True))
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
        """Record the decision only if the escalation is still pending and no new draft is being
        written for it; False otherwise."""
        cur = await tx.execute(
            "UPDATE escalations SET state = ?, version = version + 1, decided_by = ?,"
            " decided_at = ?, final_text = ?, work = NULL, work_by = NULL"
            " WHERE id = ? AND state = 'pending' AND work IS NULL",
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

    async def latest_for_ticket(self, ticket_id: int, tx: Tx | None = None) -> Escalation | None:
        sql = "SELECT * FROM escalations WHERE ticket_id = ? ORDER BY id DESC LIMIT 1"
        row = await (
            tx.fetchone(sql, (ticket_id,))
            if tx
            else self.db.fetchone(sql, (ticket_id,), inline=True)
        )
        return None if row is None else _escalation(row)

    async def close(
        self, tx: Tx, *, escalation_id: int, new_state: EscalationState, by: str
    ) -> bool:
        """End a pending wait without a reply (taken over in the thread, or resolved)."""
        cur = await tx.execute(
            "UPDATE escalations SET state = ?, version = version + 1, decided_by = ?,"
            " decided_at = ?, work = NULL, work_by = NULL WHERE id = ? AND state = 'pending'",
            (new_state, by, now(), escalation_id),
        )
        return cur.rowcount == 1

    async def start_work(self, tx: Tx, *, escalation_id: int, work: str, by: str) -> bool:
        """Mark a pending card as getting a new draft; False if decided or already busy."""
        cur = await tx.execute(
            "UPDATE escalations SET work = ?, work_by = ?, version = version + 1"
            " WHERE id = ? AND state = 'pending' AND work IS NULL",
            (work, by, escalation_id),
        )
        return cur.rowcount == 1

    async def finish_work(
        self, tx: Tx, *, escalation_id: int, draft_text: str | None, reason: str | None = None
    ) -> bool:
        """Put the new draft on the card and make it decidable again."""
        sets = "work = NULL, work_by = NULL, version = version + 1, draft_text = ?"
        params: list[Any] = [draft_text]
        if reason is not None:
            sets += ", reason = ?"
            params.append(reason)
        cur = await tx.execute(
            f"UPDATE escalations SET {sets} WHERE id = ? AND state = 'pending'"
            " AND work IS NOT NULL",
            [*params, escalation_id],
        )
        return cur.rowcount == 1

    # -- an edit waiting to be sent translated (``bot/review/translated_edit.py``) -----------

    async def hold_edit(
        self,
        tx: Tx,
        *,
        escalation_id: int,
        text: str,
        by: str,
        translating: bool,
        problem: str | None = None,
    ) -> bool:
        """Keep a reviewer's edit on a pending card instead of sending it: being translated
        (``translating``: the card is busy until ``finish_edit_translation``), or with the
        ``problem`` that stops its translation. False if decided or busy."""
        cur = await tx.execute(
            "UPDATE escalations SET edit_text = ?, edit_by = ?, edit_translation = NULL,"
            " edit_problem = ?, work = ?, work_by = ?, version = version + 1"
            " WHERE id = ? AND state = 'pending' AND work IS NULL",
            (
                text,
                by,
                problem,
                "translate" if translating else None,
                by if translating else None,
                escalation_id,
            ),
        )
        return cur.rowcount == 1

    async def finish_edit_translation(
        self,
        tx: Tx,
        *,
        escalation_id: int,
        text: str,
        translation: str | None,
        problem: str | None,
    ) -> bool:
        """Put the translation of the held edit ``text`` (or why there is none) on the card and
        make it decidable again; False if the card moved on (decided, or another edit)."""
        cur = await tx.execute(
            "UPDATE escalations SET edit_translation = ?, edit_problem = ?, work = NULL,"
            " work_by = NULL, version = version + 1 WHERE id = ? AND state = 'pending'"
            " AND work = 'translate' AND edit_text = ?",
            (translation, problem, escalation_id, text),
        )
        return cur.rowcount == 1

    async def discard_edit(self, tx: Tx, *, escalation_id: int) -> bool:
        cur = await tx.execute(
            "UPDATE escalations SET edit_text = NULL, edit_by = NULL, edit_translation = NULL,"
            " edit_problem = NULL, version = version + 1 WHERE id = ? AND state = 'pending'"
            " AND work IS NULL AND edit_text IS NOT NULL",
            (escalation_id,),
        )
        return cur.rowcount == 1

    async def touch(self, tx: Tx, escalation_id: int) -> None:
        """Bump the version so a card being posted re-renders (claims, activity)."""
        await tx.execute(
            "UPDATE escalations SET version = version + 1 WHERE id = ?", (escalation_id,)
        )

    async def set_shown_turn(self, escalation_id: int, turn_id: int) -> None:
        """Remember the newest customer message the card shows (it only ever grows)."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE escalations SET shown_turn_id = ? WHERE id = ? AND shown_turn_id < ?",
                (turn_id, escalation_id, turn_id),
            )

    async def count_reminder(self, tx: Tx, escalation_id: int) -> None:
        await tx.execute(
            "UPDATE escalations SET reminders = reminders + 1 WHERE id = ?", (escalation_id,)
        )

    async def pending(self) -> list[Escalation]:
        rows = await self.db.fetchall(
            "SELECT * FROM escalations WHERE state = 'pending' ORDER BY created_at, id"
        )
        return [_escalation(r) for r in rows]

    # -- the drafts a card has shown -------------------------------------------------------

    async def add_draft(
        self,
        tx: Tx,
        *,
        escalation_id: int,
        text: str | None,
        sources: list[dict[str, Any]],
        origin: str,
        requested_by: str | None = None,
    ) -> DraftVersion:
        row = await tx.fetchone(
            "SELECT COALESCE(MAX(n), 0) AS n FROM escalation_drafts WHERE escalation_id = ?",
            (escalation_id,),
        )
        n = (int(row["n"]) if row else 0) + 1
        got = await tx.fetchone(
            "INSERT INTO escalation_drafts(escalation_id, n, text, sources, origin,"
            " requested_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
            (escalation_id, n, text, json.dumps(sources), origin, requested_by, now()),
        )
        assert got is not None
        return _draft(got)

    async def set_feedback(self, tx: Tx, *, escalation_id: int, feedback: str) -> None:
        """The feedback belongs to the draft it criticises: the latest one."""
        await tx.execute(
            "UPDATE escalation_drafts SET feedback = ? WHERE id = (SELECT id FROM"
            " escalation_drafts WHERE escalation_id = ? ORDER BY n DESC LIMIT 1)",
            (feedback, escalation_id),
        )

    async def drafts(self, escalation_id: int, tx: Tx | None = None) -> list[DraftVersion]:
        sql = "SELECT * FROM escalation_drafts WHERE escalation_id = ? ORDER BY n"
        rows = await (
            tx.fetchall(sql, (escalation_id,))
            if tx
            else self.db.fetchall(sql, (escalation_id,), inline=True)
        )
        return [_draft(r) for r in rows]

    async def desk_page(self, *, limit: int, offset: int) -> tuple[list[DeskItem], int]:
        """Waiting escalations, oldest first, one page of them, and how many there are in all."""
        rows = await self.db.fetchall(
            "SELECT e.id AS escalation_id, t.id AS ticket_id, t.customer_user_id,"
            f" COALESCE({_FIRST_QUESTION}, '') AS question, e.draft_text IS NOT NULL AS has_draft,"
            " e.work, t.owner_user_id,"
            " COALESCE(json_extract(t.draft, '$.missing_information'), '') AS missing,"
            " e.created_at FROM escalations e JOIN tickets t ON t.id = e.ticket_id"
            " WHERE e.state = 'pending' AND t.state != 'resolved'"
            " ORDER BY e.created_at, e.id LIMIT ? OFFSET ?",
            (limit, offset),
        )
        total = await self.db.fetchone(
            "SELECT COUNT(*) AS n FROM escalations e JOIN tickets t ON t.id = e.ticket_id"
            " WHERE e.state = 'pending' AND t.state != 'resolved'"
        )
        items = [
            DeskItem(
                escalation_id=r["escalation_id"],
                ticket_id=r["ticket_id"],
                customer_user_id=r["customer_user_id"],
                question=r["question"],
                has_draft=bool(r["has_draft"]),
                work=r["work"],
                owner_user_id=r["owner_user_id"],
                missing_information=r["missing"] or "",
                created_at=r["created_at"],
            )
            for r in rows
        ]
        return items, int(total["n"]) if total else 0


def _draft(row: Row) -> DraftVersion:
    return DraftVersion(
        id=row["id"],
        escalation_id=row["escalation_id"],
        n=row["n"],
        text=row["text"],
        sources=load_json(row["sources"]) or [],
        origin=row["origin"],
        requested_by=row["requested_by"],
        feedback=row["feedback"],
        created_at=row["created_at"],
    )
