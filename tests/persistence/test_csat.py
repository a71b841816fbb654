"""Satisfaction ratings: asked once per ticket (never after its text was purged), rated and
commented, summed by channel and kind of answer; retention purges the comment, keeps the score."""

from __future__ import annotations

import time

from persistence.csat import CsatRepository
from persistence.db import Database
from persistence.retention import PURGED, RetentionRepository


async def _ticket(db: Database, n: int, channel: str = "C1", *, resolved_at: float = 0.0) -> int:
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO tickets(channel_id, thread_ts, customer_user_id, state, created_at,"
            " updated_at, resolved_at) VALUES (?, ?, 'U1', 'resolved', 0, 0, ?)",
            (channel, f"1700000000.{n:06d}", resolved_at),
        )
        row = await tx.fetchone("SELECT MAX(id) AS id FROM tickets")
        assert row is not None
    return int(row["id"])


async def test_a_ticket_is_asked_once_and_rated_once(db: Database) -> None:
    repo = CsatRepository(db)
    ticket = await _ticket(db, 1)
    async with db.transaction() as tx:
        assert await repo.ask(tx, ticket_id=ticket, channel_id="C1", answered_by="ai")
        assert not await repo.ask(tx, ticket_id=ticket, channel_id="C1", answered_by="human")
    rating = await repo.get(ticket)
    assert rating is not None and rating.answered_by == "ai" and rating.score is None
    async with db.transaction() as tx:
        await repo.rate(tx, ticket_id=ticket, score=2, user_id="U1")
        await repo.rate(tx, ticket_id=ticket, score=4, user_id="U1")
        await repo.set_comment(tx, ticket_id=ticket, comment="gr8 ty")
    rating = await repo.get(ticket)
    assert rating is not None and (rating.score, rating.rated_by, rating.comment) == (
        4,
        "U1",
        "gr8 ty",
    )
    assert await repo.get(ticket + 99) is None


async def test_a_ticket_whose_text_was_purged_is_not_asked(db: Database) -> None:
    repo = CsatRepository(db)
    ticket = await _ticket(db, 1)
    async with db.transaction() as tx:
        await tx.execute("UPDATE tickets SET purged_at = 1 WHERE id = ?", (ticket,))
        assert not await repo.ask(tx, ticket_id=ticket, channel_id="C1", answered_by="ai")
    assert await repo.get(ticket) is None


async def test_groups_count_average_and_satisfied_by_channel_and_answer(db: Database) -> None:
    repo = CsatRepository(db)
    scores = [("C1", "ai", 5), ("C1", "ai", 3), ("C1", "human", 4), ("C2", "ai", 1)]
    for n, (channel, source, score) in enumerate(scores):
        ticket = await _ticket(db, n, channel)
        async with db.transaction() as tx:
            await repo.ask(tx, ticket_id=ticket, channel_id=channel, answered_by=source)
            await repo.rate(tx, ticket_id=ticket, score=score, user_id="U1")
    unrated = await _ticket(db, 9)
    async with db.transaction() as tx:
        await repo.ask(tx, ticket_id=unrated, channel_id="C1", answered_by="none")
    groups = await repo.groups(0, time.time() + 1)
    assert [(g.channel_id, g.answered_by, g.count, g.total, g.satisfied) for g in groups] == [
        ("C1", "ai", 2, 8, 1),
        ("C1", "human", 1, 4, 1),
        ("C2", "ai", 1, 1, 0),
    ]
    assert await repo.groups(time.time() + 10, time.time() + 20) == []


async def test_retention_purges_the_comment_and_keeps_the_score(db: Database) -> None:
    repo = CsatRepository(db)
    ticket = await _ticket(db, 1, resolved_at=100.0)
    async with db.transaction() as tx:
        await repo.ask(tx, ticket_id=ticket, channel_id="C1", answered_by="ai")
        await repo.rate(tx, ticket_id=ticket, score=5, user_id="U1")
        await repo.set_comment(tx, ticket_id=ticket, comment="Ana from Acme, order 4411: thx")
    assert await RetentionRepository(db).purge_resolved_before(200.0) == 1
    rating = await repo.get(ticket)
    assert rating is not None and rating.comment == PURGED and rating.score == 5
