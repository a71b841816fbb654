"""Tickets and their turns: the persisted state machine of each customer conversation."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from persistence.db import Database, Row, Tx, now
from persistence.records import (
    OwnedTicket,
    Ticket,
    TicketNote,
    TicketState,
    Turn,
    TurnRole,
    load_json,
)


def _ticket(row: Row) -> Ticket:
    return Ticket(
        id=row["id"],
        channel_id=row["channel_id"],
        thread_ts=row["thread_ts"],
        customer_user_id=row["customer_user_id"],
        customer_team_id=row["customer_team_id"],
        state=row["state"],
        version=row["version"],
        round=row["round"],
        processed_turn_id=row["processed_turn_id"],
        classification=load_json(row["classification"]),
        retrieval=load_json(row["retrieval"]),
        draft=load_json(row["draft"]),
        decision=load_json(row["decision"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        owner_user_id=row["owner_user_id"],
        human_owner=row["human_owner"],
        resolved_by=row["resolved_by"],
        resolved_at=row["resolved_at"],
        opened_by=row["opened_by"],
        language=row["language"],
    )


def _turn(row: Row) -> Turn:
    return Turn(
        id=row["id"],
        ticket_id=row["ticket_id"],
        role=row["role"],
        user_id=row["user_id"],
        text=row["text"],
        slack_ts=row["slack_ts"],
        created_at=row["created_at"],
        purpose=row["purpose"],
    )


# Columns a state transition may set alongside the state; JSON columns are serialised here.
_JSON_COLUMNS = {"classification", "retrieval", "draft", "decision"}
_PLAIN_COLUMNS = {
    "round",
    "processed_turn_id",
    "human_owner",
    "resolved_by",
    "resolved_at",
    "language",
}


def _encode(fields: dict[str, Any]) -> dict[str, Any]:
    """Column values for an UPDATE: JSON columns encoded; unknown columns refused."""
    encoded: dict[str, Any] = {}
    for column, value in fields.items():
        if column in _JSON_COLUMNS:
            encoded[column] = None if value is None else json.dumps(value)
        elif column in _PLAIN_COLUMNS:
            encoded[column] = value
        else:
            raise ValueError(f"unknown ticket column {column!r}")
    return encoded


class TicketRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def open(
        self,
        tx: Tx,
        *,
        channel_id: str,
        thread_ts: str,
        customer_user_id: str,
        customer_team_id: str | None,
        opened_by: str | None = None,
    ) -> tuple[Ticket, bool]:
        """Create the ticket for a thread, or return the existing one; True when created.
        ``opened_by``: the teammate who opened it by hand (None: the customer's message)."""
        t = now()
        cur = await tx.execute(
            "INSERT INTO tickets(channel_id, thread_ts, customer_user_id, customer_team_id,"
            " state, created_at, updated_at, opened_by)"
            " VALUES (?, ?, ?, ?, 'received', ?, ?, ?)"
            " ON CONFLICT(channel_id, thread_ts) DO NOTHING",
            (channel_id, thread_ts, customer_user_id, customer_team_id, t, t, opened_by),
        )
        row = await tx.fetchone(
            "SELECT * FROM tickets WHERE channel_id = ? AND thread_ts = ?", (channel_id, thread_ts)
        )
        assert row is not None
        return _ticket(row), cur.rowcount == 1

    async def get(self, ticket_id: int, tx: Tx | None = None) -> Ticket | None:
        sql, params = "SELECT * FROM tickets WHERE id = ?", (ticket_id,)
        row = await (tx.fetchone(sql, params) if tx else self.db.fetchone(sql, params, inline=True))
        return None if row is None else _ticket(row)

    async def find_by_thread(
        self, channel_id: str, thread_ts: str, tx: Tx | None = None
    ) -> Ticket | None:
        sql = "SELECT * FROM tickets WHERE channel_id = ? AND thread_ts = ?"
        params = (channel_id, thread_ts)
        row = await (tx.fetchone(sql, params) if tx else self.db.fetchone(sql, params, inline=True))
        return None if row is None else _ticket(row)

    async def transition(
        self,
        tx: Tx,
        *,
        ticket_id: int,
        expected_state: TicketState,
        expected_version: int,
        new_state: TicketState,
        **fields: Any,
    ) -> bool:
        """Move the ticket only if nobody moved it since it was read; False when someone did."""
        encoded = _encode(fields)
        return await self._update(
            tx, ticket_id, expected_state, expected_version, new_state, now(), encoded
        )

    async def move(
        self, tx: Tx, ticket: Ticket, new_state: TicketState, **fields: Any
    ) -> Ticket | None:
        """``transition`` from the state and version ``ticket`` was read at; the ticket as it
        now stands (without reading it back), or None when someone moved it first."""
        encoded = _encode(fields)
        at = now()
        if not await self._update(
            tx, ticket.id, ticket.state, ticket.version, new_state, at, encoded
        ):
            return None
        # JSON fields as a read would return them (lists, not tuples; string keys).
        changed = {
            column: json.loads(value) if column in _JSON_COLUMNS and value is not None else value
            for column, value in encoded.items()
        }
        return replace(
            ticket, state=new_state, version=ticket.version + 1, updated_at=at, **changed
        )

    async def _update(
        self,
        tx: Tx,
        ticket_id: int,
        expected_state: TicketState,
        expected_version: int,
        new_state: TicketState,
        at: float,
        encoded: dict[str, Any],
    ) -> bool:
        sets = ["state = ?", "version = version + 1", "updated_at = ?"]
        params: list[Any] = [new_state, at]
        for column, value in encoded.items():
            sets.append(f"{column} = ?")
            params.append(value)
        params += [ticket_id, expected_state, expected_version]
        cur = await tx.execute(
            f"UPDATE tickets SET {', '.join(sets)} WHERE id = ? AND state = ? AND version = ?",
            params,
        )
        return cur.rowcount == 1

    async def add_turn(
        self,
        tx: Tx,
        *,
        ticket_id: int,
        role: TurnRole,
        user_id: str | None,
        text: str,
        slack_ts: str | None,
        purpose: str | None = None,
    ) -> Turn | None:
        """Store a message of the thread; None when that Slack message was already stored."""
        row = await tx.fetchone(
            "INSERT INTO ticket_turns(ticket_id, role, user_id, text, slack_ts, purpose,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING *",
            (ticket_id, role, user_id, text, slack_ts, purpose, now()),
        )
        return None if row is None else _turn(row)

    async def turns(self, ticket_id: int, tx: Tx | None = None) -> list[Turn]:
        sql, params = "SELECT * FROM ticket_turns WHERE ticket_id = ? ORDER BY id", (ticket_id,)
        rows = await (
            tx.fetchall(sql, params) if tx else self.db.fetchall(sql, params, inline=True)
        )
        return [_turn(r) for r in rows]

    async def latest_customer_turn_id(self, tx: Tx, ticket_id: int) -> int:
        row = await tx.fetchone(
            "SELECT COALESCE(MAX(id), 0) AS m FROM ticket_turns"
            " WHERE ticket_id = ? AND role = 'customer'",
            (ticket_id,),
        )
        return int(row["m"]) if row else 0

    async def count_by_state(self) -> dict[str, int]:
        rows = await self.db.fetchall("SELECT state, COUNT(*) AS n FROM tickets GROUP BY state")
        return {r["state"]: r["n"] for r in rows}

    async def all(self) -> list[Ticket]:
        return [_ticket(r) for r in await self.db.fetchall("SELECT * FROM tickets ORDER BY id")]

    async def in_states(self, tx: Tx, states: tuple[str, ...]) -> list[Ticket]:
        marks = ",".join("?" * len(states))
        rows = await tx.fetchall(
            f"SELECT * FROM tickets WHERE state IN ({marks}) ORDER BY id", list(states)
        )
        return [_ticket(r) for r in rows]

    async def set_owner(self, tx: Tx, *, ticket_id: int, user_id: str | None) -> None:
        """Claiming is not a step of the workflow, so it leaves state and version alone."""
        await tx.execute(
            "UPDATE tickets SET owner_user_id = ?, updated_at = ? WHERE id = ?",
            (user_id, now(), ticket_id),
        )

    async def owned_by(self, user_id: str, *, limit: int) -> list[OwnedTicket]:
        """Open tickets a teammate claimed or took over, most recently active first."""
        rows = await self.db.fetchall(
            "SELECT t.id, t.state, t.channel_id, t.thread_ts, t.updated_at,"
            " COALESCE((SELECT text FROM ticket_turns u WHERE u.ticket_id = t.id"
            "   AND u.role = 'customer' ORDER BY u.id LIMIT 1), '') AS question"
            " FROM tickets t WHERE (t.owner_user_id = ? OR t.human_owner = ?)"
            " AND t.state != 'resolved' ORDER BY t.updated_at DESC LIMIT ?",
            (user_id, user_id, limit),
        )
        return [
            OwnedTicket(
                ticket_id=r["id"],
                state=r["state"],
                question=r["question"],
                channel_id=r["channel_id"],
                thread_ts=r["thread_ts"],
                updated_at=r["updated_at"],
            )
            for r in rows
        ]

    async def update_draft(self, tx: Tx, *, ticket_id: int, draft: dict[str, Any]) -> None:
        await tx.execute(
            "UPDATE tickets SET draft = ?, updated_at = ? WHERE id = ?",
            (json.dumps(draft), now(), ticket_id),
        )

    # -- notes: teammates' answers to the bot's questions --------------------------------

    async def add_note(
        self, tx: Tx, *, ticket_id: int, question: str, answer: str, user_id: str
    ) -> TicketNote:
        row = await tx.fetchone(
            "INSERT INTO ticket_notes(ticket_id, question, answer, user_id, created_at)"
            " VALUES (?, ?, ?, ?, ?) RETURNING *",
            (ticket_id, question, answer, user_id, now()),
        )
        assert row is not None
        return _note(row)

    async def notes(self, ticket_id: int, tx: Tx | None = None) -> list[TicketNote]:
        sql, params = "SELECT * FROM ticket_notes WHERE ticket_id = ? ORDER BY id", (ticket_id,)
        rows = await (
            tx.fetchall(sql, params) if tx else self.db.fetchall(sql, params, inline=True)
        )
        return [_note(r) for r in rows]

    async def note(self, note_id: int) -> TicketNote | None:
        row = await self.db.fetchone("SELECT * FROM ticket_notes WHERE id = ?", (note_id,))
        return None if row is None else _note(row)

    # -- feedback on AI answers ----------------------------------------------------------

    async def add_feedback(
        self, tx: Tx, *, ticket_id: int, round: int, user_id: str, verdict: str
    ) -> bool:
        """Record one person's verdict on one answer; False when they had already said so."""
        cur = await tx.execute(
            "INSERT INTO answer_feedback(ticket_id, round, user_id, verdict, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (ticket_id, round, user_id, verdict, now()),
        )
        return cur.rowcount == 1


def _note(row: Row) -> TicketNote:
    return TicketNote(
        id=row["id"],
        ticket_id=row["ticket_id"],
        question=row["question"],
        answer=row["answer"],
        user_id=row["user_id"],
        created_at=row["created_at"],
    )
