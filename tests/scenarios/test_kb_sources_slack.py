"""Knowledge sources from Slack: ``/support kb sources`` lists them and their freshness,
``/support kb sources sync NAME`` runs a sync as a job of the real bot, and App Home shows
admins each source's freshness."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

from bot.sandbox.standin import SlackStandIn
from persistence.sources import KbSource, SourceRepository
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.scenarios.test_app_home import home_text, open_home
from tests.utils.harness import ADMIN, KB_DIR, OUTSIDER, REVIEWER, RunningBot


async def command(bot: RunningBot, text: str, user: str) -> str:
    status, body = await bot.send.slash_command(user, text)
    assert status == 200
    return str(json.loads(body)["text"])


async def synced(bot: RunningBot, name: str, timeout: float = 20.0) -> KbSource:
    repo = SourceRepository(bot.db)
    for _ in range(int(timeout / 0.05)):
        source = await repo.named(name)
        if source is not None and source.last_result is not None and source.sync_owner is None:
            return source
        await asyncio.sleep(0.05)
    raise AssertionError(f"source {name} did not finish a sync")


async def test_admins_list_and_sync_sources_from_slack_and_see_them_in_app_home(
    make_bot: BotFactory, llm: FakeOpenAI, slack: SlackStandIn, tmp_path: Path
) -> None:
    bot = await make_bot(support_admins=[ADMIN], reviewers=[REVIEWER])
    folder = tmp_path / "docs"
    shutil.copytree(KB_DIR, folder)
    repo = SourceRepository(bot.db)
    await repo.add(name="docs", kind="files", settings={"paths": [str(folder)]}, every_seconds=None)

    listing = await command(bot, "kb sources", ADMIN)
    assert "*docs* (files:" in listing and "not synced yet" in listing
    assert "only when asked" in listing

    assert "Only the support team" in await command(bot, "kb sources", OUTSIDER)
    refused = await command(bot, "kb sources sync docs", REVIEWER)
    assert refused.startswith("Only support-bot admins can sync knowledge sources")
    assert "There is no source `nope`" in await command(bot, "kb sources sync nope", ADMIN)
    assert "Usage" in await command(bot, "kb sources refresh", ADMIN)

    reply = await command(bot, "kb sources sync docs", ADMIN)
    assert reply.startswith("Syncing *docs* now")
    source = await synced(bot, "docs")
    assert source.last_result is not None and source.last_result["added"] == 3

    listing = await command(bot, "kb sources", REVIEWER)
    assert "3 added, 0 changed, 0 removed, 0 unchanged, 0 failed" in listing
    assert "<!date^" in listing  # when, in the reader's own time zone
    # The synced articles answer questions.
    kb_reply = await command(bot, "kb search export a report as CSV", REVIEWER)
    assert "Exporting reports" in kb_reply

    await open_home(bot, ADMIN)
    await slack.wait_for(lambda s: ADMIN in s.home_views)
    assert "Knowledge sources" in home_text(slack.home_views[ADMIN])
    assert "3 added" in home_text(slack.home_views[ADMIN])
    await open_home(bot, REVIEWER)
    await slack.wait_for(lambda s: REVIEWER in s.home_views)
    assert "Knowledge sources" not in home_text(slack.home_views[REVIEWER])


async def test_the_running_bot_syncs_a_due_source_on_its_schedule(
    make_bot: BotFactory, llm: FakeOpenAI, tmp_path: Path
) -> None:
    bot = await make_bot(support_admins=[ADMIN])
    folder = tmp_path / "docs"
    shutil.copytree(KB_DIR, folder)
    await SourceRepository(bot.db).add(
        name="docs", kind="files", settings={"paths": [str(folder)]}, every_seconds=3600.0
    )
    assert bot.runtime is not None and bot.runtime._scheduler is not None
    job = bot.runtime._scheduler.get_job("kb-sources")
    assert job is not None and job.trigger.interval.total_seconds() == 60
    assert await job.func(*job.args) == 1  # what the scheduler runs each minute
    source = await synced(bot, "docs")
    assert source.last_result is not None and source.last_result["added"] == 3
    assert await job.func(*job.args) == 0  # synced: not due again for an hour
