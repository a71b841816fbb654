"""Three bot processes on one PostgreSQL behave as one bot (issue 10).

The fault run of ``bench/faults.py`` with three replicas: customer messages and review clicks
go to random replicas (as Slack spreads events and clicks over the app's connections), Slack and
the LLM fail at random, and replicas are SIGKILLed and restarted mid-run. Afterwards every
question has exactly one outcome per round, nothing was posted twice, each reminder was posted
once, and the daily digest once, whichever replica's timer fired first.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.faults import FaultRunConfig, run_fault_run

pytestmark = pytest.mark.postgresql_only

SEED = int(os.environ.get("FAULTS_SEED", "11"))


@pytest.mark.timeout(300)
async def test_three_replicas_on_one_postgres_behave_as_one_bot(tmp_path: Path) -> None:
    cfg = FaultRunConfig(
        messages=240,
        kills=4,
        seed=SEED,
        message_gap=0.08,
        replicas=3,
        slow_review_share=0.2,
        slow_review_seconds=3.5,
        workdir=tmp_path,
        progress=False,
    )
    report = await run_fault_run(
        cfg, command=f"tests/scenarios/test_replicas.py (FAULTS_SEED={SEED})"
    )
    summary = report.describe()
    assert report.replicas == 3 and report.backend == "postgresql", summary
    assert report.messages == cfg.messages and report.kills >= cfg.kills, summary
    assert report.cards_reviewed > 20 and report.clicks > 40, summary
    assert report.duplicates == 0, summary
    assert report.lost == 0, summary
    assert report.start_failures == 0, summary
    # The timers fired (each once: a second post of one key counts as a duplicate above).
    assert report.slow_reviews > 0 and report.reminders > 0, summary
    assert report.digests == 1, summary
