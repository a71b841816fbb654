"""Verified answers: one proposal per escalation, decided once, counted by state."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from persistence.connect import database_from_url
from persistence.db import Database, apply_migrations
from persistence.migrations import MIGRATIONS
from persistence.migrations_pg import PG_MIGRATIONS
from persistence.postgres import PostgresDatabase
from persistence.stats import StatsRepository
from persistence.trail import TrailRepository
from persistence.verified import VerifiedRepository, card_origin, thread_origin
from tests.persistence.rows import ticket_with_escalation
from tests.utils.databases import empty_database_url


async def _escalation(db: Database, n: int) -> tuple[int, int]:
    """An approved escalation and its ticket: their ids, escalation first."""
    ticket, escalation = await ticket_with_escalation(db, n, state="approved")
    return escalation, ticket


async def test_a_proposal_is_made_once_per_escalation(db: Database) -> None:
    repo = VerifiedRepository(db)
    escalation, ticket = await _escalation(db, 1)
    first, created = await repo.propose(
        origin=card_origin(escalation),
        escalation_id=escalation,
        ticket_id=ticket,
        title="Refunds",
        body="Press Refund.",
    )
    assert created and first.state == "proposed" and first.title == "Refunds"
    again, created = await repo.propose(
        origin=card_origin(escalation),
        escalation_id=escalation,
        ticket_id=ticket,
        title="Other",
        body="Other.",
    )
    assert not created and again == first
    assert await repo.get(first.id) == first
    assert await repo.for_origin(card_origin(escalation)) == first
    assert await repo.get(first.id + 100) is None


async def test_pending_lists_the_oldest_first_with_the_total(db: Database) -> None:
    repo = VerifiedRepository(db)
    made = []
    for n in range(4):
        escalation, ticket = await _escalation(db, n)
        made.append(
            (
                await repo.propose(
                    origin=card_origin(escalation),
                    escalation_id=escalation,
                    ticket_id=ticket,
                    title=f"T{n}",
                    body="B",
                )
            )[0]
        )
    shown, total = await repo.pending(limit=2)
    assert [p.title for p in shown] == ["T0", "T1"] and total == 4
    assert await repo.decide(made[0].id, state="discarded", decided_by="UADMIN")
    shown, total = await repo.pending(limit=10)
    assert [p.title for p in shown] == ["T1", "T2", "T3"] and total == 3


async def test_a_proposal_is_decided_once(db: Database) -> None:
    repo = VerifiedRepository(db)
    escalation, ticket = await _escalation(db, 1)
    proposal, _ = await repo.propose(
        origin=card_origin(escalation),
        escalation_id=escalation,
        ticket_id=ticket,
        title="Refunds",
        body="Press Refund.",
    )
    won = await asyncio.gather(
        repo.decide(proposal.id, state="approved", decided_by="UADMIN", article_id=7),
        repo.decide(proposal.id, state="discarded", decided_by="UOTHER"),
    )
    assert sorted(won) == [False, True]
    decided = await repo.get(proposal.id)
    assert decided is not None and decided.state != "proposed" and decided.decided_at
    if decided.state == "approved":
        assert decided.decided_by == "UADMIN" and decided.article_id == 7
    else:
        assert decided.decided_by == "UOTHER" and decided.article_id is None
    assert not await repo.decide(proposal.id, state="approved", decided_by="UADMIN")
    assert not await repo.decide(proposal.id + 1, state="approved", decided_by="UADMIN")
    assert await repo.counts() == {decided.state: 1}


async def test_stats_count_answers_sent_as_drafted_that_cited_a_verified_answer(
    db: Database,
) -> None:
    repo = VerifiedRepository(db)
    trail = TrailRepository(db)
    escalation, ticket = await _escalation(db, 1)
    proposal, _ = await repo.propose(
        origin=card_origin(escalation),
        escalation_id=escalation,
        ticket_id=ticket,
        title="Refunds",
        body="Press Refund.",
    )
    stats = StatsRepository(db)
    assert await stats.verified_served(0, time.time() + 60) == 0
    await repo.decide(proposal.id, state="approved", decided_by="UADMIN", article_id=41)
    served = []
    cases: list[tuple[list[int], tuple[str, dict[str, Any]]]] = [
        ([41, 3], ("decided", {"action": "answer"})),  # answered by the bot: served
        ([3], ("decided", {"action": "answer"})),  # another article: not served
        ([41], ("decided", {"action": "escalate"})),  # escalated...
        ([41], ("approved", {"escalation_id": 9})),  # ...then approved as written: served
        ([41], ("edited", {"escalation_id": 9})),  # the reviewer's own text: not counted
    ]
    for n, (cites, decision) in enumerate(cases):
        _, other = await _escalation(db, 10 + n)
        async with db.transaction() as tx:
            await trail.record(
                tx, ticket_id=other, step="drafted", actor="bot", detail={"sources": cites}
            )
            step, detail = decision
            await trail.record(tx, ticket_id=other, step=step, actor="bot", detail=detail)
        served.append(await stats.verified_served(0, time.time() + 60))
    assert served == [1, 1, 1, 2, 2]
    assert await stats.verified_served(time.time() + 60, time.time() + 120) == 0


async def test_a_thread_proposal_has_no_escalation_and_is_made_once_per_thread(
    db: Database,
) -> None:
    repo = VerifiedRepository(db)
    escalation, ticket = await _escalation(db, 9)
    card, _ = await repo.propose(
        origin=card_origin(escalation),
        escalation_id=escalation,
        ticket_id=ticket,
        title="Card",
        body="From the card.",
    )
    thread, created = await repo.propose(
        origin=thread_origin(ticket), escalation_id=None, ticket_id=ticket, title="T", body="B"
    )
    assert created and thread.id != card.id
    assert (thread.origin, thread.escalation_id) == (f"thread:{ticket}", None)
    again, created = await repo.propose(
        origin=thread_origin(ticket), escalation_id=None, ticket_id=ticket, title="X", body="Y"
    )
    assert not created and again == thread
    assert await repo.for_origin(thread_origin(ticket)) == thread


async def test_upgrading_keeps_the_proposals_made_before_threads_could_propose(
    tmp_path: Path,
) -> None:
    """0012 rebuilds the table (SQLite) or alters it (PostgreSQL): a card's proposal made under
    0011 keeps its id and state and gains its origin."""
    db = database_from_url(empty_database_url(tmp_path, "upgrade.db"))
    await db.open(migrate=False)
    try:
        steps, time_type = (
            (PG_MIGRATIONS, "DOUBLE PRECISION")
            if isinstance(db, PostgresDatabase)
            else (MIGRATIONS, "REAL")
        )
        upto = [name for name, _ in steps].index("0011_verified_answers") + 1
        async with db.transaction() as tx:
            await apply_migrations(tx, steps[:upto], time_type=time_type)
        escalation, ticket = await _escalation(db, 1)
        async with db.transaction() as tx:
            await tx.execute(
                "INSERT INTO verified_answers(escalation_id, ticket_id, title, body, state,"
                " created_at, decided_by) VALUES (?, ?, 'Refunds', 'Press Refund.', 'approved',"
                " 1, 'UADMIN')",
                (escalation, ticket),
            )
        assert await db.migrate() == [name for name, _ in steps[upto:]]
        repo = VerifiedRepository(db)
        [old] = [p for p in [await repo.for_origin(card_origin(escalation))] if p is not None]
        assert (old.escalation_id, old.state, old.decided_by) == (escalation, "approved", "UADMIN")
        thread, created = await repo.propose(
            origin=thread_origin(ticket), escalation_id=None, ticket_id=ticket, title="T", body="B"
        )
        assert created and thread.id > old.id
    finally:
        await db.close()
