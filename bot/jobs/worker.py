"""The job worker: claims leased jobs, runs them concurrently, retries with backoff.

Leases make a crash harmless: a job held by a dead process is claimed again when its lease runs
out, or at once when the dead process is recognisably ours (same host, pid gone).

The worker also takes jobs as this process enqueues them (``persistence.jobs.Dispatch``): one
enqueued to run now is leased to it in the enqueueing transaction and started when that commits,
so a question's chain of jobs needs no claim transactions. Claims remain for what others made
ready (other processes, timers, retries, a backlog beyond ``concurrency``). Finished jobs are
marked done together, by the next claim or ``DONE_LINGER_SECONDS`` after the first of them
(then without an fsync: a completion lost to a power cut only runs the job again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass

from bot.jobs.kinds import JobKind, PermanentFailure, RetryLater
from bot.settings.logs import current_ticket
from persistence.db import DatabaseUnavailableError, Tx
from persistence.jobs import JobRepository
from persistence.records import Job

log = logging.getLogger(__name__)

# How often the worker claims when nothing signals it (timers, other processes' jobs).
POLL_SECONDS = 1.0
# How often a worker says it is alive, and how long a silent one is taken for dead: its jobs
# are then claimable by any replica, on any host, before their leases run out.
HEARTBEAT_SECONDS = 5.0
SILENT_SECONDS = 30.0
# How long finished jobs may wait to be marked done with others. A crash in between runs them
# again, as a crash between a job's work and its own completion always could.
DONE_LINGER_SECONDS = 0.05


@dataclass
class _Running:
    job_id: int
    owner: str
    done: bool = False  # recorded done by the handler's own last transaction

    def recorded(self) -> None:
        self.done = True


# The job the current task runs for a worker (each job runs in a task of its own).
_running: ContextVar[_Running | None] = ContextVar("running_job", default=None)


async def complete_running_job(jobs: JobRepository, tx: Tx, result: object = None) -> None:
    """Record the job this task runs as done in ``tx``, the handler's last transaction, instead
    of in a transaction of the worker's own afterwards: one commit fewer per job, and the jobs
    table's pages written once. Outside a worker's job (a test, a command) it does nothing."""
    running = _running.get()
    if running is None or running.done:
        return
    await jobs.complete(tx, job_id=running.job_id, owner=running.owner, result=result)
    tx.after_commit(running.recorded)


def new_owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_gone(owner: str, me: str) -> bool:
    """Whether ``owner`` (``HOST:PID:...``, as ``new_owner_id`` makes) was a process of this
    machine that has ended; never ``me``, never another machine's."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if owner == me or host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # an earlier incarnation of this very process id (e.g. pid 1 in a container)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class JobWorker:
    def __init__(
        self,
        jobs: JobRepository,
        kinds: Iterable[JobKind],
        *,
        concurrency: int,
        lease_seconds: float,
        max_attempts: int,
        retry_base_seconds: float,
        timings: Callable[[str, float], None] | None = None,
        on_retry: Callable[[Job, str, float], Awaitable[None]] | None = None,
    ) -> None:
        self.jobs = jobs
        self.timings = timings
        self.on_retry = on_retry
        self.kinds: dict[str, JobKind] = {}
        for kind in kinds:
            if kind.name in self.kinds:
                raise ValueError(f"job kind {kind.name!r} is declared twice")
            self.kinds[kind.name] = kind
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.retry_base_seconds = retry_base_seconds
        self.owner = new_owner_id()
        # Set when something may have changed: claim now, or recompute how long to wait.
        self._changed = asyncio.Event()
        self._claim_now = False
        # The last claim may have left ready jobs behind (no capacity): claim when a job ends.
        self._backlog = False
        self._inflight: dict[int, asyncio.Task[None]] = {}
        # Finished jobs, marked done together: one commit (and fsync) for a batch.
        self._done: list[tuple[int, object]] = []
        self._done_since: float | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False

    def wake(self) -> None:
        """Claim now: jobs may be ready."""
        self._claim_now = True
        self._changed.set()

    # -- persistence.jobs.Dispatch ------------------------------------------------------------

    def offer(self) -> tuple[str, float] | None:
        # Several enqueues in one transaction may each be offered the last free slot: the
        # overshoot is that handful, and claims wait until the worker is below capacity again.
        if self._stopping or self._loop_task is None or len(self._inflight) >= self.concurrency:
            return None
        return self.owner, self.lease_seconds

    def start(self, job: Job) -> None:
        # Once stopping, a job leased here is handed back by ``stop`` (or, committed after it,
        # reclaimed from this process at the next start).
        if not self._stopping:
            self._launch(job)

    def ready(self) -> None:
        self.wake()

    async def reclaim_from_dead_processes(self) -> int:
        """Make the jobs of workers known to be gone claimable now: a process of this host
        that no longer runs, or a worker anywhere whose heartbeat fell silent."""
        owners = [o for o in await self.jobs.running_owners() if o != self.owner]
        gone = {o for o in owners if owner_is_gone(o, self.owner)}
        gone.update(await self.jobs.silent_owners(owners, since=time.time() - SILENT_SECONDS))
        count = await self.jobs.expire_leases_of(sorted(gone))
        if count:
            log.info("reclaimed %d job(s) left running by a stopped process", count)
        return count

    def run(self) -> None:
        """Start claiming, and take jobs from ``jobs`` as they are enqueued."""
        self.jobs.dispatch = self
        self._loop_task = asyncio.create_task(self._run(), name="job-worker")

    async def stop(self, *, grace_seconds: float = 5.0) -> None:
        self._stopping = True
        if self.jobs.dispatch is self:
            self.jobs.dispatch = None
        self.wake()
        if self._loop_task is not None:
            await self._loop_task
        if self._inflight:
            _, pending = await asyncio.wait(list(self._inflight.values()), timeout=grace_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        try:
            await self._flush_done()
            released = await self.jobs.release(owner=self.owner)
            await self.jobs.forget_worker(self.owner, older_than=time.time() - 86400)
        except DatabaseUnavailableError as exc:
            # Stopping anyway: what this process held runs again, at its next start (same
            # host) or once its heartbeat has been silent long enough (any replica).
            log.warning("could not hand back this process's jobs while stopping: %s", exc)
            return
        if released:
            log.info("released %d unfinished job(s) for the next start", released)

    @property
    def busy(self) -> int:
        return len(self._inflight)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        renew_every = max(1.0, self.lease_seconds / 3)
        last_renewal = loop.time()
        last_beat = -HEARTBEAT_SECONDS  # at once
        claiming = True
        while not self._stopping:
            self._claim_now = False
            limit = self.concurrency - len(self._inflight)
            done, self._done, self._done_since = self._done, [], None
            try:
                if claiming:
                    claimed = await self.jobs.claim(
                        owner=self.owner, limit=limit, lease_seconds=self.lease_seconds, done=done
                    )
                else:  # only finished jobs to record
                    await self.jobs.mark_done(owner=self.owner, done=done)
                    claimed = []
                if loop.time() - last_renewal > renew_every:
                    await self.jobs.extend_leases(
                        owner=self.owner,
                        job_ids=list(self._inflight),
                        lease_seconds=self.lease_seconds,
                    )
                    last_renewal = loop.time()
                if loop.time() - last_beat >= HEARTBEAT_SECONDS:
                    await self.jobs.heartbeat(self.owner)
                    last_beat = loop.time()
            except Exception:
                log.exception("could not claim jobs; trying again shortly")
                self._done = done + self._done
                self._done_since = self._done_since or loop.time()
                claimed = []
                await asyncio.sleep(1.0)
            if claiming:
                self._backlog = limit <= 0 or len(claimed) >= limit
            for job in claimed:
                self._launch(job)
            if claimed and len(self._inflight) < self.concurrency:
                continue
            claiming = await self._idle()

    async def _idle(self) -> bool:
        """Wait until there is something to do. True: claim (jobs were made ready, or the poll
        interval passed); False: only record the finished jobs that have lingered long enough."""
        loop = asyncio.get_running_loop()
        poll_at = loop.time() + POLL_SECONDS
        while not self._claim_now and not self._stopping:
            due = poll_at
            if self._done_since is not None:
                due = min(due, self._done_since + DONE_LINGER_SECONDS)
            timeout = due - loop.time()
            if timeout <= 0:
                return due == poll_at
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=timeout)
        return True

    def _launch(self, job: Job) -> None:
        task = asyncio.create_task(self._execute(job), name=f"job-{job.id}")
        self._inflight[job.id] = task
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        for job_id, running in list(self._inflight.items()):
            if running is task:
                del self._inflight[job_id]
        if self._backlog:
            self.wake()
        elif self._done and self._done_since is None:
            self._done_since = asyncio.get_running_loop().time()
            self._changed.set()

    async def _execute(self, job: Job) -> None:
        ticket = job.payload.get("ticket_id")
        current_ticket.set(int(ticket) if isinstance(ticket, int) else None)
        started = time.monotonic()
        try:
            await self._run_handler(job)
        finally:
            if self.timings is not None:
                self.timings(job.kind, time.monotonic() - started)

    async def _run_handler(self, job: Job) -> None:
        kind = self.kinds.get(job.kind)
        running = _Running(job.id, self.owner)
        _running.set(running)
        try:
            try:
                if kind is None:
                    raise PermanentFailure(f"no handler for job kind {job.kind!r}")
                result = await kind.run(job)
            except Exception:
                if not running.done:
                    raise
                # Its work is committed and it is recorded done: nothing to run again.
                log.exception("job %s (%s) failed after it was done", job.id, job.dedupe_key)
                return
        except asyncio.CancelledError:
            raise
        except RetryLater as exc:
            await self._retry(job, str(exc), exc.delay)
        except PermanentFailure as exc:
            await self._bury(job, str(exc))
        except Exception as exc:
            log.exception("job %s (%s) failed", job.id, job.dedupe_key)
            await self._retry(job, f"{type(exc).__name__}: {exc}", None)
        else:
            if not running.done:
                self._done.append((job.id, result))

    async def _flush_done(self) -> None:
        done, self._done, self._done_since = self._done, [], None
        await self.jobs.mark_done(owner=self.owner, done=done)

    async def _retry(self, job: Job, error: str, delay: float | None) -> None:
        if job.attempts >= self.max_attempts:
            await self._bury(job, f"gave up after {job.attempts} attempts: {error}")
            return
        if delay is None:
            delay = min(300.0, self.retry_base_seconds * 2 ** (job.attempts - 1))
            delay *= random.uniform(0.8, 1.2)  # jitter, so retries of a burst spread out
        log.warning("job %s (%s) will retry in %.1fs: %s", job.id, job.dedupe_key, delay, error)
        await self.jobs.retry_later(job_id=job.id, owner=self.owner, error=error, delay=delay)
        if self.on_retry is not None:
            try:
                await self.on_retry(job, error, delay)
            except Exception:
                log.exception("could not record the retry of job %s", job.id)

    async def _bury(self, job: Job, error: str) -> None:
        log.error("job %s (%s) failed for good: %s", job.id, job.dedupe_key, error)
        # The failure handler runs first, so whoever sees the job dead also sees its effects
        # (an escalation, a trail entry); a failing handler still lets the job be buried.
        kind = self.kinds.get(job.kind)
        if kind is not None and kind.failed is not None:
            try:
                await kind.failed(job, error)
            except Exception:
                log.exception("could not handle the failure of job %s", job.id)
        await self.jobs.bury(job_id=job.id, owner=self.owner, error=error)
