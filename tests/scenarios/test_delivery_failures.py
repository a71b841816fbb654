"""Issue 21, items 3 and 12: a delivery the bot gives up on is never lost without anyone
knowing, and the "already posted?" look-up degrades safely. Through the real app: signed HTTP
in, the Slack stand-in out."""

from __future__ import annotations

import argparse
import asyncio
import copy
import io
import json
from typing import Any

import aiohttp

from bot.cli.report import add_report_commands, run_report
from bot.sandbox.standin import SlackStandIn
from bot.slack import ids
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.harness import (
    ESCALATION,
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

EXPORT_ARTICLE = 2
DRAFT = "We are looking into export crashes; please retry in an hour."


async def _escalated(make_bot: BotFactory, llm: FakeOpenAI, **overrides: Any):
    llm.set_responder(
        scripted_llm(
            classification("complex_issue", 0.8, summary="Export crashes on large reports."),
            draft(DRAFT, [EXPORT_ARTICLE]),
        )
    )
    bot = await make_bot(**overrides)
    ts = await bot.ask("The CSV export crashes every time for our big report!")
    await bot.drained()
    return bot, ts


def _card(bot: RunningBot, slack: SlackStandIn) -> dict[str, Any]:
    card = slack.find_message(ESCALATION, bot.cards()[0]["ts"])
    assert card is not None
    return card


def _retry_buttons(message: dict[str, Any]) -> dict[str, str]:
    out = {}
    for block in message.get("blocks") or []:
        if block.get("type") == "actions":
            for element in block["elements"]:
                if element["action_id"].startswith(ids.ACTION_RETRY_DELIVERY):
                    out[element["action_id"]] = element["value"]
    return out


async def _try_again(
    bot: RunningBot, message: dict[str, Any], *, user: str = REVIEWER
) -> tuple[int, str]:
    (action_id, value), *_ = _retry_buttons(message).items()
    return await bot.send.block_action(user, action_id, value, channel=ESCALATION, message=message)


async def _metrics(bot: RunningBot) -> str:
    assert bot.runtime is not None and bot.runtime.observability is not None
    port = bot.runtime.observability.port
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        return await response.text()


async def _stats(bot: RunningBot, *argv: str) -> str:
    parser = argparse.ArgumentParser()
    add_report_commands(parser.add_subparsers(dest="command"))
    out = io.StringIO()
    assert await run_report(bot.settings, parser.parse_args(["stats", *argv]), out) == 0
    return out.getvalue()


async def test_a_reply_slack_refuses_is_surfaced_on_the_card_and_try_again_sends_it_once(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await _escalated(make_bot, llm, metrics_port=0)
    slack.refuse_channel(SUPPORT, "not_in_channel")
    await click(bot, ids.ACTION_APPROVE)
    await bot.drained()
    assert len(bot.thread(ts)) == 1  # the holding reply only
    card = copy.deepcopy(_card(bot, slack))  # as the reviewer sees it, buttons and all
    text = card_text(card)
    assert "NOT delivered" in text and "✅ Reply sent" not in text
    assert "not a member of the channel" in text
    assert "Status: delivery failed" in text
    assert len(_retry_buttons(card)) == 1

    # Counted: /metrics by purpose, and the stats command.
    assert 'support_deliveries_failed_total{purpose="reply"} 1.0' in await _metrics(bot)
    stats = json.loads(await _stats(bot, "--since", "1d", "--json"))
    assert stats["not_delivered"] == 1 and stats["not_delivered_by_purpose"] == {"reply": 1}
    assert "Not delivered: 1 (reply 1)" in await _stats(bot, "--since", "1d")

    # Someone who is not a reviewer cannot send it.
    slack.allow_channel(SUPPORT)
    await _try_again(bot, card, user=OUTSIDER)
    await bot.drained()
    assert len(bot.thread(ts)) == 1
    assert any(e["user"] == OUTSIDER for e in slack.ephemerals)

    # Two clicks: one more delivery, exactly.
    await _try_again(bot, card)
    await _try_again(bot, card)
    await bot.drained()
    thread = bot.thread(ts)
    assert [m["text"] for m in thread].count(thread[-1]["text"]) == 1
    assert len(thread) == 2 and "retry in an hour" in thread[-1]["text"]
    text = card_text(_card(bot, slack))
    assert "✅ Reply sent" in text and "NOT delivered" not in text
    assert _retry_buttons(_card(bot, slack)) == {}
    await _try_again(bot, card)  # a stale button: nothing more is sent
    await bot.drained()
    assert len(bot.thread(ts)) == 2


async def test_a_reply_failing_with_5xx_until_attempts_run_out_is_surfaced(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await _escalated(make_bot, llm, job_max_attempts=3, job_retry_base_seconds=0.02)
    slack.fail_next("chat.postMessage", 500, times=3)
    await click(bot, ids.ACTION_APPROVE)
    await bot.drained()
    assert len(bot.thread(ts)) == 1
    text = card_text(_card(bot, slack))
    assert "NOT delivered" in text and "server errors" in text and "3 attempts" in text
    await _try_again(bot, _card(bot, slack))
    await bot.drained()
    assert len(bot.thread(ts)) == 2


async def test_a_card_that_cannot_be_posted_becomes_a_plain_message_with_try_again(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    slack.refuse_channel(ESCALATION, "not_in_channel", times=1)  # the card, not what follows
    bot, _ = await _escalated(make_bot, llm)
    [notice] = slack.posts(channel=ESCALATION)
    assert "The review card for ticket #1 was not delivered" in notice["text"]
    assert "not a member of the channel" in notice["text"]
    await _try_again(bot, notice)
    await bot.drained()
    cards = [m for m in slack.posts(channel=ESCALATION) if "needs review" in m["text"]]
    assert len(cards) == 1 and "Approve and send" in str(cards[0]["blocks"])
    row = await bot.db.fetchone("SELECT card_ts FROM escalations")
    assert row is not None and row["card_ts"] == cards[0]["ts"]


async def test_when_the_notice_cannot_be_posted_either_it_is_logged_and_counted(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI, caplog: Any
) -> None:
    slack.refuse_channel(ESCALATION, "not_in_channel")
    bot, _ = await _escalated(make_bot, llm, metrics_port=0)
    assert slack.posts(channel=ESCALATION) == []
    assert any(
        r.levelname == "ERROR" and "notice about it could not be posted" in r.getMessage()
        for r in caplog.records
    )
    metrics = await _metrics(bot)
    assert 'support_deliveries_failed_total{purpose="card"} 1.0' in metrics
    assert 'support_deliveries_failed_total{purpose="failure_notice"} 1.0' in metrics


async def test_reminders_stop_when_the_card_could_not_be_posted(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    slack.refuse_channel(ESCALATION, "not_in_channel")
    bot, _ = await _escalated(make_bot, llm, review_reminder=0.3)
    await asyncio.sleep(0.6)
    await bot.drained()
    rows = await bot.db.fetchall(
        "SELECT detail FROM ticket_events WHERE step = 'reminders_stopped'"
    )
    assert len(rows) == 1 and "could not be posted" in rows[0]["detail"]
    waiting = await bot.db.fetchall(
        "SELECT dedupe_key FROM jobs WHERE kind = 'remind' AND state = 'pending'"
    )
    assert waiting == []


async def test_reminders_stop_when_the_card_is_gone(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(
        scripted_llm(classification("complex_issue", 0.8), draft(DRAFT, [EXPORT_ARTICLE]))
    )
    bot = await make_bot(review_reminder=2.0)
    await bot.ask("The CSV export crashes every time for our big report!")
    for _ in range(100):
        if bot.cards():
            break
        await asyncio.sleep(0.02)
    card_ts = bot.cards()[0]["ts"]
    slack.messages[:] = [m for m in slack.messages if m.get("ts") != card_ts]  # deleted
    await click(bot, ids.ACTION_CLAIM, card=bot.cards()[0] if bot.cards() else {"ts": card_ts})
    await bot.drained()  # the first reminder is due within the harness's horizon: it ran
    gone = await bot.db.fetchall("SELECT detail FROM ticket_events WHERE step = 'card_gone'")
    assert len(gone) == 1 and "message_not_found" in gone[0]["detail"]
    stopped = await bot.db.fetchall("SELECT 1 FROM ticket_events WHERE step = 'reminders_stopped'")
    assert len(stopped) == 1
    assert [m for m in slack.posts(channel=ESCALATION) if m.get("thread_ts") == card_ts] == []


async def test_the_look_up_matches_by_text_when_slack_returns_no_metadata(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(scripted_llm(classification(), draft("Click Export.", [EXPORT_ARTICLE])))
    bot = await make_bot()
    slack.hide_metadata = True
    slack.fail_next_after_store("chat.postMessage")  # posted, but the bot hears a 500
    ts = await bot.ask("How do I export a report as CSV?")
    await bot.drained()
    assert len(bot.thread(ts)) == 1
    [lookup] = slack.calls_to("conversations.replies")
    assert int(lookup["limit"]) <= 15
    sent = await bot.db.fetchall("SELECT detail FROM ticket_events WHERE step = 'sent'")
    assert len(sent) == 1 and json.loads(sent[0]["detail"])["attempts"] == 2


async def test_a_failing_look_up_is_surfaced_not_posted_twice_nor_dropped(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(scripted_llm(classification(), draft("Click Export.", [EXPORT_ARTICLE])))
    bot = await make_bot()
    slack.fail_next_after_store("chat.postMessage")
    slack.error_next("conversations.replies", "missing_scope")
    ts = await bot.ask("How do I export a report as CSV?")
    await bot.drained()
    assert len(bot.thread(ts)) == 1  # the post that landed, not a second one
    [notice] = slack.posts(channel=ESCALATION)
    assert "The bot's answer for ticket #1 was not delivered" in notice["text"]
    assert "could not check whether" in notice["text"] and "permission" in notice["text"]
    assert _retry_buttons(notice)
    assert await bot.ticket_states() == ["answered"]
