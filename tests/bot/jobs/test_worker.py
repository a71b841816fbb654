"""The worker takes jobs as they are enqueued: leased in the enqueueing transaction, started
when it commits, no claim transaction in between; finished jobs are marked done together."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.jobs.kinds import JobKind
from bot.jobs.worker import DONE_LINGER_SECONDS, JobWorker, complete_running_job
from persistence.jobs import JobRepository
from persistence.records import Job
from persistence.sqlite import SqliteDatabase

# The SQLite backend itself (PostgreSQL's: tests/persistence/test_postgres.py).
pytestmark = pytest.mark.sqlite_only


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    database = SqliteDatabase(str(tmp_path / "bot.db"))
    await database.open()
    yield database
    await database.close()


class Trace:
    """The writer connection's statements, by kind (the real SQL SQLite ran)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self.statements: list[str] = []
        assert db._writer is not None
        db._writer.conn.set_trace_callback(self.statements.append)

    def count(self, pattern: str) -> int:
        return sum(1 for s in self.statements if re.search(pattern, s))


async def enqueue(jobs: JobRepository, key: str, *, delay: float = 0.0) -> None:
    async with jobs.db.transaction() as tx:
        await jobs.enqueue(tx, kind="step", dedupe_key=key, payload={"key": key}, delay=delay)


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


JobHandler = Callable[[Job], Awaitable[object]]


@contextlib.asynccontextmanager
async def running(
    jobs: JobRepository, handler: JobHandler, concurrency: int = 4
) -> AsyncIterator[JobWorker]:
    worker = JobWorker(
        jobs,
        [JobKind("step", handler)],
        concurrency=concurrency,
        lease_seconds=30.0,
        max_attempts=3,
        retry_base_seconds=0.05,
    )
    worker.run()
    try:
        yield worker
    finally:
        await worker.stop()


def recorder(ran: list[str]) -> JobHandler:
    async def step(job: Job) -> None:
        ran.append(job.payload["key"])

    return step


async def test_a_chain_of_jobs_runs_without_claim_transactions(db: SqliteDatabase) -> None:
    jobs = JobRepository(db)
    ran: list[str] = []

    async def step(job: Job) -> None:
        key = job.payload["key"]
        ran.append(key)
        if len(key) < 4:  # each job enqueues the next: a, aa, aaa, aaaa
            await enqueue(jobs, key + "a")

    async with running(jobs, step) as worker:
        await asyncio.sleep(0)  # the first (empty) claim
        trace = Trace(db)
        await enqueue(jobs, "a")
        # Leased in the enqueueing transaction: running and ours the moment it committed.
        first = await jobs.get_by_key("a")
        assert first is not None and first.state == "running"
        assert first.lease_owner == worker.owner and first.attempts == 1
        await wait_until(lambda: _all_done(jobs, 4))
        assert ran == ["a", "aa", "aaa", "aaaa"]
        # No claim picked any of them up (a claim counts an attempt)...
        for key in ("a", "aa", "aaa", "aaaa"):
            job = await jobs.get_by_key(key)
            assert job is not None and job.attempts == 1
        # ...and they were marked done together: four enqueues and a flush or two, where a
        # claim per job and a completion each used to make twelve transactions.
        assert trace.count(r"^BEGIN") <= 6


async def _all_done(jobs: JobRepository, n: int) -> bool:
    return (await jobs.counts()).get("done", 0) == n


async def test_a_rolled_back_enqueue_starts_nothing(db: SqliteDatabase) -> None:
    jobs = JobRepository(db)
    ran: list[str] = []
    async with running(jobs, recorder(ran)) as worker:
        with pytest.raises(RuntimeError):
            async with db.transaction() as tx:
                await jobs.enqueue(tx, kind="step", dedupe_key="gone", payload={"key": "gone"})
                raise RuntimeError("a later step failed")
        await enqueue(jobs, "kept")
        await wait_until(lambda: _all_done(jobs, 1))
        assert ran == ["kept"] and await jobs.get_by_key("gone") is None
        assert worker.busy == 0


async def test_beyond_capacity_jobs_wait_and_are_claimed_as_slots_free(db: SqliteDatabase) -> None:
    jobs = JobRepository(db)
    gate = asyncio.Event()
    active = 0
    most = 0

    async def step(job: Job) -> None:
        nonlocal active, most
        active += 1
        most = max(most, active)
        await gate.wait()
        active -= 1

    async with running(jobs, step, concurrency=2):
        for i in range(5):
            await enqueue(jobs, f"k{i}")
        await asyncio.sleep(0.1)
        counts = await jobs.counts()
        assert counts == {"running": 2, "pending": 3}  # two taken, three left to claims
        gate.set()
        await wait_until(lambda: _all_done(jobs, 5))
        assert most == 2


