"""Signed Slack requests already taken (HTTP mode), shared by every replica.

A request is claimed before it is handled, by one ``INSERT ... ON CONFLICT DO NOTHING``: of
identical requests arriving at once, on one replica or several, exactly one gets the claim.
A claim lasts until the request is too old to be accepted anyway; one whose handling failed is
released, so the same request may be tried again.
"""

from __future__ import annotations

from persistence.db import Database

PURGE_EVERY_SECONDS = 60.0


class ReplayRepository:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._purged_at = 0.0

    async def claim(self, signature: str, *, now: float, until: float) -> bool:
        """True for exactly one caller per signature while its claim lasts."""
        # Not serial: one atomic statement (and a purge of rows no one can claim any more).
        async with self.db.transaction(urgent=True, serial=False) as tx:
            if now - self._purged_at >= PURGE_EVERY_SECONDS:
                self._purged_at = now
                await tx.execute("DELETE FROM slack_requests WHERE expires_at <= ?", (now,))
            cur = await tx.execute(
                "INSERT INTO slack_requests(signature, expires_at) VALUES (?, ?)"
                " ON CONFLICT(signature) DO UPDATE SET expires_at = excluded.expires_at"
                " WHERE slack_requests.expires_at <= ?",
                (signature, until, now),
            )
            return cur.rowcount == 1

    async def release(self, signature: str) -> None:
        """Forget a claim whose request was not handled, so it may be sent again."""
        async with self.db.transaction(urgent=True, serial=False) as tx:
            await tx.execute("DELETE FROM slack_requests WHERE signature = ?", (signature,))
