"""Save as article through the real app (signed HTTP, the Slack stand-in, the fake OpenAI API):
one customer's names, numbers and links never reach the knowledge base every customer reads;
only admins write articles, from a card and with ``/support kb add`` alike; a card is saved once,
and only while it holds a sent reply; customers are answered only from reviewed articles."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

from bot.kb.base import KnowledgeBase
from bot.sandbox.standin import SlackStandIn
from bot.slack import ids
from persistence.connect import database_from_url
from persistence.knowledge import KnowledgeRepository
from persistence.retention import RetentionRepository
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.harness import (
    ADMIN,
    CUSTOMER,
    CUSTOMER_TEAM,
    OUTSIDER,
    REVIEWER,
    RunningBot,
    classification,
    click,
    draft,
)

QUESTION = (
    "Acme Corp (acct 99812) says invoice INV-4411 for $12,300 was charged twice to card"
    " 4242 4242 4242 4242, contact dana@acme.example"
)
REPLY = (
    "Hi Dana, I've refunded the duplicate $12,300 charge on invoice INV-4411 for Acme Corp"
    " (acct 99812); it reaches the card ending in 4242 within 5 to 10 days. Our notes:"
    " https://acme.slack.com/archives/CSUPPORT/p1700000000000100 - call me on +1 (555) 123-4567.\n"
    "\n"
    "To refund a duplicate charge yourself, open Settings > Billing, pick the invoice and press"
    " *Refund duplicate*."
)
# None of these may be in the form: the customer's company (also as their Slack Connect team's
# name, and in their e-mail domain), account, invoice and card numbers, the amount, the e-mail
# address, their name (from users.info), the link to their workspace and the phone number.
IDENTIFIERS = [
    "Acme",
    "acme",
    "99812",
    "INV-4411",
    "4411",
    "12,300",
    "4242",
    "dana@",
    "Dana",
    "Scully",
    "slack.com",
    "555",
]
EVERY_CUSTOMER = "Every customer will see this article"
GENERAL = {
    "title": "What to do when an invoice was charged twice",
    "body": (
        "## Refund a duplicate charge\n"
        "Open Settings > Billing, pick the invoice and press *Refund duplicate*. The refund"
        " reaches the card within 5 to 10 days."
    ),
}
GENERALISE_MARKER = "general help article"


def responder(
    generalised: dict[str, Any] | str | None = None,
    *,
    answer: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Callable[[dict[str, Any]], str]:
    """Classify as billing (a card), write a draft the team will edit, and generalise."""

    def respond(request: dict[str, Any]) -> str:
        system = request["messages"][0]["content"]
        if "You triage customer questions" in system:
            return json.dumps(
                classification(
                    "billing_query" if answer is None else "simple_faq",
                    0.9,
                    summary="Acme Corp (acct 99812) was charged twice for invoice INV-4411.",
                    search_query="refund a duplicate charge on an invoice",
                )
            )
        if "You write replies to customers" in system:
            if answer is not None:
                return json.dumps(answer(request))
            return json.dumps(draft("Let me check that with the team.", [], grounded=False))
        if GENERALISE_MARKER in system:
            reply = generalised if generalised is not None else GENERAL
            return reply if isinstance(reply, str) else json.dumps(reply)
        return "{}"

    return respond


def known_customer(slack: SlackStandIn) -> None:
    """The customer as users.info and team.info describe them."""
    slack.users[CUSTOMER] = {
        "real_name": "Dana Scully",
        "name": "dana.scully",
        "profile": {
            "display_name": "Dana",
            "real_name": "Dana Scully",
            "first_name": "Dana",
            "last_name": "Scully",
        },
    }
    slack.teams[CUSTOMER_TEAM] = {"name": "Acme Corp", "domain": "acme"}


async def sent_reply(
    make_bot: BotFactory,
    slack: SlackStandIn,
    llm: FakeOpenAI,
    *,
    offline: bool = False,
    generalised: dict[str, Any] | str | None = None,
    **overrides: Any,
) -> RunningBot:
    """A card for the customer's question, answered with an edited reply full of their data."""
    known_customer(slack)
    if not offline:
        llm.set_responder(responder(generalised))
    bot = await make_bot(offline=offline, support_admins=[ADMIN], **overrides)
    await bot.ask(QUESTION)
    await bot.drained()
    assert await bot.ticket_states() == ["awaiting_review"]
    await click(bot, ids.ACTION_EDIT)
    view = slack.calls_to("views.open")[-1]["view"]
    status, _ = await bot.send.view_submission(
        REVIEWER,
        ids.VIEW_EDIT,
        {ids.BLOCK_EDIT_TEXT: {ids.ACTION_EDIT_TEXT: REPLY}},
        view["private_metadata"],
    )
    assert status == 200
    await bot.drained()
    rows = await bot.db.fetchall("SELECT state, final_text FROM escalations")
    assert [(r["state"], r["final_text"]) for r in rows] == [("edited", REPLY)]
    return bot


