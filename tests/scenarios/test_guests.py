"""Workspace guests are never reviewers, staff or admins (issue 21), through the real app: signed
requests to the running bot, the Slack stand-in serving ``users.info`` (guests marked with
``is_restricted`` / ``is_ultra_restricted``) and ``conversations.members``, and ``support-bot
doctor`` run as a process.

With no reviewers listed, the reviewers are the members of the escalation channel (not anyone
in the workspace); guests never are, whether listed, in that channel, or both."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.sandbox.standin import SlackStandIn
from bot.slack import ids
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.scenarios.test_app_home import escalations, home_buttons, home_text, open_home
from tests.scenarios.test_cli import run
from tests.utils.harness import (
    ESCALATION,
    HOME_TEAM,
    OUTSIDER,
    REVIEWER,
    SUPPORT,
    RunningBot,
    click,
    decision_buttons,
)
from tests.utils.process import bot_env, free_port

GUEST = "UGUEST"
MEMBER = "UMEMBER"
REFUSED = "guests never can"


def thread_replies(bot: RunningBot) -> list[dict[str, Any]]:
    """What the bot posted into customers' threads (a reply to the question)."""
    return [m for m in bot.slack.posts(channel=SUPPORT) if m.get("thread_ts")]


async def one_escalation(bot: RunningBot, llm: FakeOpenAI) -> int:
    """One question waiting for review; how many posts its thread has so far (the holding
    message), so a test can tell whether anything more was posted as the bot."""
    await escalations(bot, llm, 1)
    assert await bot.ticket_states() == ["awaiting_review"]
    assert decision_buttons(bot.cards()[-1])
    return len(thread_replies(bot))


@pytest.mark.parametrize("single_channel", [False, True])
async def test_a_guest_opening_app_home_sees_no_queue(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI, single_channel: bool
) -> None:
    # The guest is even in the escalation channel, and App Home's envelope names our team.
    slack.mark_guest(GUEST, single_channel=single_channel)
    slack.members[ESCALATION] = ["UBOT", MEMBER, GUEST]
    bot = await make_bot(support_reviewers=[])
    await one_escalation(bot, llm)
    await open_home(bot, GUEST)
    view = slack.home_views[GUEST]
    assert home_buttons(view) == []
    assert "Question number 0" not in home_text(view)
    # A member of the escalation channel sees the queue.
    await open_home(bot, MEMBER)
    assert "Question number 0" in home_text(slack.home_views[MEMBER])


