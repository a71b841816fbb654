"""Reactions as commands, through the real app over signed HTTP: a teammate's :ticket: opens a
ticket (even where the bot ignored the message), :eyes: claims it, :white_check_mark: resolves
it; customers' reactions, reactions on bot messages, reactions taken off before the bot got to
them and Slack's retries do nothing more than leave a reason."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from bot.sandbox.standin import SlackStandIn
from bot.tickets.answering import OPENED_BY_HAND
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.harness import (
    ADMIN,
    CUSTOMER,
    CUSTOMER_TEAM,
    ESCALATION,
    HOME_TEAM,
    REVIEWER,
    SUPPORT,
    RunningBot,
    card_text,
    classification,
    draft,
)

# A colleague from the home team who is not a reviewer (in a Slack Connect channel, staff).
TEAMMATE = "UTEAMMATE"
EXPORT_ARTICLE = 2


def script(category: str, grounded: bool) -> Any:
    """Classify as ``category``; draft a reply citing the export article."""

    def respond(request: dict[str, Any]) -> str:
        system = request["messages"][0]["content"]
        if "You triage customer questions" in system:
            return json.dumps(classification(category, 0.95))
        if "You write replies to customers" in system:
            return json.dumps(
                draft(
                    "Open the report and press Export, then pick CSV.",
                    [EXPORT_ARTICLE],
                    grounded=grounded,
                )
            )
        return "{}"

    return respond


async def start(
    make_bot: BotFactory,
    slack: SlackStandIn,
    llm: FakeOpenAI,
    *,
    category: str = "complex_issue",
    grounded: bool = False,
    **overrides: Any,
) -> RunningBot:
    """The support channel is shared with the customer's company (Slack Connect), so staff is
    whoever belongs to the home team, as intake counts it."""
    slack.share_externally(SUPPORT, CUSTOMER_TEAM)
    slack.users[CUSTOMER] = {"team_id": CUSTOMER_TEAM}
    llm.set_responder(script(category, grounded))
    return await make_bot(**overrides)


async def escalated(bot: RunningBot) -> str:
    ts = str(await bot.ask("the csv export crashes on our big report :( help??"))
    await bot.drained()
    assert await bot.ticket_states() == ["awaiting_review"]
    return ts


async def trail(bot: RunningBot) -> list[tuple[str, str, dict[str, Any]]]:
    rows = await bot.db.fetchall("SELECT step, actor, detail FROM ticket_events ORDER BY id")
    return [(r["step"], r["actor"], json.loads(r["detail"])) for r in rows]


async def react(bot: RunningBot, slack: SlackStandIn, user: str, ts: str, emoji: str) -> None:
    answer = await slack.react(user, SUPPORT, ts, emoji)
    assert answer == {"ok": True}, answer
    assert slack.delivered_events[-1]["status"] == 200
    await bot.drained()


def card(bot: RunningBot, slack: SlackStandIn) -> dict[str, Any]:
    found = slack.find_message(ESCALATION, bot.cards()[-1]["ts"])
    assert found is not None
    return found


def ephemerals_to(slack: SlackStandIn, user: str) -> list[str]:
    return [e["text"] for e in slack.ephemerals if e["user"] == user]


async def channel_off(bot: RunningBot) -> None:
    status, body = await bot.send.slash_command(ADMIN, f"channel add <#{SUPPORT}> off")
    assert status == 200 and "off" in body, body


# -- :ticket: ---------------------------------------------------------------------------------


async def test_ticket_opens_a_ticket_in_a_channel_switched_off_and_it_waits_for_review(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    # A grounded FAQ answer the bot would send by itself in an auto channel.
    bot = await start(
        make_bot, slack, llm, category="simple_faq", grounded=True, support_admins=[ADMIN]
    )
    await channel_off(bot)
    ts = await bot.ask("how do i export a report as csv?")
    await bot.drained()
    assert await bot.ticket_states() == []  # the bot ignores the channel

    await react(bot, slack, REVIEWER, ts, "ticket")

    rows = await bot.db.fetchall("SELECT * FROM tickets")
    assert len(rows) == 1
    ticket = rows[0]
    assert ticket["thread_ts"] == ts and ticket["customer_user_id"] == CUSTOMER
    assert ticket["opened_by"] == REVIEWER and ticket["state"] == "awaiting_review"
    turns = await bot.db.fetchall("SELECT role, text, slack_ts FROM ticket_turns ORDER BY id")
    assert (turns[0]["role"], turns[0]["slack_ts"]) == ("customer", ts)
    assert [t["role"] for t in turns] == ["customer", "bot"]  # and the holding reply
    assert turns[0]["text"] == "how do i export a report as csv?"
    # The card has its draft, says who opened it and why it waits, and nothing was answered.
    text = card_text(card(bot, slack))
    assert "Opened by <@UREVIEWER> with :ticket:" in text
    assert "Open the report and press Export" in text
    assert OPENED_BY_HAND[:40] in text
    assert not any("press Export" in (m.get("text") or "") for m in bot.thread(ts))
    steps = [step for step, _, _ in await trail(bot)]
    assert steps[0] == "opened_by_reaction" and "escalated" in steps
    assert [(s, a, d["mode"]) for s, a, d in await trail(bot) if s == "opened_by_reaction"] == [
        ("opened_by_reaction", REVIEWER, "off")
    ]


async def test_ticket_on_a_reply_mid_conversation_opens_the_thread_as_a_ticket(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await start(make_bot, slack, llm)
    hour_ago = time.time() - 3600
    root = f"{int(hour_ago)}.000100"
    reply = f"{int(hour_ago)}.000200"
    # A teammate's announcement, and a customer's question under it: the bot ignores both.
    await bot.ask("heads up: maintenance tonight 22:00 UTC", user=REVIEWER, team=HOME_TEAM, ts=root)
    await bot.ask("will the csv export work during it??", thread_ts=root, ts=reply)
    await bot.drained()
    assert await bot.ticket_states() == []
    assert any("not a support ticket" in r for r in await bot.ignored_reasons())

    await react(bot, slack, REVIEWER, reply, "ticket")

    rows = await bot.db.fetchall("SELECT thread_ts, customer_user_id, state FROM tickets")
    assert [dict(r) for r in rows] == [
        {"thread_ts": root, "customer_user_id": CUSTOMER, "state": "awaiting_review"}
    ]
    turns = await bot.db.fetchall("SELECT text, slack_ts FROM ticket_turns WHERE role = 'customer'")
    assert [(t["text"], t["slack_ts"]) for t in turns] == [
        ("will the csv export work during it??", reply)
    ]
    assert "will the csv export work during it??" in card_text(card(bot, slack))


async def test_ticket_on_a_message_already_in_a_ticket_says_so_and_opens_nothing(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await start(make_bot, slack, llm)
    ts = await escalated(bot)
    cards = len(bot.cards())
    await react(bot, slack, REVIEWER, ts, "ticket")
    assert len(await bot.ticket_states()) == 1 and len(bot.cards()) == cards
    assert ephemerals_to(slack, REVIEWER)[-1] == (
        "That message is already in ticket #1; nothing new was opened."
    )
    assert any("already in ticket #1" in r for r in await bot.ignored_reasons())


# -- :eyes: and :white_check_mark: ------------------------------------------------------------


async def test_eyes_claims_and_check_resolves_like_the_buttons(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await start(make_bot, slack, llm)
    ts = await escalated(bot)
    assert "Unclaimed" in card_text(card(bot, slack))

    await react(bot, slack, REVIEWER, ts, "eyes")
    rows = await bot.db.fetchall("SELECT owner_user_id, state FROM tickets")
    assert rows[0]["owner_user_id"] == REVIEWER and rows[0]["state"] == "awaiting_review"
    text = card_text(card(bot, slack))
    assert "Owner: <@UREVIEWER>" in text and "Claimed by <@UREVIEWER>" in text
    claimed = [d for s, _, d in await trail(bot) if s == "claimed"]
    assert claimed and claimed[0]["via"] == "reaction" and claimed[0]["escalation_id"] == 1

    await react(bot, slack, REVIEWER, ts, "white_check_mark")
    rows = await bot.db.fetchall("SELECT state, resolved_by FROM tickets")
    assert rows[0]["state"] == "resolved" and rows[0]["resolved_by"] == REVIEWER
    text = card_text(card(bot, slack))
    assert "Resolved" in text and "Resolved by <@UREVIEWER>" in text
    thread = bot.thread(ts)
    assert any("resolved" in (m.get("text") or "").lower() for m in thread), thread
    resolved = [d for s, _, d in await trail(bot) if s == "resolved"]
    assert resolved == [{"from_state": "awaiting_review", "via": "reaction"}]
    assert ephemerals_to(slack, REVIEWER) == []  # it acted: the card and the thread say so

    # Again: the ticket is already resolved, and the reviewer is told by whom.
    assert slack.remove_reaction(REVIEWER, SUPPORT, ts, "white_check_mark") == {"ok": True}
    await react(bot, slack, REVIEWER, ts, "white_check_mark")
    assert ephemerals_to(slack, REVIEWER) == ["Ticket #1 was already resolved by <@UREVIEWER>."]


async def test_a_teammate_who_is_not_a_reviewer_cannot_claim_but_can_open(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await start(make_bot, slack, llm)
    ts = await escalated(bot)
    await react(bot, slack, TEAMMATE, ts, "eyes")
    rows = await bot.db.fetchall("SELECT owner_user_id FROM tickets")
    assert rows[0]["owner_user_id"] is None
    assert "Only support reviewers" in ephemerals_to(slack, TEAMMATE)[-1]
    assert any("UTEAMMATE may not review" in r for r in await bot.ignored_reasons())
    assert "claimed" not in [s for s, _, _ in await trail(bot)]

    # Opening a ticket is any teammate's to do.
    hour_ago = f"{int(time.time() - 3600)}.000300"
    await bot.ask("thanks!! :pray:", ts=hour_ago)  # ignored by intake: no question
    await bot.drained()
    await react(bot, slack, TEAMMATE, hour_ago, "ticket")
    rows = await bot.db.fetchall("SELECT opened_by FROM tickets ORDER BY id")
    assert [r["opened_by"] for r in rows] == [None, TEAMMATE]


async def test_eyes_on_a_message_that_is_not_a_ticket_says_how_to_open_one(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await start(make_bot, slack, llm, support_admins=[ADMIN])
    await channel_off(bot)
    ts = await bot.ask("is anyone there")
    await bot.drained()
    await react(bot, slack, REVIEWER, ts, "eyes")
    assert await bot.ticket_states() == []
    assert ephemerals_to(slack, REVIEWER) == [
        "That message is not in a support ticket. React with :ticket: to open one for it first."
    ]


# -- what does nothing ------------------------------------------------------------------------


async def test_a_customers_reactions_never_act(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await start(make_bot, slack, llm, support_admins=[ADMIN])
    ts = await escalated(bot)
    await react(bot, slack, CUSTOMER, ts, "white_check_mark")
    await react(bot, slack, CUSTOMER, ts, "eyes")
    await channel_off(bot)
    other = await bot.ask("also the pdf export is broken")
    await react(bot, slack, CUSTOMER, other, "ticket")

    assert await bot.ticket_states() == ["awaiting_review"]
    rows = await bot.db.fetchall("SELECT owner_user_id FROM tickets")
    assert rows[0]["owner_user_id"] is None
    reasons = [r for r in await bot.ignored_reasons() if r.startswith("reaction")]
    assert reasons == [
        f"reaction :{emoji}: by UCUSTOMER: a customer's reaction: customers' reactions never act"
        for emoji in ("white_check_mark", "eyes", "ticket")
    ]
    assert slack.ephemerals == []  # nothing is said to the customer
    assert slack.calls_to("reactions.get") == []  # decided before asking Slack anything


async def test_a_reaction_on_the_bots_message_does_nothing(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await start(make_bot, slack, llm)
    ts = await escalated(bot)
    holding = bot.thread(ts)[0]
    await react(bot, slack, REVIEWER, holding["ts"], "white_check_mark")
    await react(bot, slack, REVIEWER, holding["ts"], "ticket")
    assert await bot.ticket_states() == ["awaiting_review"]
    reasons = [r for r in await bot.ignored_reasons() if r.startswith("reaction")]
    assert reasons == [
        f"reaction :{e}: by UREVIEWER: a reaction on a bot's message, not on a customer's"
        for e in ("white_check_mark", "ticket")
    ]
    assert ephemerals_to(slack, REVIEWER) == []


async def test_a_reaction_taken_off_before_the_bot_got_to_it_does_nothing(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await start(make_bot, slack, llm)
    ts = await escalated(bot)
    # Slack reported the :eyes:, but it is no longer on the message when the job asks.
    status, _, _ = await bot.send.reaction_event(
        REVIEWER, "eyes", channel=SUPPORT, ts=ts, item_user=CUSTOMER, shared=True
    )
    assert status == 200
    await bot.drained()
    assert slack.calls_to("reactions.get")[-1]["timestamp"] == ts
    rows = await bot.db.fetchall("SELECT owner_user_id FROM tickets")
    assert rows[0]["owner_user_id"] is None
    assert (
        "reaction :eyes: by UREVIEWER: the :eyes: was taken off before the bot got to it"
        in await bot.ignored_reasons()
    )


async def test_slack_delivering_a_reaction_twice_acts_once(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await start(make_bot, slack, llm, support_admins=[ADMIN])
    await channel_off(bot)
    ts = await bot.ask("where can i download my invoices")
    await react(bot, slack, REVIEWER, ts, "ticket")
    first = slack.delivered_events[-1]
    # Slack retries the same event (same id, same event_ts), as after a slow acknowledgement.
    status, _, _ = await bot.send.reaction_event(
        REVIEWER,
        "ticket",
        channel=SUPPORT,
        ts=ts,
        item_user=CUSTOMER,
        event_id=first["event_id"],
        event_ts=first["event"]["event_ts"],
        retry_num=1,
        shared=True,
    )
    assert status == 200
    await bot.drained()
    assert len(await bot.ticket_states()) == 1 and len(bot.cards()) == 1
    jobs = await bot.db.fetchall("SELECT kind FROM jobs WHERE kind = 'reaction'")
    assert len(jobs) == 1
    assert [s for s, _, _ in await trail(bot)].count("opened_by_reaction") == 1
    assert ephemerals_to(slack, REVIEWER) == []


async def test_other_emoji_and_other_channels_are_not_commands(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="handlers.events.reaction")
    bot = await start(make_bot, slack, llm)
    ts = await escalated(bot)
    await react(bot, slack, REVIEWER, ts, "tada")
    slack.add_message("CRANDOM", "1700000000.000100", "lunch?", CUSTOMER)
    status, _, _ = await bot.send.reaction_event(
        REVIEWER, "ticket", channel="CRANDOM", ts="1700000000.000100"
    )
    assert status == 200
    # A malformed one (no item, an item that is a file) is acknowledged and dropped, said why.
    for item in (None, {"type": "file", "file": "F0123"}):
        event = {"type": "reaction_added", "user": REVIEWER, "reaction": "ticket", "item": item}
        status, _, _ = await bot.send.event({k: v for k, v in event.items() if v is not None})
        assert status == 200
    await bot.drained()
    jobs = await bot.db.fetchall("SELECT kind FROM jobs WHERE kind = 'reaction'")
    assert jobs == [] and len(await bot.ticket_states()) == 1
    logged = caplog.text
    assert "by UREVIEWER: :tada: is not a support reaction" in logged
    assert "by UREVIEWER: channel 'CRANDOM' is not a support channel" in logged
    assert logged.count("reaction on something other than a message (a file?)") == 2


# -- configured emoji -------------------------------------------------------------------------


async def test_admins_choose_the_emoji_and_the_old_ones_stop_working(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await start(make_bot, slack, llm, support_admins=[ADMIN])
    status, body = await bot.send.slash_command(
        ADMIN, "reactions open=:sos: claim=:raising_hand: resolve=:heavy_check_mark:"
    )
    assert status == 200 and ":sos:" in body and "Done" in body, body
    status, body = await bot.send.slash_command(REVIEWER, "reactions")
    assert ":sos: `sos` opens a ticket" in json.loads(body)["text"]
    assert ":raising_hand: `raising_hand` claims" in json.loads(body)["text"]

    # The admins' App Home lists the emoji in force with the rest of the configuration.
    status, _, _ = await bot.send.event(
        {"type": "app_home_opened", "user": ADMIN, "channel": "D0HOME", "tab": "home"}
    )
    assert status == 200
    await bot.drained()
    assert ":sos: opens a ticket, :raising_hand: claims it, :heavy_check_mark: resolves it" in (
        json.dumps(slack.home_views[ADMIN]["blocks"])
    )

    ts = await escalated(bot)
    await react(bot, slack, REVIEWER, ts, "eyes")  # no longer a command
    rows = await bot.db.fetchall("SELECT owner_user_id FROM tickets")
    assert rows[0]["owner_user_id"] is None
    await react(bot, slack, REVIEWER, ts, "raising_hand::skin-tone-3")
    rows = await bot.db.fetchall("SELECT owner_user_id FROM tickets")
    assert rows[0]["owner_user_id"] == REVIEWER
    await react(bot, slack, REVIEWER, ts, "heavy_check_mark")
    assert await bot.ticket_states() == ["resolved"]


async def test_the_reactions_command_refuses_bad_settings_and_non_admins(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await start(make_bot, slack, llm, support_admins=[ADMIN])

    async def say(user: str, text: str) -> str:
        status, body = await bot.send.slash_command(user, text)
        assert status == 200
        return str(json.loads(body)["text"])

    assert ":eyes: cannot both open and claim" in await say(ADMIN, "reactions open=:eyes:")
    assert "is not an emoji name" in await say(ADMIN, "reactions open=:not an emoji:")
    assert "is not ACTION=:emoji:" in await say(ADMIN, "reactions explode=:boom:")
    assert "Only support-bot admins" in await say(REVIEWER, "reactions open=:sos:")
    assert "Only the support team" in await say(CUSTOMER, "reactions")
    shown = await say(ADMIN, "reactions")
    assert ":ticket: `ticket` opens" in shown and ":white_check_mark:" in shown
    rows = await bot.db.fetchall("SELECT key FROM config_values")
    assert "reactions" not in [r["key"] for r in rows]
    # Reset after a change brings the defaults back.
    assert ":sos:" in await say(ADMIN, "reactions ticket=:sos:")
    assert ":ticket:" in await say(ADMIN, "reactions reset")
    help_text = await say(ADMIN, "help")
    assert "/support reactions" in help_text and ":eyes: claims it" in help_text


async def test_in_a_channel_switched_off_the_bot_reads_only_threads_opened_by_hand(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await start(make_bot, slack, llm, support_admins=[ADMIN])
    await channel_off(bot)
    opened = await bot.ask("our webhook stopped firing last night")
    other = await bot.ask("lunch anyone?")
    await react(bot, slack, REVIEWER, opened, "ticket")
    assert await bot.ticket_states() == ["awaiting_review"]

    # The customer's follow-up in the ticket's thread reaches the card...
    await bot.ask("it's the order.created one btw", thread_ts=opened)
    # ...and nothing else in the channel is read: not a new message, not another thread.
    await bot.ask("and the refund one too", thread_ts=other)
    await bot.ask("new question: where are invoices?")
    await bot.drained()
    text = card_text(card(bot, slack))
    assert "it's the order.created one btw" in text
    assert "refund one" not in text
    turns = await bot.db.fetchall("SELECT text FROM ticket_turns WHERE role = 'customer'")
    assert [t["text"] for t in turns] == [
        "our webhook stopped firing last night",
        "it's the order.created one btw",
    ]
    jobs = await bot.db.fetchall("SELECT payload FROM jobs WHERE kind = 'inbound_message'")
    assert [json.loads(j["payload"])["thread_ts"] for j in jobs] == [opened]
    assert len(await bot.ticket_states()) == 1
