"""The job queue and outbox: idempotent enqueue by ``dedupe_key``, leased claims, backoff.

A worker in this process may attach itself as ``dispatch``. A job enqueued to run now is then
leased to it in the enqueueing transaction and handed over once that commits, instead of being
claimed by a transaction of its own; a job made ready without a hand-over is signalled so the
worker claims it at once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

from persistence.db import Database, Row, Tx, now
from persistence.records import Job

# A delivery retried by a reviewer is a new job keyed ``{the first job's key}:retry:{n}``.
RETRY_MARK = ":retry:"


def chain_root(dedupe_key: str) -> str:
    """The key of the first job of a delivery's chain of retries."""
    return dedupe_key.split(RETRY_MARK, 1)[0]


def _job(row: Row) -> Job:
    return Job(
        id=row["id"],
        kind=row["kind"],
        dedupe_key=row["dedupe_key"],
        payload=json.loads(row["payload"]),
        state=row["state"],
        attempts=row["attempts"],
        available_at=row["available_at"],
        lease_owner=row["lease_owner"],
        lease_until=row["lease_until"],
        last_error=row["last_error"],
        created_at=row["created_at"],
    )


class Dispatch(Protocol):
    """A worker that can take jobs as they are enqueued (``bot.jobs.worker.JobWorker``)."""

    def offer(self) -> tuple[str, float] | None:
        """(owner, lease seconds) when it will run one more job now, else None."""

    def start(self, job: Job) -> None:
        """Run a job leased to it by ``offer`` (called after the lease committed)."""

    def ready(self) -> None:
        """A job became ready to claim."""


