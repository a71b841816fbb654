"""The App Home tab through the real app: ``app_home_opened`` in, ``views.publish`` out."""

from __future__ import annotations

import json
import re
from typing import Any

from bot.review.home import config_lines
from bot.sandbox.standin import SlackStandIn
from bot.settings.environment import load_settings
from bot.settings.live import defaults, overlay
from bot.slack import ids
from bot.slack.blocks.home import HOME_PAGE_SIZE
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.harness import (
    ADMIN,
    ESCALATION,
    HOME_TEAM,
    OUTSIDER,
    REVIEWER,
    SUPPORT,
    RunningBot,
    card_text,
    classification,
    click,
    draft,
    scripted_llm,
)


async def open_home(bot: RunningBot, user: str) -> None:
    status, _, _ = await bot.send.event(
        {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"}
    )
    assert status == 200


def home_text(view: dict[str, Any]) -> str:
    parts = []
    for block in view["blocks"]:
        if isinstance(block.get("text"), dict):
            parts.append(block["text"]["text"])
        for element in block.get("elements") or []:
            text = element.get("text")
            parts.append(text["text"] if isinstance(text, dict) else str(text or ""))
    return "\n".join(parts)


def home_buttons(view: dict[str, Any]) -> list[tuple[str, str]]:
    """(action id without the per-row suffix, value) of every button in the view."""
    return [
        (e["action_id"].split(".")[0], e["value"])
        for b in view["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]


async def escalations(bot: RunningBot, llm: FakeOpenAI, n: int) -> None:
    llm.set_responder(
        scripted_llm(
            classification("complex_issue", 0.9),
            draft("Please retry the export.", [2], grounded=False),
        )
    )
    for i in range(n):
        await bot.ask(f"Question number {i}: the export crashes")
        if n <= 3:
            await bot.drained()  # escalated in the order asked, so "oldest first" is testable
    await bot.drained()


async def test_reviewers_see_the_queue_oldest_first_and_can_act_from_it(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await make_bot()
    await escalations(bot, llm, 2)
    await click(bot, ids.ACTION_CLAIM, card=bot.cards()[1])
    await bot.drained()
    await open_home(bot, REVIEWER)
    view = slack.home_views[REVIEWER]
    text = home_text(view)
    queue = text[text.index("Waiting for review") :]
    assert queue.index("Question number 0") < queue.index("Question number 1")
    assert "Waiting for review (2)" in text
    assert "Owner: <@UREVIEWER>" in text and "Owner: unclaimed" in text
    assert "Your tickets (1)" in text
    assert "2 escalated" in text
    assert "*Last 7 days:* 2 questions · 0% answered by the bot" in text
    approve = [v for a, v in home_buttons(view) if a == ids.ACTION_APPROVE]
    assert len(approve) == 2
    # Approve the oldest from the home tab: it is sent, and the tab re-renders without it.
    status, _ = await bot.send.block_action(
        REVIEWER, ids.ACTION_APPROVE, approve[0], team_id=HOME_TEAM
    )
    assert status == 200
    await bot.drained()
    assert "Waiting for review (1)" in home_text(slack.home_views[REVIEWER])
    states = await bot.ticket_states()
    assert states == ["replied", "awaiting_review"]


async def test_a_refusal_from_the_home_tab_arrives_as_a_direct_message(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await make_bot()
    await escalations(bot, llm, 1)
    await open_home(bot, OUTSIDER)
    view = slack.home_views[OUTSIDER]
    assert home_buttons(view) == []
    assert "Only support reviewers" in home_text(view)
    await bot.send.block_action(OUTSIDER, ids.ACTION_APPROVE, "1", team_id=HOME_TEAM)
    dms = slack.posts(channel=OUTSIDER)
    assert len(dms) == 1 and "Only support reviewers" in dms[0]["text"]
    assert await bot.ticket_states() == ["awaiting_review"]


async def test_the_queue_pages_within_slacks_block_limit(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await make_bot()
    total = 2 * HOME_PAGE_SIZE + 3  # three pages: the middle one has both page buttons
    await escalations(bot, llm, total)
    await open_home(bot, REVIEWER)
    first = slack.home_views[REVIEWER]
    assert len(first["blocks"]) <= 100
    assert len([a for a, _ in home_buttons(first) if a == ids.ACTION_APPROVE]) == HOME_PAGE_SIZE
    pages = [v for a, v in home_buttons(first) if a == ids.ACTION_HOME_PAGE]
    assert pages == ["1"]
    shown = [re.findall(r"Question number (\d+)", home_text(first))]
    for page in ("1", "2"):
        await bot.send.block_action(
            REVIEWER, ids.home_action(ids.ACTION_HOME_PAGE, int(page)), page, team_id=HOME_TEAM
        )
        view = slack.home_views[REVIEWER]
        assert len(view["blocks"]) <= 100
        shown.append(re.findall(r"Question number (\d+)", home_text(view)))
        if page == "1":
            assert "Page 2 of 3" in home_text(view)
            assert [v for a, v in home_buttons(view) if a == ids.ACTION_HOME_PAGE] == ["0", "2"]
    last = slack.home_views[REVIEWER]
    assert len([a for a, _ in home_buttons(last) if a == ids.ACTION_APPROVE]) == 3
    assert "Page 3 of 3" in home_text(last)
    # Every question exactly once across the pages (questions asked back to back escalate
    # concurrently, so which page holds which is not fixed).
    assert [len(p) for p in shown] == [HOME_PAGE_SIZE, HOME_PAGE_SIZE, 3]
    assert sorted(int(n) for p in shown for n in p) == list(range(total))


async def test_admins_also_see_the_configuration(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await make_bot(
        support_admins=[ADMIN],
        review_reminder="45m",
        auto_answer_categories=["billing_query", "simple_faq"],
    )
    await open_home(bot, ADMIN)
    text = home_text(slack.home_views[ADMIN])
    assert "*Configuration*" in text and "Reminders after 45m" in text
    assert "Answered automatically (default): Simple FAQ and Billing" in text
    await open_home(bot, REVIEWER)
    assert "*Configuration*" not in home_text(slack.home_views[REVIEWER])


def test_config_lines_show_the_default_categories_then_each_channels_own() -> None:
    settings = load_settings(_env_file=None, support_channels=["C0ALPHA"])
    base = defaults(settings)
    stored = {"*": ["simple_faq"], "C0ZED": [], "C0ALPHA": ["unknown", "feature_request"]}
    lines = config_lines(settings, overlay(base, {"auto_categories": stored}, 1))
    at = lines.index("• Answered automatically (default): Simple FAQ")
    assert lines[at + 1 : at + 3] == [
        "• Answered automatically in <#C0ALPHA>: Feature request and Unknown",
        "• Answered automatically in <#C0ZED>: nothing",
    ]
    plain = config_lines(settings, base)
    assert [line for line in plain if "Answered automatically" in line] == [
        "• Answered automatically (default): Simple FAQ"
    ]


async def test_a_reply_not_delivered_shows_in_the_queue(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await make_bot()
    # The bot was removed from the support channel: the holding reply of the first question is
    # refused (not_in_channel); it is back in the channel for the second.
    slack.refuse_channel(SUPPORT, "not_in_channel", times=1)
    await escalations(bot, llm, 1)
    await escalations(bot, llm, 1)
    failed = await bot.db.fetchall(
        "SELECT ticket_id, detail FROM ticket_events WHERE step = 'delivery_failed'"
    )
    assert [(r["ticket_id"], json.loads(r["detail"])["purpose"]) for r in failed] == [
        (1, "holding")
    ]
    await open_home(bot, REVIEWER)
    view = slack.home_views[REVIEWER]
    rows = home_text(view).split("*#")[1:]  # one piece per queued ticket, oldest first
    assert len(rows) == 2 and rows[0].startswith("1*") and rows[1].startswith("2*")
    assert "⚠️ reply not delivered: The holding reply: the bot is not a member" in rows[0]
    assert "not delivered" not in rows[1]
    # The escalation channel says so too: the card (when it was posted before the refusal) or
    # a notice, each with its "Try again".
    said = [card_text(m) for m in slack.posts(channel=ESCALATION)]
    assert any("The holding reply" in t and "was not delivered" in t for t in said), said