def prefilled(view: dict[str, Any]) -> tuple[str, str]:
    def value(block_id: str) -> str:
        block = next(b for b in view["blocks"] if b.get("block_id") == block_id)
        return str(block["element"].get("initial_value", ""))

    return value(ids.BLOCK_KB_TITLE), value(ids.BLOCK_KB_BODY)


def view_text(view: dict[str, Any]) -> str:
    parts: list[str] = []
    for block in view["blocks"]:
        if isinstance(block.get("text"), dict):
            parts.append(block["text"]["text"])
        parts += [e["text"] for e in block.get("elements") or [] if isinstance(e.get("text"), str)]
    return "\n".join(parts)


def leaked(text: str) -> list[str]:
    return [i for i in IDENTIFIERS if i in text]


def form_values(title: str, body: str, url: str = "") -> dict[str, Any]:
    return {
        ids.BLOCK_KB_TITLE: {ids.ACTION_KB_TITLE: title},
        ids.BLOCK_KB_BODY: {ids.ACTION_KB_BODY: body},
        ids.BLOCK_KB_URL: {ids.ACTION_KB_URL: url},
    }


async def submit_article(
    bot: RunningBot, user: str, values: dict[str, Any], escalation_id: int = 1
) -> dict[str, Any]:
    status, body = await bot.send.view_submission(
        user, ids.VIEW_SAVE_ARTICLE, values, json.dumps({"escalation_id": escalation_id})
    )
    assert status == 200
    return json.loads(body) if body.strip() else {}


async def articles(bot: RunningBot) -> list[dict[str, Any]]:
    rows = await bot.db.fetchall("SELECT id, title, source FROM kb_articles ORDER BY id")
    return [dict(r) for r in rows]


# -- the pre-filled form ---------------------------------------------------------------------


