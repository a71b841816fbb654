"""Signed Slack requests already taken: one claim per signature, shared by every replica, until
it expires; a released claim (the request failed) can be taken again."""

from __future__ import annotations

import asyncio

from persistence.db import Database
from persistence.replays import ReplayRepository


async def test_one_claim_per_signature_across_replicas(db: Database) -> None:
    replicas = [ReplayRepository(db) for _ in range(3)]
    won = await asyncio.gather(
        *(r.claim("v0=abc", now=1000.0, until=1600.0) for r in replicas for _ in range(2))
    )
    assert sorted(won) == [False] * 5 + [True]
    assert await replicas[0].claim("v0=other", now=1000.0, until=1600.0)


async def test_a_released_or_expired_claim_can_be_taken_again(db: Database) -> None:
    replays = ReplayRepository(db)
    assert await replays.claim("v0=abc", now=1000.0, until=1600.0)
    await replays.release("v0=abc")
    assert await replays.claim("v0=abc", now=1001.0, until=1601.0)
    assert not await replays.claim("v0=abc", now=1599.0, until=2199.0)
    assert await replays.claim("v0=abc", now=1601.0, until=2201.0)
    # Expired rows are purged as claims go by.
    assert await replays.claim("v0=new", now=5000.0, until=5600.0)
    rows = await db.fetchall("SELECT signature FROM slack_requests ORDER BY signature")
    assert [r["signature"] for r in rows] == ["v0=new"]