class JobRepository:
    def __init__(self, db: Database, *, internal_kinds: frozenset[str] = frozenset()) -> None:
        """``internal_kinds``: kinds whose handlers only write the database (see ``enqueue``)."""
        self.db = db
        self.internal_kinds = internal_kinds
        self.dispatch: Dispatch | None = None

    def _signal_ready(self, tx: Tx) -> None:
        if self.dispatch is not None:
            tx.after_commit(self.dispatch.ready)

    async def enqueue(
        self,
        tx: Tx,
        *,
        kind: str,
        dedupe_key: str,
        payload: dict[str, Any],
        delay: float = 0.0,
    ) -> bool:
        """Insert a job unless one with this key exists; True when it was new.

        In a durable transaction, unless its kind is internal: a job, and the attempt count a
        hand-over gives it, must not be lost to a power cut once its work may have reached
        Slack. An internal job's handler only writes the database: whatever it tells Slack goes
        through jobs it enqueues durably, and that commit makes this one durable too (a power
        cut takes only a suffix of the log). Losing it loses all it did, and the work is redone
        from what was durable (the message's inbound job, say)."""
        if not tx.durable and kind not in self.internal_kinds:
            raise ValueError("jobs that may reach Slack are enqueued in durable transactions only")
        t = now()
        dispatch = self.dispatch
        lease = dispatch.offer() if dispatch is not None and delay <= 0 else None
        if dispatch is not None and lease is not None:
            owner, lease_seconds = lease
            row = await tx.fetchone(
                "INSERT INTO jobs(kind, dedupe_key, payload, available_at, created_at, state,"
                " lease_owner, lease_until, attempts) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, 1)"
                " ON CONFLICT(dedupe_key) DO NOTHING RETURNING *",
                (kind, dedupe_key, json.dumps(payload), t, t, owner, t + lease_seconds),
            )
            if row is None:
                return False
            job = _job(row)
            tx.after_commit(lambda: dispatch.start(job))
            return True
        cur = await tx.execute(
            "INSERT INTO jobs(kind, dedupe_key, payload, available_at, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(dedupe_key) DO NOTHING",
            (kind, dedupe_key, json.dumps(payload), t + delay, t),
        )
        if cur.rowcount == 1 and delay <= 0:
            self._signal_ready(tx)
        return cur.rowcount == 1

    async def claim(
        self,
        *,
        owner: str,
        limit: int,
        lease_seconds: float,
        done: Sequence[tuple[int, Any]] = (),
    ) -> list[Job]:
        """Lease up to ``limit`` ready jobs (pending and due, or running with an expired lease).

        ``done``: (job id, result) of jobs this owner finished since its last claim, marked
        done in the same transaction (one commit, and one fsync, for both)."""
        if limit <= 0 and not done:
            return []
        t = now()
        # Not serial: one UPDATE, whose candidates PostgreSQL locks as it picks them, skipping
        # those another replica is claiming (SQLite's writer claims alone anyway).
        skip_locked = " FOR UPDATE SKIP LOCKED" if self.db.dialect == "postgresql" else ""
        async with self.db.transaction(serial=False) as tx:
            if done:
                await tx.executemany(
                    "UPDATE jobs SET state = 'done', result = ?, finished_at = ?,"
                    " lease_owner = NULL, lease_until = NULL"
                    " WHERE id = ? AND lease_owner = ? AND state = 'running'",
                    [(json.dumps(result), t, job_id, owner) for job_id, result in done],
                )
            if limit <= 0:
                return []
            rows = await tx.fetchall(
                "UPDATE jobs SET state = 'running', lease_owner = ?, lease_until = ?,"
                " attempts = attempts + 1"
                " WHERE id IN (SELECT id FROM jobs"
                "   WHERE (state = 'pending' AND available_at <= ?)"
                "      OR (state = 'running' AND lease_until < ?)"
                f"   ORDER BY available_at, id LIMIT ?{skip_locked})"
                " RETURNING *",
                (owner, t + lease_seconds, t, t, limit),
            )
        return sorted((_job(r) for r in rows), key=lambda j: (j.available_at, j.id))

    async def mark_done(self, *, owner: str, done: Sequence[tuple[int, Any]]) -> None:
        """Record finished jobs, without an fsync: after a power cut a job whose completion was
        lost runs again, as after any crash between a job's work and its completion. (Leases
        are committed durably: a delivery's attempt count tells its next run to look for what
        an interrupted one may have posted.)"""
        if not done:
            return
        t = now()
        async with self.db.transaction(durable=False, serial=False) as tx:
            await tx.executemany(
                "UPDATE jobs SET state = 'done', result = ?, finished_at = ?,"
                " lease_owner = NULL, lease_until = NULL"
                " WHERE id = ? AND lease_owner = ? AND state = 'running'",
                [(json.dumps(result), t, job_id, owner) for job_id, result in done],
            )

    async def extend_leases(self, *, owner: str, job_ids: list[int], lease_seconds: float) -> None:
        if not job_ids:
            return
        async with self.db.transaction(durable=False, serial=False) as tx:
            await tx.executemany(
                "UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_owner = ?"
                " AND state = 'running'",
                [(now() + lease_seconds, job_id, owner) for job_id in job_ids],
            )

    async def complete(self, tx: Tx, *, job_id: int, owner: str, result: Any = None) -> bool:
        cur = await tx.execute(
            "UPDATE jobs SET state = 'done', result = ?, finished_at = ?, lease_owner = NULL,"
            " lease_until = NULL WHERE id = ? AND lease_owner = ? AND state = 'running'",
            (json.dumps(result), now(), job_id, owner),
        )
        return cur.rowcount == 1

    async def retry_later(self, *, job_id: int, owner: str, error: str, delay: float) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE jobs SET state = 'pending', available_at = ?, last_error = ?,"
                " lease_owner = NULL, lease_until = NULL"
                " WHERE id = ? AND lease_owner = ? AND state = 'running'",
                (now() + delay, error[:2000], job_id, owner),
            )

    async def bury(self, *, job_id: int, owner: str, error: str) -> None:
        """Give up on a job for good; it stays in the table for inspection."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE jobs SET state = 'dead', last_error = ?, finished_at = ?,"
                " lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?",
                (error[:2000], now(), job_id, owner),
            )

    async def release(self, *, owner: str) -> int:
        """Hand back every job this worker holds (graceful shutdown).

        ``attempts`` is kept: an interrupted delivery may have reached Slack, and the next run
        must know to look for it before posting.
        """
        async with self.db.transaction() as tx:
            cur = await tx.execute(
                "UPDATE jobs SET state = 'pending', lease_owner = NULL, lease_until = NULL"
                " WHERE lease_owner = ? AND state = 'running'",
                (owner,),
            )
            if cur.rowcount:
                self._signal_ready(tx)
        return cur.rowcount

    async def heartbeat(self, owner: str) -> None:
        """This worker is alive (an upsert, safe beside other replicas' transactions)."""
        async with self.db.transaction(durable=False, serial=False) as tx:
            await tx.execute(
                "INSERT INTO worker_heartbeats(owner, seen_at) VALUES (?, ?)"
                " ON CONFLICT(owner) DO UPDATE SET seen_at = excluded.seen_at",
                (owner, now()),
            )

    async def silent_owners(self, owners: list[str], *, since: float) -> list[str]:
        """Those of ``owners`` whose last heartbeat is older than ``since`` (an owner that never
        sent one, from before heartbeats, is not judged: its leases run out as before)."""
        if not owners:
            return []
        marks = ",".join("?" for _ in owners)
        rows = await self.db.fetchall(
            f"SELECT owner FROM worker_heartbeats WHERE owner IN ({marks}) AND seen_at < ?",
            (*owners, since),
        )
        return [r["owner"] for r in rows]

    async def forget_worker(self, owner: str, *, older_than: float | None = None) -> None:
        """Drop this worker's heartbeat (a clean stop), and any older than ``older_than``."""
        async with self.db.transaction(durable=False, serial=False) as tx:
            await tx.execute("DELETE FROM worker_heartbeats WHERE owner = ?", (owner,))
            if older_than is not None:
                await tx.execute("DELETE FROM worker_heartbeats WHERE seen_at < ?", (older_than,))

    async def running_owners(self) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT DISTINCT lease_owner FROM jobs WHERE state = 'running'"
            " AND lease_owner IS NOT NULL"
        )
        return [r["lease_owner"] for r in rows]

    async def expire_leases_of(self, owners: list[str]) -> int:
        """Make jobs leased by owners known to be gone claimable now, instead of at lease end."""
        if not owners:
            return 0
        async with self.db.transaction() as tx:
            cur_total = 0
            for owner in owners:
                cur = await tx.execute(
                    "UPDATE jobs SET lease_until = 0 WHERE lease_owner = ? AND state = 'running'",
                    (owner,),
                )
                cur_total += cur.rowcount
            if cur_total:
                self._signal_ready(tx)
        return cur_total

    async def get(self, job_id: int) -> Job | None:
        row = await self.db.fetchone("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return None if row is None else _job(row)

    async def chain(self, root: str, tx: Tx | None = None) -> list[Job]:
        """The job keyed ``root`` and the retries a reviewer asked for (``root:retry:n``), in
        the order they were made."""
        sql = "SELECT * FROM jobs WHERE dedupe_key = ? OR substr(dedupe_key, 1, ?) = ? ORDER BY id"
        prefix = f"{root}{RETRY_MARK}"
        params = (root, len(prefix), prefix)
        rows = await (tx.fetchall(sql, params) if tx else self.db.fetchall(sql, params))
        return [_job(r) for r in rows]

    async def get_by_key(self, dedupe_key: str) -> Job | None:
        row = await self.db.fetchone("SELECT * FROM jobs WHERE dedupe_key = ?", (dedupe_key,))
        return None if row is None else _job(row)

    async def counts(self) -> dict[str, int]:
        rows = await self.db.fetchall("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
        return {r["state"]: r["n"] for r in rows}

    async def next_due_in(self) -> float | None:
        row = await self.db.fetchone(
            "SELECT MIN(available_at) AS t FROM jobs WHERE state = 'pending'"
        )
        if row is None or row["t"] is None:
            return None
        return max(0.0, float(row["t"]) - now())

    async def wake_waiting_replies(self, tx: Tx, *, channel_id: str, thread_ts: str) -> int:
        """Make replies that wait for this thread's question (see Intake) due now."""
        cur = await tx.execute(
            "UPDATE jobs SET available_at = ? WHERE kind = 'inbound_message' AND state = 'pending'"
            " AND json_extract(payload, '$.channel_id') = ?"
            " AND json_extract(payload, '$.thread_ts') = ?"
            " AND json_extract(payload, '$.orphan_waits') IS NOT NULL",
            (now(), channel_id, thread_ts),
        )
        if cur.rowcount:
            self._signal_ready(tx)
        return cur.rowcount
