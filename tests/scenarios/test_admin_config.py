"""Admins configure the bot from Slack, through the real app: signed slash commands, the
settings form's view submission and ``app_home_opened``, against the local Slack fake."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from typing import Any

from bot.sandbox.standin import SlackStandIn
from bot.settings.live import ConfigSnapshot
from bot.slack import ids
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.harness import (
    ADMIN,
    CUSTOMER,
    CUSTOMER_TEAM,
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
NEW = "C0NEWSUPPORT"
CARDS = "C0NEWCARDS"
FAQ = scripted_llm(classification("simple_faq", 0.9), draft("Click *Export*.", [EXPORT_ARTICLE]))


async def command(bot: RunningBot, text: str, user: str = ADMIN) -> str:
    status, body = await bot.send.slash_command(user, text)
    assert status == 200
    reply = json.loads(body)
    assert reply["response_type"] == "ephemeral"
    return str(reply["text"])


async def audit_rows(bot: RunningBot) -> list[tuple[str, str, str]]:
    rows = await bot.db.fetchall("SELECT user_id, action, key FROM config_audit ORDER BY id")
    return [(r["user_id"], r["action"], r["key"]) for r in rows]


async def admin_bot(make_bot: BotFactory, llm: FakeOpenAI, **overrides: Any) -> RunningBot:
    llm.set_responder(FAQ)
    return await make_bot(support_admins=[ADMIN], **overrides)


async def snapshot(bot: RunningBot) -> ConfigSnapshot:
    """The configuration the running bot has in force."""
    assert bot.runtime is not None and bot.runtime.services is not None
    return await bot.runtime.services.config.refresh()


async def stored(bot: RunningBot, key: str) -> Any:
    row = await bot.db.fetchone("SELECT value FROM config_values WHERE key = ?", (key,))
    return None if row is None else json.loads(row["value"])


def form_values(**fields: Any) -> dict[str, dict[str, Any]]:
    """A complete settings-form submission (the state Slack sends), with ``fields`` replaced."""
    base: dict[str, Any] = {
        ids.BLOCK_CFG_AUTO: {
            "type": "multi_conversations_select",
            "selected_conversations": [SUPPORT],
        },
        ids.BLOCK_CFG_REVIEW: {
            "type": "multi_conversations_select",
            "selected_conversations": [NEW],
        },
        ids.BLOCK_CFG_ESCALATION: {
            "type": "conversations_select",
            "selected_conversation": CARDS,
        },
        ids.BLOCK_CFG_REVIEWERS: {
            "type": "multi_users_select",
            "selected_users": [REVIEWER, "U0THIRD"],
        },
        ids.BLOCK_CFG_ADMINS: {"type": "multi_users_select", "selected_users": [ADMIN]},
        ids.BLOCK_CFG_THRESHOLD: {"type": "number_input", "value": "0.8"},
        ids.BLOCK_CFG_REMINDER: {"type": "plain_text_input", "value": "1h"},
        ids.BLOCK_CFG_TIMEOUT: {"type": "plain_text_input", "value": "2d"},
        ids.BLOCK_CFG_HOURS: {"type": "plain_text_input", "value": ""},
        ids.BLOCK_CFG_PAUSED: {"type": "checkboxes", "selected_options": []},
    }
    base.update(fields)
    return {block: {ids.cfg_action(block): value} for block, value in base.items()}


def categories_picked(*names: str) -> dict[str, Any]:
    options = [{"text": {"type": "plain_text", "text": n}, "value": n} for n in names]
    return {"type": "multi_static_select", "selected_options": options}


async def ask_in(bot: RunningBot, channel: str, text: str) -> str:
    status, _, _, ts = await bot.send.message_event(
        channel, CUSTOMER, text, user_team=CUSTOMER_TEAM, team=CUSTOMER_TEAM
    )
    assert status == 200
    await bot.drained()
    return ts


async def test_only_admins_change_anything_and_others_are_told(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await admin_bot(make_bot, llm)
    for text in (
        f"channel add <#{NEW}|new>",
        "threshold 0.9",
        "pause",
        f"reviewers add <@{OUTSIDER}>",
        "audit",
        "config",
    ):
        reply = await command(bot, text, user=REVIEWER)
        assert reply.startswith("Only support-bot admins can change settings"), text
    assert await audit_rows(bot) == []
    assert slack.calls_to("views.open") == []
    # A workspace admin (users.info) is a bot admin without being listed.
    slack.users["UOWNER"] = {"is_admin": True}
    assert "is now `auto`" in await command(bot, f"channel add <#{NEW}|new>", user="UOWNER")
    assert await audit_rows(bot) == [("UOWNER", "channel add", "channels")]


async def test_channel_add_review_mode_takes_effect_at_once_and_says_when_not_a_member(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await admin_bot(make_bot, llm)
    slack.channels[NEW] = {"is_member": False, "name": "new"}
    reply = await command(bot, f"channel add <#{NEW}|new> review")
    assert f"<#{NEW}> is now `review`" in reply
    assert "not a member" in reply and "/invite" in reply
    # A confident FAQ in a review channel still waits for approval.
    ts = await ask_in(bot, NEW, "How do I export a report as CSV?")
    assert slack.posts(channel=NEW, thread_ts=ts)[0]["text"].startswith("Thanks for your question")
    assert "review mode" in card_text(bot.cards()[0])
    listing = await command(bot, "channel list")
    assert f"<#{SUPPORT}>: auto" in listing and f"<#{NEW}>: review" in listing
    # Off: the bot ignores the channel again.
    await command(bot, f"channel add <#{NEW}> off")
    await ask_in(bot, NEW, "Anyone there?")
    assert len(bot.cards()) == 1
    assert len(await bot.ticket_states()) == 1


async def test_wrong_arguments_show_the_right_form_and_never_ping(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await admin_bot(make_bot, llm)
    reply = await command(bot, "channel add #general")
    assert "&lt;#C0123ABCD|support&gt;" in reply and "Usage: `/support channel add" in reply
    assert "<!here>" not in await command(bot, "reviewers add <!here>")
    assert "from 0.0 to 1.0" in await command(bot, "threshold 1.5")
    assert "45m" in await command(bot, "reminders soon")
    for broken in ("nan", "inf", "1e400", "0", "400d"):
        assert "Usage: `/support reminders" in await command(bot, f"reminders {broken}")
    assert "Europe/Berlin" in await command(bot, "hours Mon-Fri 9-5")
    assert "add, remove or list" in await command(bot, "admins promote <@U1>")
    assert await audit_rows(bot) == []


async def test_escalation_channel_moves_new_cards_and_refuses_a_support_channel(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await admin_bot(make_bot, llm)
    assert "customers would see the cards" in await command(bot, f"escalation <#{SUPPORT}>")
    assert f"New review cards go to <#{CARDS}>" in await command(
        bot, f"escalation <#{CARDS}|cards>"
    )
    llm.set_responder(
        scripted_llm(classification("complex_issue", 0.9), draft("Retry.", [EXPORT_ARTICLE]))
    )
    await ask_in(bot, SUPPORT, "The export crashes")
    assert slack.posts(channel=ESCALATION) == []
    assert len(slack.posts(channel=CARDS)) == 1


SHARED = "C0SLACKCONNECT"
PENDING = "C0INVITEPENDING"
SWITCHED_OFF = "C0CUSTOMEROFF"
PRIVATE = "G0TEAMONLY"


async def test_escalation_refuses_channels_outsiders_or_customers_can_read_and_fails_closed(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    """Cards show every customer's question: never to a Slack Connect channel (shared or
    invited), never to a customer channel even when switched off, never to a channel Slack
    cannot describe; a private channel of the team is fine."""
    bot = await admin_bot(make_bot, llm)
    slack.share_externally(SHARED)
    slack.share_externally(PENDING, pending=True)
    assert "is now `off`" in await command(bot, f"channel add <#{SWITCHED_OFF}> off")
    reply = await command(bot, f"escalation <#{SHARED}|partners>")
    assert "Slack Connect" in reply and "outside your company" in reply
    assert "pending Slack Connect invitation" in await command(bot, f"escalation <#{PENDING}>")
    reply = await command(bot, f"escalation <#{SWITCHED_OFF}>")
    assert "customers would see the cards" in reply and "switched off" in reply
    slack.error_next("conversations.info", "missing_scope")
    reply = await command(bot, f"escalation <#{CARDS}>")
    assert "could not check" in reply and "missing_scope" in reply
    assert (await snapshot(bot)).escalation_channel == ESCALATION
    assert [a for _, a, _ in await audit_rows(bot)] == ["channel add"]
    # A private channel of the team, the bot a member: accepted, and new cards go there.
    slack.channels[PRIVATE] = {"is_private": True, "name": "support-team"}
    assert f"New review cards go to <#{PRIVATE}>." == await command(bot, f"escalation <#{PRIVATE}>")
    assert (await snapshot(bot)).escalation_channel == PRIVATE
    llm.set_responder(
        scripted_llm(classification("complex_issue", 0.9), draft("Retry.", [EXPORT_ARTICLE]))
    )
    await ask_in(bot, SUPPORT, "The export crashes")
    assert len(slack.posts(channel=PRIVATE)) == 1 and slack.posts(channel=SHARED) == []


async def test_the_settings_form_refuses_a_shared_or_customer_escalation_channel(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await admin_bot(make_bot, llm)
    slack.share_externally(SHARED)
    await command(bot, f"channel add <#{SWITCHED_OFF}> off")

    async def submit(channel: str) -> dict[str, str]:
        field = {"type": "conversations_select", "selected_conversation": channel}
        status, body = await bot.send.view_submission(
            ADMIN, ids.VIEW_CONFIG, form_values(**{ids.BLOCK_CFG_ESCALATION: field})
        )
        assert status == 200
        return dict(json.loads(body)["errors"]) if body.strip() not in ("", "null") else {}

    assert "Slack Connect" in (await submit(SHARED))[ids.BLOCK_CFG_ESCALATION]
    assert "customers would see" in (await submit(SWITCHED_OFF))[ids.BLOCK_CFG_ESCALATION]
    slack.fail_next("conversations.info", 500, times=2)  # the client repeats one
    assert "could not check" in (await submit(CARDS))[ids.BLOCK_CFG_ESCALATION]
    assert (await snapshot(bot)).escalation_channel == ESCALATION
    assert "config form" not in [a for _, a, _ in await audit_rows(bot)]
    slack.channels[PRIVATE] = {"is_private": True, "name": "support-team"}
    assert await submit(PRIVATE) == {}
    after = await snapshot(bot)
    assert after.escalation_channel == PRIVATE and after.mode(SWITCHED_OFF) == "off"


async def test_reviewers_from_people_and_a_user_group(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    slack.usergroups["S0SUPPORT"] = ["U0GROUPIE"]
    bot = await admin_bot(make_bot, llm, support_reviewers=[REVIEWER])
    reply = await command(bot, "reviewers add <@U0NEWBIE|newbie>, <!subteam^S0SUPPORT|@support>")
    assert "<@U0NEWBIE>" in reply and "<!subteam^S0SUPPORT> (1 members)" in reply
    llm.set_responder(
        scripted_llm(classification("complex_issue", 0.9), draft("Retry.", [EXPORT_ARTICLE]))
    )
    await ask_in(bot, SUPPORT, "The export crashes")
    card = bot.cards()[0]
    await click(bot, ids.ACTION_CLAIM, user=OUTSIDER, card=card)
    assert "Only support reviewers" in slack.ephemerals[-1]["text"]
    await click(bot, ids.ACTION_CLAIM, user="U0GROUPIE", card=card)
    await bot.drained()
    assert "Owner: <@U0GROUPIE>" in card_text(slack.find_message(ESCALATION, card["ts"]) or {})
    reply = await command(bot, "reviewers remove <@U0NEWBIE> <!subteam^S0SUPPORT>")
    assert "U0NEWBIE" not in reply and "S0SUPPORT" not in reply
    assert "<@UREVIEWER>" in await command(bot, "reviewers list")
    assert "S0MISSING" in await command(bot, "reviewers add <!subteam^S0MISSING>")


async def test_admins_threshold_reminders_and_the_audit_trail(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await admin_bot(make_bot, llm)
    assert "<@U0SECOND>" in await command(bot, "admins add <@U0SECOND>")
    assert "is now 0.95" in await command(bot, "threshold 0.95", user="U0SECOND")
    ts = await ask_in(bot, SUPPORT, "How do I export a report as CSV?")
    assert "passed it to the team" in bot.thread(ts)[0]["text"]  # 0.9 < 0.95: escalated
    assert "after 45m" in await command(bot, "reminders 45m 2d")
    audit = await command(bot, "audit")
    assert audit.index("`reminders`") < audit.index("`threshold`") < audit.index("`admins add`")
    assert "<@U0SECOND>" in audit and "`0.7` → `0.95`" in audit
    await bot.restart()  # what admins set survives restarts
    status = await command(bot, "status")
    assert "Auto-answer threshold: 0.95" in status and "Reminders after 45m" in status
    assert "the customer hears “still on it” after 2d" in status
    assert "<@U0SECOND>" in await command(bot, "admins list")


async def test_pause_watches_and_logs_and_resume_answers_what_waited(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await admin_bot(make_bot, llm)
    assert "Paused" in await command(bot, "pause")
    ts = await ask_in(bot, SUPPORT, "How do I export a report as CSV?")
    assert bot.thread(ts) == [] and bot.cards() == []
    assert await bot.ticket_states() == ["drafted"]
    steps = [r["step"] for r in await bot.db.fetchall("SELECT step FROM ticket_events")]
    assert steps.count("drafted") == 1 and steps.count("held") == 1  # held once, not looping
    assert "1 question(s)" in await command(bot, "resume")
    await bot.drained()
    assert "Click *Export*" in bot.thread(ts)[0]["text"]
    assert await bot.ticket_states() == ["answered"]


async def test_outside_support_hours_the_holding_reply_says_when_the_team_is_back(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await admin_bot(make_bot, llm, review_reminder="1s")
    day = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][
        (dt.datetime.now(dt.UTC).weekday() + 2) % 7
    ]  # a day that is not today: closed now
    assert "Support hours are now" in await command(bot, f"hours {day} 09:00-17:00 UTC")
    llm.set_responder(
        scripted_llm(classification("complex_issue", 0.9), draft("Retry.", [EXPORT_ARTICLE]))
    )
    ts = await ask_in(bot, SUPPORT, "The export crashes")
    holding = bot.thread(ts)[0]["text"]
    assert "away right now" in holding and "<!date^" in holding and "UTC" in holding
    # The reminder waits for the opening instead of nudging now.
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        rows = await bot.db.fetchall(
            "SELECT available_at FROM jobs WHERE kind = 'remind' AND dedupe_key LIKE '%:at:%'"
        )
        if rows:
            break
        await bot.drained()
    assert rows and rows[0]["available_at"] > time.time() + 3600
    assert [m for m in slack.posts(channel=ESCALATION) if m.get("thread_ts")] == []
    assert "Support hours removed" in await command(bot, "hours off")


async def test_settings_are_shared_by_every_process_on_the_database(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    first = await admin_bot(make_bot, llm)
    second = await make_bot(kb=False, support_admins=[ADMIN])
    await command(first, f"channel add <#{NEW}|new>")
    ts = await ask_in(second, NEW, "How do I export a report as CSV?")
    assert "Click *Export*" in slack.posts(channel=NEW, thread_ts=ts)[0]["text"]


async def test_the_settings_form_validates_fields_and_saves_everything_at_once(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await admin_bot(make_bot, llm, support_reviewers=[REVIEWER])
    status, _ = await bot.send.slash_command(ADMIN, "config")  # opens a modal, acks empty
    assert status == 200
    view = slack.calls_to("views.open")[-1]["view"]
    assert view["callback_id"] == ids.VIEW_CONFIG
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks[ids.BLOCK_CFG_AUTO]["element"]["initial_conversations"] == [SUPPORT]
    assert blocks[ids.BLOCK_CFG_ESCALATION]["element"]["initial_conversation"] == ESCALATION
    assert blocks[ids.BLOCK_CFG_REVIEWERS]["element"]["initial_users"] == [REVIEWER]
    values = form_values

    status, body = await bot.send.view_submission(
        ADMIN,
        ids.VIEW_CONFIG,
        values(
            **{
                ids.BLOCK_CFG_REVIEW: {
                    "type": "multi_conversations_select",
                    "selected_conversations": [SUPPORT],
                },
                ids.BLOCK_CFG_THRESHOLD: {"type": "number_input", "value": "7"},
                ids.BLOCK_CFG_REMINDER: {"type": "plain_text_input", "value": "soon"},
                ids.BLOCK_CFG_HOURS: {"type": "plain_text_input", "value": "weekdays"},
            }
        ),
    )
    errors = json.loads(body)["errors"]
    assert set(errors) == {
        ids.BLOCK_CFG_REVIEW,
        ids.BLOCK_CFG_THRESHOLD,
        ids.BLOCK_CFG_REMINDER,
        ids.BLOCK_CFG_HOURS,
    }
    assert await audit_rows(bot) == []
    status, body = await bot.send.view_submission(REVIEWER, ids.VIEW_CONFIG, values())
    assert "Only support-bot admins" in json.loads(body)["errors"][ids.BLOCK_CFG_ESCALATION]
    status, body = await bot.send.view_submission(ADMIN, ids.VIEW_CONFIG, values())
    assert status == 200 and body.strip() in ("", "null")
    keys = {key for _, action, key in await audit_rows(bot) if action == "config form"}
    assert keys == {
        "channels",
        "escalation_channel",
        "reviewers",
        "threshold",
        "review_reminder",
        "review_timeout",
    }
    status_text = await command(bot, "status")
    assert f"<#{NEW}> (every draft waits for a person's approval)" in status_text
    assert f"Review cards: <#{CARDS}>" in status_text and "<@U0THIRD>" in status_text


async def test_admins_see_the_configuration_in_force_on_app_home(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await admin_bot(make_bot, llm)
    await command(bot, "threshold 0.85")
    await command(bot, "pause")
    await bot.send.event(
        {"type": "app_home_opened", "user": ADMIN, "channel": "D0HOME", "tab": "home"}
    )
    blocks = slack.home_views[ADMIN]["blocks"]
    text = "\n".join(b["text"]["text"] for b in blocks if isinstance(b.get("text"), dict))
    assert "Auto-answer threshold: 0.85" in text and "Paused" in text


async def test_two_admins_changing_the_same_list_at_once_lose_nothing(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await admin_bot(make_bot, llm, support_reviewers=[REVIEWER])
    replies = await asyncio.gather(*(command(bot, f"reviewers add <@U0NEW{i}>") for i in range(4)))
    listed = await command(bot, "reviewers list")
    applied = [r for r in replies if "Someone changed the settings" not in r]
    for i in range(4):
        assert (f"<@U0NEW{i}>" in listed) == any(f"<@U0NEW{i}>" in r for r in applied)
    assert applied, "at least one change goes through"


# -- which categories are answered automatically -------------------------------------------


async def test_auto_sets_a_channels_categories_from_aliases_and_says_what_now_happens(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await admin_bot(make_bot, llm)
    await command(bot, f"channel add <#{NEW}|new>")
    reply = await command(bot, f"auto <#{NEW}|new> FAQ, Billing")
    assert reply == (
        f"<#{NEW}> has its own choice. In <#{NEW}>, Simple FAQ and Billing questions are"
        " answered automatically when the answer is grounded; everything else waits for review."
    )
    current = await snapshot(bot)
    assert current.answers_automatically(NEW) == {"simple_faq", "billing_query"}
    assert current.answers_automatically(SUPPORT) == {"simple_faq"}  # the default, untouched
    assert current.answers_automatically("C0ANYOTHER") == {"simple_faq"}
    assert await stored(bot, "auto_categories") == {
        "*": ["simple_faq"],
        NEW: ["billing_query", "simple_faq"],
    }
    # Full names, commas without spaces, any case.
    await command(bot, f"auto <#{NEW}> complex_issue,FEATURE_REQUEST")
    assert (await snapshot(bot)).answers_automatically(NEW) == {
        "complex_issue",
        "feature_request",
    }
    listing = await command(bot, "auto")
    assert "• Default: Simple FAQ" in listing
    assert f"• <#{NEW}>: Complex issue and Feature request" in listing
    assert listing == await command(bot, "auto list")
    assert [row[1:] for row in await audit_rows(bot)][-2:] == [
        ("auto channel", "auto_categories"),
        ("auto channel", "auto_categories"),
    ]


async def test_auto_default_none_and_back_to_the_default(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await admin_bot(make_bot, llm)
    await command(bot, f"channel add <#{NEW}|new> review")
    reply = await command(bot, f"auto <#{NEW}> none")
    assert f"In <#{NEW}>, nothing is answered automatically" in reply
    assert f"<#{NEW}> is `review`" in reply  # says the channel's mode still decides first
    assert (await snapshot(bot)).answers_automatically(NEW) == frozenset()

    reply = await command(bot, "auto default billing complex")
    assert reply.startswith(
        "In every channel without its own choice, Complex issue and Billing questions are"
        " answered automatically"
    )
    assert f"<#{NEW}>: own choice kept" in reply
    current = await snapshot(bot)
    assert current.answers_automatically(SUPPORT) == {"billing_query", "complex_issue"}
    assert current.answers_automatically(NEW) == frozenset()  # its own choice wins

    reply = await command(bot, f"auto <#{NEW}> default")
    assert reply.startswith(f"<#{NEW}> follows the default. In <#{NEW}>, Complex issue and")
    assert (await snapshot(bot)).answers_automatically(NEW) == {"billing_query", "complex_issue"}
    assert await stored(bot, "auto_categories") == {"*": ["billing_query", "complex_issue"]}

    await command(bot, "auto default none")
    assert (await snapshot(bot)).answers_automatically(SUPPORT) == frozenset()
    assert "• Default: nothing" in await command(bot, "auto list")


async def test_enabling_unknown_is_called_risky(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await admin_bot(make_bot, llm)
    assert "risky" not in await command(bot, f"auto <#{SUPPORT}> faq")
    reply = await command(bot, f"auto <#{SUPPORT}> faq unknown")
    assert "Simple FAQ and Unknown questions are answered automatically" in reply
    assert "⚠️" in reply and "risky" in reply
    assert "risky" in await command(bot, "auto list")
    assert "risky" in await command(bot, "auto default unknown")


async def test_auto_is_for_admins_and_bad_input_gets_a_clear_message_with_usage(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await admin_bot(make_bot, llm)
    assert "`/support auto" in await command(bot, "help")
    assert "/support auto" not in await command(bot, "help", user=REVIEWER)
    for text in (f"auto <#{SUPPORT}> faq unknown", "auto default unknown", "auto"):
        reply = await command(bot, text, user=REVIEWER)
        assert reply.startswith("Only support-bot admins can change settings"), text
    reply = await command(bot, f"auto <#{SUPPORT}> faq biling")
    assert "`biling` is not a category" in reply and "billing_query (billing)" in reply
    assert "Usage: `/support auto" in reply
    for text, fragment in (
        ("auto default", "name the categories"),
        (f"auto <#{SUPPORT}>", "name the categories"),
        (f"auto <#{SUPPORT}> faq none", "say none alone"),
        (f"auto <#{SUPPORT}> default faq", "`default` is not a category"),
        ("auto #general faq", "must be picked from Slack's channel list"),
        ("auto <!here> faq", "not a channel"),
        ("auto lists", "not a channel"),
    ):
        reply = await command(bot, text)
        assert fragment in reply and "Usage: `/support auto" in reply, (text, reply)
        assert "<!here>" not in reply
    assert "is not a support channel" in await command(bot, f"auto <#{NEW}> faq")
    assert await audit_rows(bot) == []
    assert (await snapshot(bot)).answers_automatically(SUPPORT) == {"simple_faq"}


async def test_removing_a_channel_drops_its_choice(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await admin_bot(make_bot, llm)
    await command(bot, f"channel add <#{NEW}|new>")
    await command(bot, f"auto <#{NEW}> billing")
    await command(bot, f"channel remove <#{NEW}>")
    assert await stored(bot, "auto_categories") == {"*": ["simple_faq"]}
    await command(bot, f"channel add <#{NEW}|new>")  # back again: it follows the default
    assert (await snapshot(bot)).answers_automatically(NEW) == {"simple_faq"}


async def test_categories_survive_a_restart_and_show_in_status_and_app_home(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await admin_bot(make_bot, llm, auto_answer_categories=["simple_faq", "billing_query"])
    assert "• Default: Simple FAQ and Billing" in await command(bot, "auto")  # the environment's
    await command(bot, f"channel add <#{NEW}|new>")
    await command(bot, f"auto <#{NEW}> feature")
    await command(bot, "auto default faq")
    await bot.restart()
    current = await snapshot(bot)
    assert current.answers_automatically(SUPPORT) == {"simple_faq"}
    assert current.answers_automatically(NEW) == {"feature_request"}
    status = await command(bot, "status")
    assert "• Answered automatically (default): Simple FAQ\n" in status
    assert f"• Answered automatically in <#{NEW}>: Feature request" in status
    await bot.send.event(
        {"type": "app_home_opened", "user": ADMIN, "channel": "D0HOME", "tab": "home"}
    )
    blocks = slack.home_views[ADMIN]["blocks"]
    text = "\n".join(b["text"]["text"] for b in blocks if isinstance(b.get("text"), dict))
    assert f"Answered automatically in <#{NEW}>: Feature request" in text


async def test_the_settings_form_sets_the_default_categories(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await admin_bot(make_bot, llm)
    await command(bot, f"channel add <#{NEW}|new> review")
    await command(bot, f"auto <#{NEW}> billing")
    await bot.send.slash_command(ADMIN, "config")
    view = slack.calls_to("views.open")[-1]["view"]
    blocks = view["blocks"]
    at = next(i for i, b in enumerate(blocks) if b.get("block_id") == ids.BLOCK_CFG_CATEGORIES)
    select = blocks[at]["element"]
    assert select["type"] == "multi_static_select"
    assert [o["value"] for o in select["options"]] == [
        "simple_faq",
        "complex_issue",
        "billing_query",
        "feature_request",
        "unknown",
    ]
    assert [o["value"] for o in select["initial_options"]] == ["simple_faq"]
    assert select["initial_options"][0] in select["options"]  # Slack wants them identical
    overrides = blocks[at + 1]["elements"][0]["text"]
    assert f"<#{NEW}>: Billing" in overrides and "/support auto" in overrides

    picked = {ids.BLOCK_CFG_CATEGORIES: categories_picked("billing_query", "simple_faq")}
    status, body = await bot.send.view_submission(ADMIN, ids.VIEW_CONFIG, form_values(**picked))
    assert status == 200 and body.strip() in ("", "null")
    current = await snapshot(bot)
    assert current.answers_automatically(SUPPORT) == {"billing_query", "simple_faq"}
    assert current.answers_automatically(NEW) == {"billing_query"}  # its own choice stays
    assert ("config form", "auto_categories") in [row[1:] for row in await audit_rows(bot)]

    # Nothing picked: nothing is answered automatically; a value not offered is refused.
    empty = {ids.BLOCK_CFG_CATEGORIES: categories_picked()}
    await bot.send.view_submission(ADMIN, ids.VIEW_CONFIG, form_values(**empty))
    assert (await snapshot(bot)).answers_automatically(SUPPORT) == frozenset()
    forged = {ids.BLOCK_CFG_CATEGORIES: categories_picked("everything")}
    status, body = await bot.send.view_submission(ADMIN, ids.VIEW_CONFIG, form_values(**forged))
    assert ids.BLOCK_CFG_CATEGORIES in json.loads(body)["errors"]
    assert (await snapshot(bot)).answers_automatically(SUPPORT) == frozenset()

    # The form shows what is in force when opened again.
    await command(bot, "auto default billing unknown")
    await bot.send.slash_command(ADMIN, "config")
    view = slack.calls_to("views.open")[-1]["view"]
    select = next(b for b in view["blocks"] if b.get("block_id") == ids.BLOCK_CFG_CATEGORIES)
    assert [o["value"] for o in select["element"]["initial_options"]] == [
        "billing_query",
        "unknown",
    ]


async def test_a_form_submitted_without_the_categories_keeps_them_and_drops_unlisted_channels(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await admin_bot(make_bot, llm)
    await command(bot, "auto default faq billing")
    await command(bot, f"channel add <#{CARDS}|cards> review")
    await command(bot, f"auto <#{CARDS}> none")
    # A form opened before the field existed; CARDS is not listed any more (it takes the cards).
    status, body = await bot.send.view_submission(ADMIN, ids.VIEW_CONFIG, form_values())
    assert status == 200 and body.strip() in ("", "null"), body
    assert await stored(bot, "auto_categories") == {"*": ["billing_query", "simple_faq"]}
