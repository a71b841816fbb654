"""The daily digest's knowledge gaps close the loop: each topic links to its tickets, and where
a person's reply was sent, "Write an article" opens the article form pre-filled from it."""

from __future__ import annotations

import time
from typing import Any

from bot.sandbox.standin import SlackStandIn
from bot.slack import ids
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.scenarios.test_saved_articles import leaked, prefilled, sent_reply
from tests.utils.harness import ADMIN, ESCALATION, HOME_TEAM, RunningBot


async def post_digest(bot: RunningBot, slack: SlackStandIn) -> dict[str, Any]:
    assert bot.runtime is not None and bot.runtime.digest is not None
    day = await bot.runtime.digest.maybe_post(at=time.time() + 86400)
    assert day is not None
    await bot.drained()
    (digest,) = [m for m in slack.posts(channel=ESCALATION) if m["text"].endswith(day)]
    return digest


async def test_a_gap_links_its_tickets_and_writes_an_article_from_the_sent_reply(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    # Nothing in the (empty) knowledge base fits; a reviewer edited and sent the reply.
    bot = await sent_reply(make_bot, slack, llm, offline=True, kb=False, digest_hour=0)
    ticket = (await bot.db.fetchall("SELECT id, channel_id, thread_ts FROM tickets"))[0]
    escalation = (await bot.db.fetchall("SELECT id FROM escalations"))[0]["id"]

    digest = await post_digest(bot, slack)
    gaps = [b for b in digest["blocks"] if "accessory" in b]
    assert len(gaps) == 1
    text = gaps[0]["text"]["text"]
    link = f"archives/{ticket['channel_id']}/p{ticket['thread_ts'].replace('.', '')}"
    assert f"|#{ticket['id']}>" in text and link in text
    button = gaps[0]["accessory"]
    assert button["text"]["text"] == "Write an article" and button["value"] == str(escalation)

    status, _ = await bot.send.block_action(
        ADMIN,
        button["action_id"],
        button["value"],
        team_id=HOME_TEAM,
        channel=ESCALATION,
        message=digest,
    )
    assert status == 200
    await bot.drained()
    view = slack.calls_to("views.open")[-1]["view"]
    assert view["callback_id"] == ids.VIEW_SAVE_ARTICLE
    title, body = prefilled(view)
    assert title and body and leaked(title) == [] and leaked(body) == []


async def test_a_gap_without_a_sent_reply_says_so_and_offers_no_button(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await make_bot(offline=True, kb=False, digest_hour=0)
    await bot.ask("Can we log in with Okta?")
    await bot.drained()
    digest = await post_digest(bot, slack)
    text = "\n".join(b["text"]["text"] for b in digest["blocks"] if "text" in b)
    assert "Knowledge gaps" in text and "No reply sent yet" in text
    assert not [b for b in digest["blocks"] if "accessory" in b]
