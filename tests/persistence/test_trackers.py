"""Issues filed from cards: one per ticket, closed once, the customer's message decided once."""

from __future__ import annotations

import time

from persistence.db import Database
from persistence.retention import PURGED, RetentionRepository
from persistence.trackers import TrackerIssueRepository
from tests.persistence.rows import ticket_with_escalation


async def _ticket(db: Database, n: int) -> tuple[int, int]:
    return await ticket_with_escalation(db, n, state="pending")


async def _record(repo: TrackerIssueRepository, ticket: int, escalation: int, key: str):
    async with repo.db.transaction() as tx:
        return await repo.record(
            tx,
            ticket_id=ticket,
            escalation_id=escalation,
            tracker="jira",
            issue_id=f"id-{key}",
            issue_key=key,
            url=f"https://acme.atlassian.net/browse/{key}",
            created_by="UREV",
        )


async def test_a_ticket_has_one_issue(db: Database) -> None:
    repo = TrackerIssueRepository(db)
    ticket, escalation = await _ticket(db, 1)
    first, new = await _record(repo, ticket, escalation, "SUP-1")
    assert new and first.state == "open" and first.proposal_state == "none"
    again, new = await _record(repo, ticket, escalation, "SUP-2")
    assert not new and again == first
    assert await repo.for_ticket(ticket) == first
    assert await repo.find("jira", "id-SUP-1") == first
    assert await repo.find("github", "id-SUP-1") is None
    other, other_escalation = await _ticket(db, 2)
    assert await repo.for_ticket(other) is None
    # The tracker's issue is the first ticket's: not recorded for another.
    assert await _record(repo, other, other_escalation, "SUP-1") == (None, False)
    assert await repo.for_ticket(other) is None


async def test_an_issue_closes_once_and_leaves_the_open_list(db: Database) -> None:
    repo = TrackerIssueRepository(db)
    rows = []
    for n in range(3):
        ticket, escalation = await _ticket(db, n)
        rows.append((await _record(repo, ticket, escalation, f"SUP-{n}"))[0])
    assert [r.id for r in await repo.open_issues("jira", limit=2)] == [rows[0].id, rows[1].id]
    async with db.transaction() as tx:
        assert await repo.close(tx, rows[0].id, resolution="Done")
    async with db.transaction() as tx:
        assert not await repo.close(tx, rows[0].id, resolution="Other")
    closed = await repo.get(rows[0].id)
    assert closed is not None and closed.state == "closed" and closed.resolution == "Done"
    assert [r.id for r in await repo.open_issues("jira", limit=10)] == [rows[1].id, rows[2].id]
    assert await repo.open_issues("linear", limit=10) == []


async def test_the_customers_message_is_proposed_and_decided_once(db: Database) -> None:
    repo = TrackerIssueRepository(db)
    ticket, escalation = await _ticket(db, 1)
    row, _ = await _record(repo, ticket, escalation, "SUP-1")
    async with db.transaction() as tx:
        assert not await repo.decide_proposal(tx, row.id, state="sent", by="UREV")
        assert await repo.propose(tx, row.id, text="fixed!")
        assert not await repo.propose(tx, row.id, text="again")
    async with db.transaction() as tx:
        assert await repo.decide_proposal(tx, row.id, state="sent", by="UREV", text="edited")
        assert not await repo.decide_proposal(tx, row.id, state="dismissed", by="UREV2")
    decided = await repo.get(row.id)
    assert decided is not None
    assert decided.proposal_state == "sent" and decided.proposal_by == "UREV"
    assert decided.proposal_text == "edited"


async def test_retention_blanks_the_message_and_dismisses_one_still_waiting(db: Database) -> None:
    repo = TrackerIssueRepository(db)
    ticket, escalation = await _ticket(db, 1)
    row, _ = await _record(repo, ticket, escalation, "SUP-1")
    async with db.transaction() as tx:
        await repo.propose(tx, row.id, text="your export is fixed, Dana")
        await tx.execute(
            "UPDATE tickets SET state = 'resolved', resolved_at = 1 WHERE id = ?", (ticket,)
        )
    assert await RetentionRepository(db).purge_resolved_before(time.time()) == 1
    purged = await repo.get(row.id)
    assert purged is not None
    assert purged.proposal_text == PURGED and purged.proposal_state == "dismissed"
    assert purged.issue_key == "SUP-1" and purged.url.endswith("/SUP-1")  # the team's, kept