async def test_a_delayed_job_is_not_handed_over(db: SqliteDatabase) -> None:
    jobs = JobRepository(db)
    ran: list[str] = []
    async with running(jobs, recorder(ran)):
        await enqueue(jobs, "later", delay=0.3)
        job = await jobs.get_by_key("later")
        assert job is not None and job.state == "pending"
        await asyncio.sleep(0.1)
        assert ran == []
        await wait_until(lambda: _all_done(jobs, 1))  # claimed by the poll once due
        assert ran == ["later"]


async def test_finished_jobs_are_marked_done_soon_without_other_activity(
    db: SqliteDatabase,
) -> None:
    jobs = JobRepository(db)
    async with running(jobs, recorder([])):
        await enqueue(jobs, "only")
        started = asyncio.get_running_loop().time()
        await wait_until(lambda: _all_done(jobs, 1), timeout=2.0)
        # Well before the one-second poll: the linger, not the poll, marked it.
        assert asyncio.get_running_loop().time() - started < DONE_LINGER_SECONDS + 0.5


async def test_a_stopped_worker_takes_no_more_jobs(db: SqliteDatabase) -> None:
    jobs = JobRepository(db)
    async with running(jobs, recorder([])):
        pass
    assert jobs.dispatch is None
    await enqueue(jobs, "after")
    job = await jobs.get_by_key("after")
    assert job is not None and job.state == "pending"  # left for the next start to claim


async def test_a_job_recorded_done_in_its_own_transaction_needs_no_flush(
    db: SqliteDatabase,
) -> None:
    jobs = JobRepository(db)

    async def step(job: Job) -> str:
        async with db.transaction() as tx:
            await tx.execute("CREATE TABLE IF NOT EXISTS work(key TEXT)")
            await tx.execute("INSERT INTO work(key) VALUES (?)", (job.payload["key"],))
            await complete_running_job(jobs, tx, {"wrote": job.payload["key"]})
        return "ignored: already recorded"

    async with running(jobs, step) as worker:
        await asyncio.sleep(0)  # the first (empty) claim
        trace = Trace(db)
        await enqueue(jobs, "own")
        await wait_until(lambda: _all_done(jobs, 1))
        await asyncio.sleep(DONE_LINGER_SECONDS * 3)
        # Recorded done once, inside the handler's transaction (between its write and its
        # commit), with no completion transaction after it.
        statements = trace.statements
        done = [i for i, sql in enumerate(statements) if "UPDATE jobs SET state = 'done'" in sql]
        work = next(i for i, sql in enumerate(statements) if "INSERT INTO work(" in sql)
        commit = next(i for i, sql in enumerate(statements) if i > work and sql == "COMMIT")
        assert len(done) == 1 and work < done[0] < commit
        assert worker.busy == 0
    row = await db.fetchone("SELECT result FROM jobs WHERE dedupe_key = 'own'")
    assert row is not None and json.loads(row["result"]) == {"wrote": "own"}


async def test_a_job_that_fails_after_recording_itself_done_is_not_run_again(
    db: SqliteDatabase,
) -> None:
    jobs = JobRepository(db)
    runs: list[str] = []

    async def step(job: Job) -> None:
        runs.append(job.payload["key"])
        async with db.transaction() as tx:
            await complete_running_job(jobs, tx)
        raise RuntimeError("after its work was committed")

    async with running(jobs, step):
        await enqueue(jobs, "once")
        await wait_until(lambda: _all_done(jobs, 1))
        await asyncio.sleep(0.3)  # a retry would come after 0.05 s
    job = await jobs.get_by_key("once")
    assert job is not None and job.state == "done" and job.attempts == 1
    assert runs == ["once"]


async def test_a_rolled_back_completion_leaves_the_job_to_retry(db: SqliteDatabase) -> None:
    jobs = JobRepository(db)
    runs: list[str] = []

    async def step(job: Job) -> None:
        runs.append(job.payload["key"])
        if len(runs) == 1:
            async with db.transaction() as tx:
                await complete_running_job(jobs, tx)
                raise RuntimeError("the transaction failed before its commit")

    async with running(jobs, step):
        await enqueue(jobs, "again")
        await wait_until(lambda: _all_done(jobs, 1))
    job = await jobs.get_by_key("again")
    assert job is not None and job.state == "done" and job.attempts == 2
    assert runs == ["again", "again"]


async def test_completing_outside_a_workers_job_does_nothing(db: SqliteDatabase) -> None:
    jobs = JobRepository(db)
    await enqueue(jobs, "idle")
    async with db.transaction() as tx:
        await complete_running_job(jobs, tx)
    job = await jobs.get_by_key("idle")
    assert job is not None and job.state == "pending"
