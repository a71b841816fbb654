"""The job worker: claims leased jobs, runs them concurrently, retries with backoff.

Leases make a crash harmless: a job held by a dead process is claimed again when its lease runs
out, or at once when the dead process is recognisably ours (same host, pid gone).
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
from collections.abc import Awaitable, Callable

from bot.jobkinds import PermanentFailure, RetryLater
from bot.logs import current_ticket
from persistence.jobs import JobRepository
from persistence.records import Job

log = logging.getLogger(__name__)

JobHandler = Callable[[Job], Awaitable[object]]
DeadHandler = Callable[[Job, str], Awaitable[None]]


def new_owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_is_gone(owner: str, me: str) -> bool:
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
        handlers: dict[str, JobHandler],
        *,
        concurrency: int,
        lease_seconds: float,
        max_attempts: int,
        retry_base_seconds: float,
        on_dead: dict[str, DeadHandler] | None = None,
        timings: Callable[[str, float], None] | None = None,
        on_retry: Callable[[Job, str, float], Awaitable[None]] | None = None,
    ) -> None:
        self.jobs = jobs
        self.timings = timings
        self.on_retry = on_retry
        self.handlers = handlers
        self.on_dead = on_dead or {}
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.retry_base_seconds = retry_base_seconds
        self.owner = new_owner_id()
        self._wake = asyncio.Event()
        self._inflight: dict[int, asyncio.Task[None]] = {}
        # Finished jobs, marked done with the next claim: one commit (and fsync) for a whole
        # batch instead of one per job. A crash before that commit runs them again, exactly as
        # a crash between a job's work and its own completion always could.
        self._done: list[tuple[int, object]] = []
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    async def reclaim_from_dead_processes(self) -> int:
        owners = await self.jobs.running_owners()
        gone = [o for o in owners if _owner_is_gone(o, self.owner)]
        count = await self.jobs.expire_leases_of(gone)
        if count:
            log.info("reclaimed %d job(s) left running by a stopped process", count)
        return count

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run(), name="job-worker")

    async def stop(self, *, grace_seconds: float = 5.0) -> None:
        self._stopping = True
        self.wake()
        if self._loop_task is not None:
            await self._loop_task
        if self._inflight:
            _, pending = await asyncio.wait(list(self._inflight.values()), timeout=grace_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._flush_done()
        released = await self.jobs.release(owner=self.owner)
        if released:
            log.info("released %d unfinished job(s) for the next start", released)

    @property
    def busy(self) -> int:
        return len(self._inflight)

    async def _run(self) -> None:
        heartbeat_every = max(1.0, self.lease_seconds / 3)
        last_heartbeat = asyncio.get_running_loop().time()
        while not self._stopping:
            self._wake.clear()
            done, self._done = self._done, []
            try:
                claimed = await self.jobs.claim(
                    owner=self.owner,
                    limit=self.concurrency - len(self._inflight),
                    lease_seconds=self.lease_seconds,
                    done=done,
                )
                now = asyncio.get_running_loop().time()
                if now - last_heartbeat > heartbeat_every:
                    await self.jobs.extend_leases(
                        owner=self.owner,
                        job_ids=list(self._inflight),
                        lease_seconds=self.lease_seconds,
                    )
                    last_heartbeat = now
            except Exception:
                log.exception("could not claim jobs; trying again shortly")
                self._done = done + self._done
                claimed = []
                await asyncio.sleep(1.0)
            for job in claimed:
                task = asyncio.create_task(self._execute(job), name=f"job-{job.id}")
                self._inflight[job.id] = task
                task.add_done_callback(self._finished)
            if claimed and len(self._inflight) < self.concurrency:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)

    def _finished(self, task: asyncio.Task[None]) -> None:
        for job_id, running in list(self._inflight.items()):
            if running is task:
                del self._inflight[job_id]
        self.wake()

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
        handler = self.handlers.get(job.kind)
        try:
            if handler is None:
                raise PermanentFailure(f"no handler for job kind {job.kind!r}")
            result = await handler(job)
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
            self._done.append((job.id, result))

    async def _flush_done(self) -> None:
        done, self._done = self._done, []
        if done:
            await self.jobs.claim(owner=self.owner, limit=0, lease_seconds=0, done=done)

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
        on_dead = self.on_dead.get(job.kind)
        if on_dead is not None:
            try:
                await on_dead(job, error)
            except Exception:
                log.exception("could not handle the failure of job %s", job.id)
        await self.jobs.bury(job_id=job.id, owner=self.owner, error=error)
