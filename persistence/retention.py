"""Purging message text from old resolved tickets and old finished jobs, and claiming periodic
runs once."""

from __future__ import annotations

import json
from typing import Any

from persistence.db import Database, Tx, now

PURGED = "[purged]"
# What a finished job's payload becomes once purged: its row (and so its ``dedupe_key``) stays.
PURGED_PAYLOAD = '{"purged": true}'
# Who "decided" a verified answer still waiting when its ticket's text was purged.
RETENTION_ACTOR = "retention"


class RetentionRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim_run(self, *, name: str, period: str, owner: str) -> bool:
        """True for exactly one caller per (name, period), whichever process it is."""
        async with self.db.transaction() as tx:
            return await self.claim_run_in(tx, name=name, period=period, owner=owner)

    async def claim_run_in(self, tx: Tx, *, name: str, period: str, owner: str) -> bool:
        """``claim_run`` inside the caller's transaction, so the claim commits with the work it
        enqueues (a crash in between would lose the run)."""
        cur = await tx.execute(
            "INSERT INTO job_runs(name, period, claimed_by, claimed_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(name, period) DO NOTHING",
            (name, period, owner, now()),
        )
        return cur.rowcount == 1

    async def has_run(self, *, name: str, period: str) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM job_runs WHERE name = ? AND period = ?", (name, period)
        )
        return row is not None

    async def purge_resolved_before(self, cutoff: float, *, batch: int = 500) -> int:
        """Replace the text of tickets resolved before ``cutoff``; keep states, timings, labels,
        scores and counts. Returns how many tickets were purged."""
        purged = 0
        while True:
            async with self.db.transaction() as tx:
                rows = await tx.fetchall(
                    "SELECT id, classification, retrieval, draft FROM tickets"
                    " WHERE state = 'resolved' AND resolved_at < ? AND purged_at IS NULL"
                    " ORDER BY id LIMIT ?",
                    (cutoff, batch),
                )
                if not rows:
                    return purged
                for row in rows:
                    await self._purge_ticket(tx, row)
                purged += len(rows)

    async def purge_finished_jobs_before(self, cutoff: float, *, batch: int = 500) -> int:
        """Blank the payload, result and error of jobs that finished (done or dead) before
        ``cutoff``: they hold the messages, drafts and replies they carried. The rows stay, so
        every ``dedupe_key`` keeps dropping what it always dropped (a redelivered Slack event, a
        reply or card update already made); kind, state, attempts and times stay for statistics.
        Pending and running jobs are never touched. Returns how many jobs were purged."""
        purged = 0
        while True:
            async with self.db.transaction() as tx:
                cur = await tx.execute(
                    "UPDATE jobs SET payload = ?, result = NULL,"
                    " last_error = CASE WHEN last_error IS NULL THEN NULL ELSE ? END"
                    " WHERE id IN (SELECT id FROM jobs WHERE state IN ('done', 'dead')"
                    "   AND finished_at < ? AND payload <> ? ORDER BY id LIMIT ?)"
                    " AND state IN ('done', 'dead')",
                    (PURGED_PAYLOAD, PURGED, cutoff, PURGED_PAYLOAD, batch),
                )
            purged += cur.rowcount
            if cur.rowcount < batch:
                return purged

    async def _purge_ticket(self, tx: Any, row: Any) -> None:
        ticket_id = row["id"]
        classification = _keep(
            row["classification"],
            ("category", "confidence", "wants_human", "error", "skipped", "turn_range"),
        )
        retrieval = json.loads(row["retrieval"]) if row["retrieval"] else None
        if retrieval is not None:
            retrieval = {
                "mode": retrieval.get("mode"),
                "fits": retrieval.get("fits"),
                "confidence": retrieval.get("confidence"),
                "threshold": retrieval.get("threshold"),
                "hits": [
                    {"article_id": h.get("article_id"), "score": h.get("score")}
                    for h in retrieval.get("hits", [])
                ],
            }
        draft = _keep(row["draft"], ("origin", "grounded", "sources", "error"))
        await tx.execute(
            "UPDATE tickets SET classification = ?, retrieval = ?, draft = ?, purged_at = ?"
            " WHERE id = ?",
            (
                _dump(classification),
                _dump(retrieval),
                _dump(draft),
                now(),
                ticket_id,
            ),
        )
        await tx.execute(
            "UPDATE ticket_turns SET text = ? WHERE ticket_id = ?", (PURGED, ticket_id)
        )
        await tx.execute(
            "UPDATE escalations SET draft_text = CASE WHEN draft_text IS NULL THEN NULL ELSE ?"
            " END, final_text = CASE WHEN final_text IS NULL THEN NULL ELSE ? END,"
            " reason = ? WHERE ticket_id = ?",
            (PURGED, PURGED, PURGED, ticket_id),
        )
        await tx.execute(
            "UPDATE escalation_drafts SET text = ?, feedback = CASE WHEN feedback IS NULL"
            " THEN NULL ELSE ? END WHERE escalation_id IN"
            " (SELECT id FROM escalations WHERE ticket_id = ?)",
            (PURGED, PURGED, ticket_id),
        )
        await tx.execute(
            "UPDATE ticket_notes SET question = ?, answer = ? WHERE ticket_id = ?",
            (PURGED, PURGED, ticket_id),
        )
        # Attached files: their names, links and what was read from them are the customer's;
        # their kind, size and outcome stay for statistics.
        await tx.execute(
            "UPDATE ticket_attachments SET name = ?, text = NULL, permalink = NULL, url = NULL"
            " WHERE ticket_id = ?",
            (PURGED, ticket_id),
        )
        # Translations of its texts, and a translated edit that was never sent.
        await tx.execute("DELETE FROM translations WHERE ticket_id = ?", (ticket_id,))
        await tx.execute(
            "UPDATE escalations SET edit_text = NULL, edit_by = NULL, edit_translation = NULL,"
            " edit_problem = NULL WHERE ticket_id = ?",
            (ticket_id,),
        )
        # A verified answer proposed from it: generalised, but made of the customer's words;
        # one still waiting is discarded (an approved one's article stays, checked by an admin).
        await tx.execute(
            "UPDATE verified_answers SET title = ?, body = ?,"
            " decided_by = CASE WHEN state = 'proposed' THEN ? ELSE decided_by END,"
            " decided_at = CASE WHEN state = 'proposed' THEN ? ELSE decided_at END,"
            " state = CASE WHEN state = 'proposed' THEN 'discarded' ELSE state END"
            " WHERE ticket_id = ?",
            (PURGED, PURGED, RETENTION_ACTOR, now(), ticket_id),
        )
        # A customer's satisfaction comment is their words too (the score stays).
        await tx.execute(
            "UPDATE csat_ratings SET comment = ? WHERE ticket_id = ? AND comment IS NOT NULL",
            (PURGED, ticket_id),
        )
        # The message offered to the customer when their issue closed: one still waiting is
        # dismissed (the link and state stay: they are the team's, not the customer's).
        await tx.execute(
            "UPDATE tracker_issues SET proposal_text = CASE WHEN proposal_text IS NULL THEN NULL"
            " ELSE ? END,"
            " proposal_by = CASE WHEN proposal_state = 'proposed' THEN ? ELSE proposal_by END,"
            " proposal_at = CASE WHEN proposal_state = 'proposed' THEN ? ELSE proposal_at END,"
            " proposal_state = CASE WHEN proposal_state = 'proposed' THEN 'dismissed'"
            " ELSE proposal_state END WHERE ticket_id = ?",
            (PURGED, RETENTION_ACTOR, now(), ticket_id),
        )
        # Feedback a reviewer typed, and the search queries (made of the customer's words).
        await tx.execute(
            "UPDATE ticket_events"
            " SET detail = json_remove(json_remove(detail, '$.feedback'), '$.queries')"
            " WHERE ticket_id = ? AND json_valid(detail)",
            (ticket_id,),
        )


def _keep(raw: str | None, keys: tuple[str, ...]) -> dict[str, Any] | None:
    if raw is None:
        return None
    data = json.loads(raw)
    if not isinstance(data, dict):
        return None
    return {k: data[k] for k in keys if k in data}


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value)
