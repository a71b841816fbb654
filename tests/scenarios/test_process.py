"""`support-bot start` as a real process: start-up errors, and SIGKILL at the worst moments."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.sandbox.signed import SlackSender
from bot.sandbox.standin import SlackStandIn
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.harness import (
    CUSTOMER,
    CUSTOMER_TEAM,
    HOME_TEAM,
    KB_DIR,
    SIGNING_SECRET,
    SUPPORT,
    classification,
    draft,
    scripted_llm,
)
from tests.utils.process import SUPPORT_BOT, BotProcess, base_env, bot_env, free_port


def test_start_without_slack_settings_says_what_to_set_and_exits_non_zero(tmp_path: Path) -> None:
    result = subprocess.run(
        [SUPPORT_BOT, "start"],
        env=base_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    err = result.stderr
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SUPPORT_CHANNELS",
        "ESCALATION_CHANNEL",
    ):
        assert f"{name} is not set" in err
    assert "OAuth & Permissions" in err and "Traceback" not in err


def test_start_with_an_invalid_setting_names_it(tmp_path: Path) -> None:
    env = base_env(tmp_path) | {"SUPPORT_CHANNELS": "general", "AUTO_ANSWER_THRESHOLD": "2"}
    result = subprocess.run(
        [SUPPORT_BOT, "start"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "SUPPORT_CHANNELS" in result.stderr and "AUTO_ANSWER_THRESHOLD" in result.stderr
    assert "Traceback" not in result.stderr


class Scenario:
    def __init__(self, tmp_path: Path, slack: SlackStandIn, llm: FakeOpenAI) -> None:
        self.port = free_port()
        self.env = bot_env(tmp_path, slack, llm, self.port)
        self.bot = BotProcess(self.env, tmp_path)
        self.slack = slack
        self.sender = SlackSender(
            f"http://127.0.0.1:{self.port}/slack/events",
            SIGNING_SECRET,
            team_id=HOME_TEAM,
            mirror=slack,
        )

    async def start(self) -> None:
        await self.bot.start(self.port)


@pytest.fixture
async def scenario(tmp_path: Path, slack: SlackStandIn, llm: FakeOpenAI) -> AsyncIterator[Scenario]:
    s = Scenario(tmp_path, slack, llm)
    imported = subprocess.run(
        [SUPPORT_BOT, "kb", "import", str(KB_DIR)],
        env=s.env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert imported.returncode == 0, imported.stderr
    yield s
    if s.bot.proc is not None and s.bot.proc.poll() is None:
        s.bot.terminate()


async def test_separate_process_answers_and_stops_cleanly_on_sigterm(
    scenario: Scenario, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(scripted_llm(classification(), draft("Click Export, then CSV.", [2])))
    await scenario.start()
    status, _, _, ts = await scenario.sender.message_event(
        SUPPORT, CUSTOMER, "How do I export CSV?", team=CUSTOMER_TEAM, user_team=CUSTOMER_TEAM
    )
    assert status == 200
    await slack.wait_for_posts(1, channel=SUPPORT, thread_ts=ts, timeout=20)
    assert scenario.bot.terminate() == 0
    assert "xoxb-test" not in scenario.bot.output()
    assert "will be unused" not in scenario.bot.output()  # Bolt's notice about our own token


async def test_sigkill_between_event_and_reply_finishes_after_restart_once(
    scenario: Scenario, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(scripted_llm(classification(), draft("Click Export, then CSV.", [2])))
    llm.hang()
    await scenario.start()
    status, _, _, ts = await scenario.sender.message_event(
        SUPPORT, CUSTOMER, "How do I export CSV?", team=CUSTOMER_TEAM, user_team=CUSTOMER_TEAM
    )
    assert status == 200  # acknowledged: the question is committed
    await llm.wait_for_requests(1, timeout=20)
    scenario.bot.kill()
    llm.unhang()
    await scenario.start()
    await slack.wait_for_posts(1, channel=SUPPORT, thread_ts=ts, timeout=30)
    await _settle(slack)
    assert len(slack.posts(channel=SUPPORT, thread_ts=ts)) == 1


async def test_sigkill_after_slack_took_the_post_does_not_post_twice(
    scenario: Scenario, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(scripted_llm(classification(), draft("Click Export, then CSV.", [2])))
    await scenario.start()
    slack.hold("chat.postMessage")
    status, _, _, ts = await scenario.sender.message_event(
        SUPPORT, CUSTOMER, "How do I export CSV?", team=CUSTOMER_TEAM, user_team=CUSTOMER_TEAM
    )
    assert status == 200
    await slack.wait_for(lambda s: s.held_count("chat.postMessage") >= 1, timeout=20)
    scenario.bot.kill()
    slack.release("chat.postMessage")
    await scenario.start()
    await _settle(slack, seconds=2.0)
    assert len(slack.posts(channel=SUPPORT, thread_ts=ts)) == 1
    lookups = slack.calls_to("conversations.replies")
    assert lookups, "the restarted bot must look for the earlier delivery before posting"


async def _settle(slack: SlackStandIn, seconds: float = 1.5) -> None:
    """Give a wrongly duplicating bot the time to show it."""
    import asyncio

    await asyncio.sleep(seconds)
