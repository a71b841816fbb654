"""The job queue: idempotent enqueue, leased claims, retries, burial and release."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.jobs.worker import SILENT_SECONDS, JobWorker
from persistence.db import Database
from persistence.jobs import JobRepository
from persistence.records import Job

LONG = 60.0


async def _enqueue(
    jobs: JobRepository,
    key: str = "k1",
    *,
    delay: float = 0.0,
    payload: dict[str, object] | None = None,
) -> bool:
    async with jobs.db.transaction() as tx:
        return await jobs.enqueue(
            tx, kind="intake", dedupe_key=key, payload=payload or {"n": key}, delay=delay
        )


async def _job(jobs: JobRepository, key: str = "k1") -> Job:
    job = await jobs.get_by_key(key)
    assert job is not None
    return job


async def _complete(jobs: JobRepository, job_id: int, owner: str, result: object = None) -> bool:
    async with jobs.db.transaction() as tx:
        return await jobs.complete(tx, job_id=job_id, owner=owner, result=result)


async def test_enqueue_is_idempotent_per_dedupe_key(db: Database) -> None:
    jobs = JobRepository(db)
    assert await _enqueue(jobs, payload={"first": True}) is True
    assert await _enqueue(jobs, payload={"second": True}) is False
    assert await jobs.counts() == {"pending": 1}
    job = await _job(jobs)
    assert job.payload == {"first": True}
    assert job.kind == "intake"
    assert job.attempts == 0
    assert await _enqueue(jobs, "k2") is True
    assert await jobs.counts() == {"pending": 2}


async def test_enqueue_rolls_back_with_its_transaction(db: Database) -> None:
    jobs = JobRepository(db)
    try:
        async with db.transaction() as tx:
            await jobs.enqueue(tx, kind="intake", dedupe_key="k", payload={})
            raise RuntimeError("later step failed")
    except RuntimeError:
        pass
    assert await jobs.get_by_key("k") is None


async def test_claim_leases_and_increments_attempts(db: Database) -> None:
    jobs = JobRepository(db)
    await _enqueue(jobs, "a")
    await _enqueue(jobs, "b")
    claimed = await jobs.claim(owner="w1", limit=10, lease_seconds=LONG)
    assert [j.dedupe_key for j in claimed] == ["a", "b"]
    for job in claimed:
        assert job.state == "running"
        assert job.lease_owner == "w1"
        assert job.attempts == 1
        assert job.lease_until is not None and job.lease_until > job.available_at
    assert await jobs.running_owners() == ["w1"]


async def test_claim_respects_the_limit(db: Database) -> None:
    jobs = JobRepository(db)
    for key in "abc":
        await _enqueue(jobs, key)
    assert await jobs.claim(owner="w", limit=0, lease_seconds=LONG) == []
    assert [j.dedupe_key for j in await jobs.claim(owner="w", limit=2, lease_seconds=LONG)] == [
        "a",
        "b",
    ]
    assert [j.dedupe_key for j in await jobs.claim(owner="w", limit=2, lease_seconds=LONG)] == ["c"]


async def test_a_delayed_job_is_not_claimed_before_it_is_due(db: Database) -> None:
    jobs = JobRepository(db)
    await _enqueue(jobs, delay=0.2)
    assert await jobs.claim(owner="w", limit=5, lease_seconds=LONG) == []
    due_in = await jobs.next_due_in()
    assert due_in is not None and 0 < due_in <= 0.2
    await asyncio.sleep(0.25)
    assert len(await jobs.claim(owner="w", limit=5, lease_seconds=LONG)) == 1


async def test_a_claimed_job_is_not_claimed_again_until_its_lease_expires(
    db: Database,
) -> None:
    jobs = JobRepository(db)
    await _enqueue(jobs)
    first = await jobs.claim(owner="w1", limit=5, lease_seconds=0.15)
    assert len(first) == 1
    assert await jobs.claim(owner="w2", limit=5, lease_seconds=LONG) == []
    await asyncio.sleep(0.2)
    second = await jobs.claim(owner="w2", limit=5, lease_seconds=LONG)
    assert [j.id for j in second] == [first[0].id]
    assert second[0].lease_owner == "w2"
    assert second[0].attempts == 2
    # The first owner lost the job: it can no longer complete it.
    assert await _complete(jobs, first[0].id, "w1") is False
    assert await _complete(jobs, first[0].id, "w2") is True


async def test_extend_leases_keeps_the_job(db: Database) -> None:
    jobs = JobRepository(db)
    await _enqueue(jobs)
    [job] = await jobs.claim(owner="w1", limit=1, lease_seconds=0.15)
    await jobs.extend_leases(owner="w1", job_ids=[job.id], lease_seconds=LONG)
    await asyncio.sleep(0.2)
    assert await jobs.claim(owner="w2", limit=1, lease_seconds=LONG) == []
    # Another owner cannot extend it.
    await jobs.extend_leases(owner="w2", job_ids=[job.id], lease_seconds=LONG)
    assert (await _job(jobs)).lease_owner == "w1"


async def test_complete_only_by_the_lease_owner(db: Database) -> None:
    jobs = JobRepository(db)
    await _enqueue(jobs)
    [job] = await jobs.claim(owner="w1", limit=1, lease_seconds=LONG)
    assert await _complete(jobs, job.id, "intruder") is False
    assert (await _job(jobs)).state == "running"
    assert await _complete(jobs, job.id, "w1", result={"ok": True}) is True
    done = await _job(jobs)
    assert done.state == "done"
    assert done.lease_owner is None
    assert await _complete(jobs, job.id, "w1") is False  # only once
    row = await db.fetchone("SELECT result FROM jobs WHERE id = ?", (job.id,))
    assert row is not None and row["result"] == '{"ok": true}'
    assert await jobs.claim(owner="w2", limit=1, lease_seconds=LONG) == []


async def test_complete_of_a_pending_job_fails(db: Database) -> None:
    jobs = JobRepository(db)
    await _enqueue(jobs)
    job = await _job(jobs)
    assert await _complete(jobs, job.id, "w1") is False
    assert (await _job(jobs)).state == "pending"


async def test_retry_later_makes_it_available_after_the_delay(db: Database) -> None:
    jobs = JobRepository(db)
    await _enqueue(jobs)
    [job] = await jobs.claim(owner="w1", limit=1, lease_seconds=LONG)
    await jobs.retry_later(job_id=job.id, owner="w1", error="slack 500", delay=0.2)
    waiting = await _job(jobs)
    assert waiting.state == "pending"
    assert waiting.last_error == "slack 500"
    assert waiting.lease_owner is None
    assert waiting.attempts == 1
    assert await jobs.claim(owner="w2", limit=1, lease_seconds=LONG) == []
    await asyncio.sleep(0.25)
    [again] = await jobs.claim(owner="w2", limit=1, lease_seconds=LONG)
    assert again.id == job.id
    assert again.attempts == 2


async def test_retry_later_by_another_owner_changes_nothing(db: Database) -> None:
    jobs = JobRepository(db)
    await _enqueue(jobs)
    [job] = await jobs.claim(owner="w1", limit=1, lease_seconds=LONG)
    await jobs.retry_later(job_id=job.id, owner="w2", error="x", delay=0)
    still = await _job(jobs)
    assert still.state == "running"
    assert still.lease_owner == "w1"
    assert still.last_error is None


async def test_retry_later_truncates_long_errors(db: Database) -> None:
    jobs = JobRepository(db)
    await _enqueue(jobs)
    [job] = await jobs.claim(owner="w1", limit=1, lease_seconds=LONG)
    await jobs.retry_later(job_id=job.id, owner="w1", error="e" * 10_000, delay=LONG)
    last_error = (await _job(jobs)).last_error
    assert last_error is not None and len(last_error) == 2000


async def test_bury_keeps_the_job_dead_for_inspection(db: Database) -> None:
    jobs = JobRepository(db)
    await _enqueue(jobs)
    [job] = await jobs.claim(owner="w1", limit=1, lease_seconds=0.05)
    await jobs.bury(job_id=job.id, owner="other", error="not mine")
    assert (await _job(jobs)).state == "running"
    await jobs.bury(job_id=job.id, owner="w1", error="gave up after 8 attempts")
    dead = await _job(jobs)
    assert dead.state == "dead"
    assert dead.last_error == "gave up after 8 attempts"
    assert dead.lease_owner is None
    assert await jobs.counts() == {"dead": 1}
    await asyncio.sleep(0.1)  # past the old lease: still never claimed again
    assert await jobs.claim(owner="w2", limit=1, lease_seconds=LONG) == []
    assert await _enqueue(jobs) is False  # the key stays taken


async def test_release_hands_jobs_back_and_keeps_attempts(db: Database) -> None:
    jobs = JobRepository(db)
    await _enqueue(jobs, "a")
    await _enqueue(jobs, "b")
    await _enqueue(jobs, "c")
    await jobs.claim(owner="w1", limit=2, lease_seconds=LONG)
    await jobs.claim(owner="w2", limit=1, lease_seconds=LONG)
    assert await jobs.release(owner="w1") == 2
    assert await jobs.release(owner="w1") == 0
    a, b, c = [await _job(jobs, k) for k in "abc"]
    assert (a.state, a.attempts, a.lease_owner) == ("pending", 1, None)
    assert (b.state, b.attempts, b.lease_owner) == ("pending", 1, None)
    assert (c.state, c.lease_owner) == ("running", "w2")
    reclaimed = await jobs.claim(owner="w3", limit=5, lease_seconds=LONG)
    assert sorted(j.dedupe_key for j in reclaimed) == ["a", "b"]
    assert all(j.attempts == 2 for j in reclaimed)


async def test_expire_leases_of_makes_a_gone_workers_jobs_claimable_now(db: Database) -> None:
    jobs = JobRepository(db)
    await _enqueue(jobs, "a")
    await _enqueue(jobs, "b")
    [a] = await jobs.claim(owner="dead-worker", limit=1, lease_seconds=LONG)
    [b] = await jobs.claim(owner="live-worker", limit=1, lease_seconds=LONG)
    assert sorted(await jobs.running_owners()) == ["dead-worker", "live-worker"]
    assert await jobs.claim(owner="w3", limit=5, lease_seconds=LONG) == []
    assert await jobs.expire_leases_of([]) == 0
    assert await jobs.expire_leases_of(["dead-worker", "unknown"]) == 1
    reclaimed = await jobs.claim(owner="w3", limit=5, lease_seconds=LONG)
    assert [j.id for j in reclaimed] == [a.id]
    assert reclaimed[0].attempts == 2
    assert (await _job(jobs, "b")).lease_owner == "live-worker"
    assert b.id != a.id


async def test_next_due_in_without_pending_jobs_is_none(db: Database) -> None:
    jobs = JobRepository(db)
    assert await jobs.next_due_in() is None
    await _enqueue(jobs)
    assert await jobs.next_due_in() == 0.0


async def test_a_job_is_never_enqueued_in_a_transaction_that_may_be_lost(
    db: Database,
) -> None:
    jobs = JobRepository(db)
    with pytest.raises(ValueError, match="durable transactions only"):
        async with db.transaction(durable=False) as tx:
            await jobs.enqueue(tx, kind="intake", dedupe_key="lazy", payload={})
    assert await jobs.get_by_key("lazy") is None


async def test_an_internal_job_may_be_enqueued_without_an_fsync(db: Database) -> None:
    # Its handler only writes the database, so losing it to a power cut loses all it did.
    jobs = JobRepository(db, internal_kinds=frozenset({"advance"}))
    async with db.transaction(durable=False) as tx:
        assert await jobs.enqueue(tx, kind="advance", dedupe_key="internal", payload={"n": 1})
    job = await jobs.get_by_key("internal")
    assert job is not None and job.payload == {"n": 1} and job.state == "pending"


async def test_heartbeats_tell_silent_workers_from_live_ones(db: Database) -> None:
    jobs = JobRepository(db)
    await jobs.heartbeat("live")
    await jobs.heartbeat("silent")
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE worker_heartbeats SET seen_at = seen_at - 100 WHERE owner = 'silent'"
        )
    await jobs.heartbeat("live")  # an upsert: one row per worker
    since = time.time() - 30
    assert await jobs.silent_owners(["live", "silent", "never-beat"], since=since) == ["silent"]
    assert await jobs.silent_owners([], since=since) == []
    await jobs.forget_worker("live", older_than=time.time() - 50)
    assert await db.fetchall("SELECT owner FROM worker_heartbeats") == []


async def test_a_silent_worker_on_another_host_loses_its_jobs_before_its_leases_end(
    db: Database,
) -> None:
    jobs = JobRepository(db)
    for key in ("a", "b"):
        await _enqueue(jobs, key)
    elsewhere = "another-host:4242:abcd1234"  # not a process this host can look up
    taken = await jobs.claim(owner=elsewhere, limit=1, lease_seconds=LONG)
    await jobs.claim(owner="this-host-live:1:x", limit=1, lease_seconds=LONG)
    worker = JobWorker(
        jobs, [], concurrency=1, lease_seconds=LONG, max_attempts=3, retry_base_seconds=0.1
    )
    await jobs.heartbeat(elsewhere)
    await jobs.heartbeat("this-host-live:1:x")
    assert await worker.reclaim_from_dead_processes() == 0  # both alive: leases hold
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE worker_heartbeats SET seen_at = ? WHERE owner = ?",
            (time.time() - SILENT_SECONDS - 1, elsewhere),
        )
    assert await worker.reclaim_from_dead_processes() == 1
    again = await jobs.claim(owner=worker.owner, limit=5, lease_seconds=LONG)
    assert [j.id for j in again] == [taken[0].id] and again[0].attempts == 2


async def test_a_running_worker_beats_and_forgets_itself_when_it_stops(db: Database) -> None:
    jobs = JobRepository(db)
    worker = JobWorker(
        jobs, [], concurrency=1, lease_seconds=LONG, max_attempts=3, retry_base_seconds=0.1
    )
    worker.run()
    try:
        for _ in range(200):
            rows = await db.fetchall("SELECT owner FROM worker_heartbeats")
            if rows:
                break
            await asyncio.sleep(0.01)
        assert [r["owner"] for r in rows] == [worker.owner]
    finally:
        await worker.stop()
    assert await db.fetchall("SELECT owner FROM worker_heartbeats") == []
