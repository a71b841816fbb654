"""LLM_CONCURRENCY as slots: never more calls at once than slots, and with the model saturated a
ticket's later steps (drafts) go before new tickets' classifications."""

from __future__ import annotations

import asyncio

from bot.llm.model import LlmSlots


async def test_no_more_holders_than_slots_and_every_waiter_gets_in() -> None:
    slots = LlmSlots(3)
    holding = peak = 0

    async def call(first: bool) -> None:
        nonlocal holding, peak
        async with slots.held(first=first):
            holding += 1
            peak = max(peak, holding)
            await asyncio.sleep(0.01)
            holding -= 1

    await asyncio.gather(*(call(i % 2 == 0) for i in range(20)))
    assert peak == 3
    assert slots.free == 3


async def test_waiting_drafts_are_let_in_before_waiting_classifications() -> None:
    slots = LlmSlots(1)
    order: list[str] = []
    gate = asyncio.Event()

    async def call(name: str, first: bool) -> None:
        async with slots.held(first=first):
            order.append(name)
            await gate.wait()

    holder = asyncio.create_task(call("holder", False))
    await asyncio.sleep(0)
    waiters = [
        asyncio.create_task(call("classify-1", False)),
        asyncio.create_task(call("classify-2", False)),
        asyncio.create_task(call("draft-1", True)),
    ]
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(holder, *waiters)
    assert order == ["holder", "draft-1", "classify-1", "classify-2"]


async def test_a_cancelled_waiter_gives_up_its_place_without_losing_a_slot() -> None:
    slots = LlmSlots(1)
    release = asyncio.Event()

    async def hold() -> None:
        async with slots.held(first=False):
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter.cancel()
    release.set()
    await holder
    assert waiter.cancelled() or waiter.done()
    assert slots.free == 1