async def test_app_home_takes_the_users_own_team_not_the_envelopes(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    # A Slack Connect member of the (shared) escalation channel, from another organisation; the
    # event envelope carries our team id, users.info says who they are.
    slack.users["UCONNECT"] = {"team_id": "TPARTNER"}
    slack.members[ESCALATION] = ["UBOT", "UCONNECT"]
    bot = await make_bot(support_reviewers=[])
    await one_escalation(bot, llm)
    await open_home(bot, "UCONNECT")
    view = slack.home_views["UCONNECT"]
    assert home_buttons(view) == [] and "Question number 0" not in home_text(view)


@pytest.mark.parametrize("action", [ids.ACTION_APPROVE, ids.ACTION_EDIT, ids.ACTION_REJECT])
async def test_a_guest_pressing_a_card_button_is_refused_and_nothing_is_posted(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI, action: str
) -> None:
    slack.mark_guest(GUEST)
    slack.members[ESCALATION] = ["UBOT", GUEST]
    bot = await make_bot(support_reviewers=[])
    before = await one_escalation(bot, llm)
    status, _ = await click(bot, action, user=GUEST, team=HOME_TEAM)
    assert status == 200
    await bot.drained()
    assert REFUSED in slack.ephemerals[-1]["text"]
    assert slack.ephemerals[-1]["user"] == GUEST
    assert slack.calls_to("views.open") == []
    assert len(thread_replies(bot)) == before
    assert await bot.ticket_states() == ["awaiting_review"]
    assert decision_buttons(bot.cards()[-1])


@pytest.mark.parametrize("single_channel", [False, True])
async def test_a_guest_listed_as_reviewer_and_admin_is_still_refused(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI, single_channel: bool
) -> None:
    slack.mark_guest(GUEST, single_channel=single_channel)
    bot = await make_bot(support_reviewers=[REVIEWER, GUEST], support_admins=[GUEST])
    before = await one_escalation(bot, llm)
    for action in (ids.ACTION_APPROVE, ids.ACTION_EDIT):
        await click(bot, action, user=GUEST, team=HOME_TEAM)
        await bot.drained()
        assert REFUSED in slack.ephemerals[-1]["text"]
    assert slack.calls_to("views.open") == []
    assert len(thread_replies(bot)) == before
    await open_home(bot, GUEST)
    assert home_buttons(slack.home_views[GUEST]) == []
    # Not an admin either: the configuration commands are refused.
    status, body = await bot.send.slash_command(GUEST, "pause")
    assert status == 200 and "admin" in body.lower()
    changes = await bot.db.fetchone("SELECT COUNT(*) AS n FROM config_audit")
    assert changes is not None and changes["n"] == 0
    # The listed reviewer who is not a guest still can.
    await click(bot, ids.ACTION_APPROVE, user=REVIEWER, team=HOME_TEAM)
    await bot.drained()
    assert len(thread_replies(bot)) == before + 1
    assert await bot.ticket_states() == ["replied"]


async def test_a_member_of_the_escalation_channel_reviews_and_other_colleagues_do_not(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    slack.members[ESCALATION] = ["UBOT", MEMBER]
    bot = await make_bot(support_reviewers=[])
    before = await one_escalation(bot, llm)
    # A colleague of our workspace outside the escalation channel: not a reviewer.
    await click(bot, ids.ACTION_APPROVE, user=OUTSIDER, team=HOME_TEAM)
    await bot.drained()
    assert "Only members of" in slack.ephemerals[-1]["text"]
    assert len(thread_replies(bot)) == before
    await click(bot, ids.ACTION_APPROVE, user=MEMBER, team=HOME_TEAM)
    await bot.drained()
    assert len(thread_replies(bot)) == before + 1
    assert await bot.ticket_states() == ["replied"]


async def test_users_info_failing_fails_closed_with_a_warning(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await make_bot()
    before = await one_escalation(bot, llm)
    slack.error_next("users.info", "fatal_error", times=50)
    with caplog.at_level(logging.WARNING, logger="bot.slack.people"):
        status, _ = await click(bot, ids.ACTION_APPROVE, user=REVIEWER, team=HOME_TEAM)
        await bot.drained()
    assert status == 200
    assert "Only support reviewers" in slack.ephemerals[-1]["text"]
    assert "Traceback" not in slack.ephemerals[-1]["text"]
    assert len(thread_replies(bot)) == before
    assert "users.info for UREVIEWER failed" in caplog.text


async def test_a_guests_message_in_a_support_channel_is_a_customer_question(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    # Listed by mistake, and a member of our workspace (guests are): still a customer.
    slack.mark_guest(GUEST)
    bot = await make_bot(support_reviewers=[REVIEWER, GUEST])
    await bot.ask("The export crashes every time", user=GUEST, team=HOME_TEAM)
    await bot.drained()
    assert len(await bot.ticket_states()) == 1
    assert await bot.ignored_reasons() == []


async def test_doctor_warns_about_each_listed_guest(
    tmp_path: Any, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    slack.mark_guest(GUEST)
    slack.mark_guest("UGUEST2", single_channel=True)
    env = bot_env(tmp_path, slack, llm, free_port()) | {
        "SUPPORT_BOT_MODEL": llm.model,
        "SUPPORT_REVIEWERS": f"{REVIEWER},{GUEST}",
        "SUPPORT_ADMINS": "UGUEST2",
    }
    await run(env, tmp_path, "migrate")
    code, out, _ = await run(env, tmp_path, "doctor")
    assert code == 1, out
    assert f"[FAIL] guest {GUEST}:" in out and "SUPPORT_REVIEWERS" in out
    assert "[FAIL] guest UGUEST2:" in out and "SUPPORT_ADMINS" in out
    assert f"guest {REVIEWER}" not in out
