"""A writer lock with an urgent lane, shared by both backends.

Acknowledging Slack waits for one small write; under a backlog the worker's transactions queue
for the same writer, and Slack gives up after 3 seconds. Urgent waiters are handed the lock
before any waiting ordinary one."""

from __future__ import annotations

import asyncio
import collections


class WriterLock:
    """An asyncio lock whose urgent waiters go before ordinary ones (FIFO within each lane)."""

    def __init__(self) -> None:
        self._held = False
        self._urgent: collections.deque[asyncio.Future[None]] = collections.deque()
        self._ordinary: collections.deque[asyncio.Future[None]] = collections.deque()

    async def acquire(self, *, urgent: bool = False) -> None:
        if not self._held and not self._urgent and not self._ordinary:
            self._held = True
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lane = self._urgent if urgent else self._ordinary
        lane.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed the lock as we were cancelled: pass it on
            else:
                lane.remove(waiter)
            raise

    def release(self) -> None:
        for lane in (self._urgent, self._ordinary):
            while lane:
                waiter = lane.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # the lock passes to it, still held
                    return
        self._held = False

    @property
    def waiting(self) -> int:
        return len(self._urgent) + len(self._ordinary)

    @property
    def held(self) -> bool:
        return self._held
