"""Issues filed in the team's tracker from review cards: one per ticket, closed once, and the
message offered to the customer when it closed, sent or dismissed once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from persistence.db import Database, Tx, now

ProposalState = Literal["none", "proposed", "sent", "dismissed"]


@dataclass(frozen=True)
class TrackerIssue:
    id: int
    ticket_id: int
    escalation_id: int | None
    tracker: str
    issue_id: str
    issue_key: str
    url: str
    state: Literal["open", "closed"]
    resolution: str | None
    created_by: str
    created_at: float
    closed_at: float | None
    proposal_state: ProposalState
    proposal_text: str | None
    proposal_by: str | None
    proposal_at: float | None


def _issue(row: Any) -> TrackerIssue:
    return TrackerIssue(
        id=int(row["id"]),
        ticket_id=int(row["ticket_id"]),
        escalation_id=int(row["escalation_id"]) if row["escalation_id"] is not None else None,
        tracker=row["tracker"],
        issue_id=row["issue_id"],
        issue_key=row["issue_key"],
        url=row["url"],
        state=row["state"],
        resolution=row["resolution"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        closed_at=row["closed_at"],
        proposal_state=row["proposal_state"],
        proposal_text=row["proposal_text"],
        proposal_by=row["proposal_by"],
        proposal_at=row["proposal_at"],
    )


class TrackerIssueRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(
        self,
        tx: Tx,
        *,
        ticket_id: int,
        escalation_id: int | None,
        tracker: str,
        issue_id: str,
        issue_key: str,
        url: str,
        created_by: str,
    ) -> tuple[TrackerIssue | None, bool]:
        """The ticket's issue, and whether this call recorded it: one per ticket (a second is
        not recorded; the first is returned as it stands). None when this tracker's issue is
        another ticket's already."""
        written = await tx.execute(
            "INSERT INTO tracker_issues(ticket_id, escalation_id, tracker, issue_id, issue_key,"
            " url, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (ticket_id, escalation_id, tracker, issue_id, issue_key, url, created_by, now()),
        )
        row = await tx.fetchone("SELECT * FROM tracker_issues WHERE ticket_id = ?", (ticket_id,))
        return (_issue(row) if row is not None else None), written.rowcount == 1

    async def get(self, issue_row_id: int, tx: Tx | None = None) -> TrackerIssue | None:
        sql = "SELECT * FROM tracker_issues WHERE id = ?"
        row = await (
            tx.fetchone(sql, (issue_row_id,)) if tx else self.db.fetchone(sql, (issue_row_id,))
        )
        return _issue(row) if row is not None else None

    async def for_ticket(self, ticket_id: int, tx: Tx | None = None) -> TrackerIssue | None:
        sql = "SELECT * FROM tracker_issues WHERE ticket_id = ?"
        row = await (tx.fetchone(sql, (ticket_id,)) if tx else self.db.fetchone(sql, (ticket_id,)))
        return _issue(row) if row is not None else None

    async def find(self, tracker: str, issue_id: str) -> TrackerIssue | None:
        row = await self.db.fetchone(
            "SELECT * FROM tracker_issues WHERE tracker = ? AND issue_id = ?", (tracker, issue_id)
        )
        return _issue(row) if row is not None else None

    async def open_issues(self, tracker: str, *, limit: int) -> list[TrackerIssue]:
        """The oldest ``limit`` open issues of this tracker (what a poll asks about)."""
        rows = await self.db.fetchall(
            "SELECT * FROM tracker_issues WHERE tracker = ? AND state = 'open' ORDER BY id LIMIT ?",
            (tracker, limit),
        )
        return [_issue(r) for r in rows]

    async def close(self, tx: Tx, issue_row_id: int, *, resolution: str) -> bool:
        """Record that the issue closed; False when it was closed already (a replayed webhook,
        a poll after the webhook)."""
        written = await tx.execute(
            "UPDATE tracker_issues SET state = 'closed', resolution = ?, closed_at = ?"
            " WHERE id = ? AND state = 'open'",
            (resolution, now(), issue_row_id),
        )
        return written.rowcount == 1

    async def propose(self, tx: Tx, issue_row_id: int, *, text: str) -> bool:
        """The message offered to the customer; False when one was offered already."""
        written = await tx.execute(
            "UPDATE tracker_issues SET proposal_state = 'proposed', proposal_text = ?"
            " WHERE id = ? AND proposal_state = 'none'",
            (text, issue_row_id),
        )
        return written.rowcount == 1

    async def decide_proposal(
        self,
        tx: Tx,
        issue_row_id: int,
        *,
        state: Literal["sent", "dismissed"],
        by: str,
        text: str | None = None,
    ) -> bool:
        """Send (with ``text`` when a reviewer edited it) or dismiss the offered message; False
        when it was decided already (or none waits)."""
        written = await tx.execute(
            "UPDATE tracker_issues SET proposal_state = ?, proposal_by = ?, proposal_at = ?,"
            " proposal_text = COALESCE(?, proposal_text)"
            " WHERE id = ? AND proposal_state = 'proposed'",
            (state, by, now(), text, issue_row_id),
        )
        return written.rowcount == 1
