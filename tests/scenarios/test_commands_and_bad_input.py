"""Slash commands and malformed interactivity through the real app: an answer, never silence."""

from __future__ import annotations

import json

from bot.sandbox.standin import SlackStandIn
from bot.slack import ids
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.harness import ESCALATION, OUTSIDER, REVIEWER, SUPPORT

ADMIN = "UADMIN"


async def test_support_help_and_status_answer_privately(make_bot: BotFactory) -> None:
    bot = await make_bot(support_bot_model="gpt-test")  # a model the fake LLM offers
    status, body = await bot.send.slash_command(REVIEWER, "help")
    assert status == 200
    reply = json.loads(body)
    assert reply["response_type"] == "ephemeral"
    assert "/support status" in reply["text"] and "You are a reviewer" in reply["text"]
    status, body = await bot.send.slash_command(OUTSIDER, "status")
    assert json.loads(body)["text"] == "Only the support team can see the bot's status."
    status, body = await bot.send.slash_command(REVIEWER, "status")
    text = json.loads(body)["text"]
    assert f"<#{SUPPORT}>" in text and f"<#{ESCALATION}>" in text
    assert "0 card(s) awaiting review" in text
    assert "✅ slack" in text and "✅ database" in text and "✅ llm" in text


async def test_unknown_subcommand_shows_the_right_form(make_bot: BotFactory) -> None:
    bot = await make_bot()
    _, body = await bot.send.slash_command(REVIEWER, "frobnicate now")
    assert json.loads(body)["text"] == "I don't know `/support frobnicate`. Try `/support help`."


async def test_click_on_an_unknown_card_says_so(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await make_bot()
    status, _ = await bot.send.block_action(
        REVIEWER, ids.ACTION_APPROVE, "999", channel=ESCALATION, message_ts="1.000001"
    )
    assert status == 200
    assert [e["text"] for e in slack.ephemerals] == ["This card is not known to the bot."]
    assert slack.calls_to("chat.postMessage") == []


async def test_edit_submission_with_a_broken_form_or_empty_text_shows_field_errors(
    make_bot: BotFactory, slack: SlackStandIn
) -> None:
    bot = await make_bot()
    values = {ids.BLOCK_EDIT_TEXT: {ids.ACTION_EDIT_TEXT: "hello"}}
    status, body = await bot.send.view_submission(REVIEWER, ids.VIEW_EDIT, values, "not json")
    assert status == 200
    assert json.loads(body)["errors"][ids.BLOCK_EDIT_TEXT].startswith("This form is out of date")
    empty = {ids.BLOCK_EDIT_TEXT: {ids.ACTION_EDIT_TEXT: "   "}}
    _, body = await bot.send.view_submission(
        REVIEWER, ids.VIEW_EDIT, empty, json.dumps({"escalation_id": 1})
    )
    assert json.loads(body)["errors"][ids.BLOCK_EDIT_TEXT] == "Write the reply to send."
    assert slack.calls_to("chat.postMessage") == []


async def test_kb_search_add_and_remove_from_slack(
    make_bot: BotFactory, slack: SlackStandIn
) -> None:
    bot = await make_bot(support_admins=[ADMIN])
    _, body = await bot.send.slash_command(REVIEWER, "kb search how do I export a report as CSV")
    text = json.loads(body)["text"]
    assert (
        "relevant passages found: I would draft from these" in text and "Exporting reports" in text
    )
    _, body = await bot.send.slash_command(OUTSIDER, "kb search export")
    assert "Only support reviewers" in json.loads(body)["text"]

    _, body = await bot.send.slash_command(REVIEWER, "kb add")
    assert "Only support-bot admins" in json.loads(body)["text"]
    status, _ = await bot.send.slash_command(ADMIN, "kb add")
    assert status == 200
    modal = slack.calls_to("views.open")[-1]["view"]
    assert modal["callback_id"] == ids.VIEW_KB_ADD

    bad = {
        ids.BLOCK_KB_TITLE: {ids.ACTION_KB_TITLE: "API keys"},
        ids.BLOCK_KB_BODY: {ids.ACTION_KB_BODY: ""},
        ids.BLOCK_KB_URL: {ids.ACTION_KB_URL: "ftp://nope"},
    }
    _, body = await bot.send.view_submission(ADMIN, ids.VIEW_KB_ADD, bad)
    errors = json.loads(body)["errors"]
    assert set(errors) == {ids.BLOCK_KB_BODY, ids.BLOCK_KB_URL}
    good = {
        ids.BLOCK_KB_TITLE: {ids.ACTION_KB_TITLE: "API keys"},
        ids.BLOCK_KB_BODY: {ids.ACTION_KB_BODY: "## Rotate API keys\nOpen Settings › API, Rotate."},
        ids.BLOCK_KB_URL: {ids.ACTION_KB_URL: "https://help.example.com/api-keys"},
    }
    _, body = await bot.send.view_submission(ADMIN, ids.VIEW_KB_ADD, good)
    reply = json.loads(body)
    assert reply["response_action"] == "update"
    article_id = int(reply["view"]["blocks"][0]["text"]["text"].split("#")[1].split(",")[0])
    _, body = await bot.send.slash_command(REVIEWER, "kb search how do I rotate API keys")
    assert "API keys › Rotate API keys" in json.loads(body)["text"]

    _, body = await bot.send.slash_command(ADMIN, "kb remove nope")
    assert "Usage" in json.loads(body)["text"]
    _, body = await bot.send.slash_command(ADMIN, f"kb remove {article_id}")
    assert json.loads(body)["text"] == f"Removed article #{article_id}, “API keys”."
    _, body = await bot.send.slash_command(ADMIN, f"kb remove {article_id}")
    assert json.loads(body)["text"] == f"There is no article #{article_id}."