async def test_offline_rules_take_the_customers_data_out_of_the_form_and_it_warns(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await sent_reply(make_bot, slack, llm, offline=True)
    await click(bot, ids.ACTION_SAVE_ARTICLE, user=ADMIN)
    view = slack.calls_to("views.open")[-1]["view"]
    assert view["callback_id"] == ids.VIEW_SAVE_ARTICLE
    title, body = prefilled(view)
    assert title and body
    assert leaked(title) == [] and leaked(body) == [], (title, body)
    # What is not the customer's stays, with placeholders where their data was.
    assert "charged twice" in title and "[amount]" in body and "Refund duplicate" in body
    assert "[invoice number]" in body and "[account id]" in body and "[company]" in body
    assert EVERY_CUSTOMER in view_text(view)
    assert "replaced by rules" in view_text(view)
    assert llm.requests == []


async def test_with_a_model_the_form_shows_its_general_version(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await sent_reply(make_bot, slack, llm)
    # The sent reply was generalised once already, as a proposed verified answer
    # (tests/scenarios/test_verified_answers.py); the form asks the model again.
    before = len(llm.requests)
    await click(bot, ids.ACTION_SAVE_ARTICLE, user=ADMIN)
    # The model may take longer than a click's trigger lives: the form opens at once, waiting.
    waiting = slack.calls_to("views.open")[-1]["view"]
    assert "submit" not in waiting and EVERY_CUSTOMER in view_text(waiting)
    await bot.drained()
    asked = [r for r in llm.requests[before:] if GENERALISE_MARKER in r["messages"][0]["content"]]
    assert len(asked) == 1
    system, user = (m["content"] for m in asked[0]["messages"])
    assert "Generalise the question and the answer" in system
    assert "Leave out every person's name" in system
    assert "Dana Scully" in user and "Acme Corp" in user  # the names it must leave out
    assert REPLY in user
    update = slack.calls_to("views.update")[-1]
    view = update["view"]
    assert view["callback_id"] == ids.VIEW_SAVE_ARTICLE
    assert prefilled(view) == (GENERAL["title"], GENERAL["body"])
    assert EVERY_CUSTOMER in view_text(view) and "written by the model" in view_text(view)
    steps = await bot.db.fetchall(
        "SELECT prompt_name, detail FROM ticket_events WHERE step = 'article_generalised'"
    )
    assert [(r["prompt_name"], json.loads(r["detail"])["how"]) for r in steps] == [
        ("generalise", "model")
    ] * 2  # the verified answer's, then the form's

    form = await submit_article(bot, ADMIN, form_values(GENERAL["title"], GENERAL["body"]))
    assert form["response_action"] == "update"
    saved = await articles(bot)
    assert saved[-1]["title"] == GENERAL["title"]
    assert saved[-1]["source"] == "slack:reviewed:escalation:1"


async def test_the_models_leftovers_are_caught_by_the_rules(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    careless = {
        "title": "Acme Corp was charged twice",
        "body": "Refund INV-4411 ($12,300) from Settings > Billing; mail dana@acme.example.",
    }
    bot = await sent_reply(make_bot, slack, llm, generalised=careless)
    await click(bot, ids.ACTION_SAVE_ARTICLE, user=ADMIN)
    await bot.drained()
    title, body = prefilled(slack.calls_to("views.update")[-1]["view"])
    assert leaked(title) == [] and leaked(body) == [], (title, body)
    assert "Settings > Billing" in body


async def test_when_the_model_fails_the_rules_fill_the_form_and_it_says_so(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await sent_reply(make_bot, slack, llm, generalised="not JSON at all")
    await click(bot, ids.ACTION_SAVE_ARTICLE, user=ADMIN)
    await bot.drained()
    view = slack.calls_to("views.update")[-1]["view"]
    title, body = prefilled(view)
    assert leaked(title) == [] and leaked(body) == [], (title, body)
    assert "Refund duplicate" in body
    assert "The model could not write a general version" in view_text(view)
    assert EVERY_CUSTOMER in view_text(view)


# -- who may write articles ------------------------------------------------------------------


async def test_only_admins_write_articles_from_a_card_and_with_kb_add(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await sent_reply(make_bot, slack, llm, offline=True)
    opened = len(slack.calls_to("views.open"))
    # A reviewer decides what one customer reads, not what every customer reads.
    await click(bot, ids.ACTION_SAVE_ARTICLE, user=REVIEWER)
    refusal = slack.ephemerals[-1]["text"]
    assert refusal.startswith("Only support-bot admins can add articles")
    assert len(slack.calls_to("views.open")) == opened
    # A submission that did not come from a form they could open is refused the same way.
    for user in (REVIEWER, OUTSIDER):
        form = await submit_article(bot, user, form_values("Refunds", "Press Refund duplicate."))
        assert form["errors"][ids.BLOCK_KB_TITLE] == refusal
    _, reply = await bot.send.slash_command(REVIEWER, "kb add")
    assert json.loads(reply)["text"] == refusal
    assert not [a for a in await articles(bot) if a["source"].startswith("slack:")]

    # An admin of the workspace (users.info), not listed, may do both.
    slack.users["UWSADMIN"] = {"is_admin": True}
    await click(bot, ids.ACTION_SAVE_ARTICLE, user="UWSADMIN")
    assert slack.calls_to("views.open")[-1]["view"]["callback_id"] == ids.VIEW_SAVE_ARTICLE
    status, _ = await bot.send.slash_command("UWSADMIN", "kb add")
    assert status == 200
    kb_add = slack.calls_to("views.open")[-1]["view"]
    assert kb_add["callback_id"] == ids.VIEW_KB_ADD and EVERY_CUSTOMER in view_text(kb_add)
    form = await submit_article(bot, "UWSADMIN", form_values("Refunds", "Press Refund duplicate."))
    assert form["response_action"] == "update"


# -- saving checks everything again ----------------------------------------------------------


async def test_a_card_is_saved_once(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await sent_reply(make_bot, slack, llm, offline=True)
    await click(bot, ids.ACTION_SAVE_ARTICLE, user=ADMIN)
    values = form_values("Refund a duplicate charge", "Press *Refund duplicate*.")
    first = await submit_article(bot, ADMIN, values)
    assert first["response_action"] == "update"
    await bot.drained()
    saved = [a for a in await articles(bot) if a["source"].startswith("slack:")]
    assert [a["source"] for a in saved] == ["slack:reviewed:escalation:1"]
    # The same form submitted again (a double click, or a second admin's form opened before):
    # refused, and the article stands as saved.
    again = await submit_article(bot, ADMIN, form_values("Something else", "Other text."))
    assert again["errors"][ids.BLOCK_KB_TITLE] == (
        f"This reply was already saved as article #{saved[0]['id']}."
    )
    assert [a for a in await articles(bot) if a["source"].startswith("slack:")] == saved
    # Nor can the form be opened again.
    await click(bot, ids.ACTION_SAVE_ARTICLE, user=ADMIN)
    assert "already saved as article" in slack.ephemerals[-1]["text"]
    events = await bot.db.fetchall("SELECT step FROM ticket_events WHERE step = 'saved_as_article'")
    assert len(events) == 1


async def test_a_card_without_a_sent_reply_cannot_be_saved(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    known_customer(slack)
    llm.set_responder(responder())
    bot = await make_bot(support_admins=[ADMIN])
    await bot.ask(QUESTION)
    await bot.drained()
    assert await bot.ticket_states() == ["awaiting_review"]
    # The card still waits: there is no sent reply, whatever a form says.
    form = await submit_article(bot, ADMIN, form_values("Refunds", "Press Refund duplicate."))
    assert "this card is still waiting" in form["errors"][ids.BLOCK_KB_TITLE]
    assert not [a for a in await articles(bot) if a["source"].startswith("slack:")]


async def test_a_reply_purged_while_the_form_was_open_cannot_be_saved(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await sent_reply(make_bot, slack, llm, offline=True)
    await click(bot, ids.ACTION_SAVE_ARTICLE, user=ADMIN)
    title, body = prefilled(slack.calls_to("views.open")[-1]["view"])
    # Meanwhile the ticket is resolved and the retention purge removes its text.
    await click(bot, ids.ACTION_RESOLVE, user=REVIEWER)
    await bot.drained()
    assert await bot.ticket_states() == ["resolved"]
    assert await RetentionRepository(bot.db).purge_resolved_before(time.time() + 60) == 1
    form = await submit_article(bot, ADMIN, form_values(title, body))
    assert "no longer kept" in form["errors"][ids.BLOCK_KB_TITLE]
    assert not [a for a in await articles(bot) if a["source"].startswith("slack:")]


# -- what customers are answered from --------------------------------------------------------


async def test_customers_are_answered_from_reviewed_articles_never_from_unreviewed_ones(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    """An article the old "Save as article" stored from one customer's conversation, as it
    stood, is never shown to the model nor named under an answer (``kb search`` says why); one
    saved through the reviewed form answers the next customer and is named."""
    shown: list[int] = []

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        prompt = request["messages"][1]["content"]
        found = [int(n) for n in re.findall(r"\[article (\d+)\]", prompt)]
        shown.extend(found)
        refunds = [int(n) for n in re.findall(r"\[article (\d+)\] Refund", prompt)]
        return draft(
            "Open Settings > Billing, pick the invoice and press Refund duplicate.", refunds[:1]
        )

    known_customer(slack)
    llm.set_responder(responder(answer=answer))
    bot = await make_bot(support_admins=[ADMIN])
    await bot.stop()
    db = database_from_url(bot.settings.database_url)
    await db.open()
    try:
        kb = KnowledgeBase(KnowledgeRepository(db))
        legacy = await kb.add_article(
            title="Refund duplicate charge for Acme Corp invoice INV-4411",
            body="Acme Corp (acct 99812) was charged $12,300 twice: refund the duplicate charge"
            " from Settings > Billing, pick the invoice and press Refund duplicate.",
            url=None,
            author=REVIEWER,
            source="slack:escalation:7",
        )
        reviewed = await kb.add_article(
            title="Refund a duplicate charge",
            body="Open Settings > Billing, pick the invoice and press Refund duplicate. The"
            " refund reaches the card within 5 to 10 days.",
            url=None,
            author=ADMIN,
            source="slack:reviewed:escalation:8",
        )
    finally:
        await db.close()
    await bot.start()
    ts = await bot.ask("How do I refund a duplicate charge on an invoice?", user="UOTHER")
    await bot.drained()
    drafts = [
        r["messages"][1]["content"]
        for r in llm.requests
        if "You write replies to customers" in r["messages"][0]["content"]
    ]
    assert drafts and all("INV-4411" not in d and "Acme" not in d for d in drafts)
    assert reviewed in shown and legacy not in shown
    assert await bot.ticket_states() == ["answered"]
    reply = bot.thread(ts)[-1]
    assert "Sources: Refund a duplicate charge" in reply["text"]
    for message in slack.posts():
        assert "INV-4411" not in json.dumps(message) and "Acme" not in json.dumps(message)
    _, found = await bot.send.slash_command(REVIEWER, "kb search refund duplicate charge invoice")
    text = json.loads(found)["text"]
    assert f"#{legacy}" in text and "not used in answers" in text
