"""The fault run, short: the real bot process SIGKILLed and restarted under random faults.

Runs the same code as ``python -m bench.faults`` (see bench/faults.py) on ~40 messages and 4
kills, and asserts what the benchmark asserts: nothing duplicated, nothing lost.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from bench.faults import REFUSING, FaultRunConfig, ScriptedModel, run_fault_run
from bot.sandbox.standin import SlackStandIn
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.harness import CUSTOMER, CUSTOMER_TEAM, SUPPORT

# A fixed seed keeps the fault mix comparable between runs; FAULTS_SEED tries another one.
SEED = int(os.environ.get("FAULTS_SEED", "7"))


async def test_short_fault_run_duplicates_nothing_and_loses_nothing(tmp_path: Path) -> None:
    cfg = FaultRunConfig.quick(seed=SEED, workdir=tmp_path, progress=False)
    report = await run_fault_run(
        cfg, command=f"tests/scenarios/test_faults.py (FAULTS_SEED={SEED})"
    )
    summary = report.describe()
    assert report.kills >= cfg.kills, summary
    assert report.messages == cfg.messages, summary
    slack_faults = sum(n for k, n in report.injected_faults.items() if k.startswith("slack_"))
    llm_faults = sum(n for k, n in report.injected_faults.items() if k.startswith("llm_"))
    assert slack_faults > 0 and llm_faults > 0, summary
    assert report.cards_reviewed > 0 and report.clicks > 0, summary
    assert report.duplicates == 0, summary
    assert report.lost == 0, summary
    assert report.start_failures == 0, summary


async def test_a_channel_that_starts_refusing_posts_loses_nothing(tmp_path: Path) -> None:
    """Part-way through, Slack answers ``not_in_channel`` to every post in the second support
    channel: each reply the bot could not deliver is surfaced (trail, card or notice)."""
    cfg = FaultRunConfig.quick(
        seed=SEED,
        workdir=tmp_path,
        progress=False,
        messages=16,
        kills=1,
        message_gap=0.1,
        refusing_channel=True,
        refuse_after_share=0.25,
        drain_timeout=60.0,
        settle_seconds=1.0,
    )
    report = await run_fault_run(
        cfg, command=f"tests/scenarios/test_faults.py refusing (SEED={SEED})"
    )
    summary = report.describe()
    assert report.refusing_channel == REFUSING and report.refusing_from_message == 4, summary
    assert report.refused_deliveries > 0, summary
    assert report.lost == 0, summary
    assert report.duplicates == 0, summary
    # Every refused reply is surfaced; anything else surfaced is a review card the outbox gave
    # up posting (it could not tell whether an interrupted attempt had posted it).
    assert report.refused_surfaced == report.refused_deliveries, summary
    others = report.surfaced_not_delivered - report.refused_surfaced
    assert others == report.surfaced_by_purpose.get("card", 0), summary


async def test_a_follow_up_delivered_before_its_question_joins_the_ticket(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(ScriptedModel())
    bot = await make_bot()
    root_ts = bot.send.new_ts()
    follow_up_ts = bot.send.new_ts()
    # The question's delivery failed (the bot was down): Slack retries it later. Meanwhile the
    # customer's follow-up in the thread is delivered to the restarted bot.
    status, _, _, _ = await bot.send.message_event(
        SUPPORT,
        CUSTOMER,
        "It is the Q3 revenue report, if that helps",
        ts=follow_up_ts,
        thread_ts=root_ts,
        team=CUSTOMER_TEAM,
        user_team=CUSTOMER_TEAM,
    )
    assert status == 200
    # Wait until the bot has handled (or tried to handle) the follow-up once.
    key = f"message:{SUPPORT}:{follow_up_ts}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job = await bot.db.fetchone("SELECT state, attempts FROM jobs WHERE dedupe_key = ?", (key,))
        if job is not None and job["state"] != "running" and job["attempts"] > 0:
            break
        await asyncio.sleep(0.05)
    status, _, _, _ = await bot.send.message_event(
        SUPPORT,
        CUSTOMER,
        "The CSV export crashes every time for our big report!",
        ts=root_ts,
        retry_num=1,
        team=CUSTOMER_TEAM,
        user_team=CUSTOMER_TEAM,
    )
    assert status == 200
    await bot.drained(timeout=60)
    rows = await bot.db.fetchall(
        "SELECT t.thread_ts, u.slack_ts FROM ticket_turns u JOIN tickets t ON t.id = u.ticket_id"
        " WHERE u.role = 'customer'"
    )
    assert {(r["thread_ts"], r["slack_ts"]) for r in rows} == {
        (root_ts, root_ts),
        (root_ts, follow_up_ts),
    }, await bot.ignored_reasons()
