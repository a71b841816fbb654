"""Verified answers through the real app (signed HTTP, the Slack stand-in, the fake OpenAI API):
a reply a reviewer sends is proposed, generalised, in the admins' App Home; approved, it answers
the next customer, named "Verified answer"; discarded, it adds nothing; only admins decide, once;
no proposal keeps a customer's names, ids, amounts or links (a corpus of realistic tickets)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest

from bot.sandbox.standin import SlackStandIn
from bot.slack import ids
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.scenarios.test_app_home import home_buttons, home_text, open_home
from tests.scenarios.test_saved_articles import (
    GENERAL,
    GENERALISE_MARKER,
    QUESTION,
    REPLY,
    articles,
    known_customer,
    leaked,
    responder,
    sent_reply,
)
from tests.utils.harness import ADMIN, HOME_TEAM, REVIEWER, RunningBot, click, draft

SECTION = "Verified answers to check"


async def proposals(bot: RunningBot) -> list[dict[str, Any]]:
    rows = await bot.db.fetchall(
        "SELECT id, origin, escalation_id, title, body, state, decided_by, article_id"
        " FROM verified_answers ORDER BY id"
    )
    return [dict(r) for r in rows]


def verified_buttons(view: dict[str, Any], action: str) -> list[str]:
    return [v for a, v in home_buttons(view) if a == action]


async def home_click(bot: RunningBot, user: str, action: str, value: str) -> None:
    status, _ = await bot.send.block_action(
        user, ids.home_action(action, int(value)), value, team_id=HOME_TEAM
    )
    assert status == 200
    await bot.drained()


def dms(slack: SlackStandIn, user: str) -> list[str]:
    return [m["text"] for m in slack.posts(channel=user)]


# -- proposed, approved, cited ---------------------------------------------------------------


async def test_an_approved_verified_answer_answers_the_next_customer(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await sent_reply(make_bot, slack, llm)
    [proposal] = await proposals(bot)
    assert proposal["state"] == "proposed" and proposal["escalation_id"] == 1
    assert (proposal["title"], proposal["body"]) == (GENERAL["title"], GENERAL["body"])

    # The admin sees it in App Home, with Approve and Discard; a reviewer does not.
    await open_home(bot, ADMIN)
    view = slack.home_views[ADMIN]
    assert len(view["blocks"]) <= 100
    text = home_text(view)
    assert f"{SECTION} (1)" in text and GENERAL["title"] in text
    assert leaked(text[text.index(SECTION) :]) == []
    approve = verified_buttons(view, ids.ACTION_VERIFIED_APPROVE)
    assert approve == [str(proposal["id"])]
    assert verified_buttons(view, ids.ACTION_VERIFIED_DISCARD) == approve
    await open_home(bot, REVIEWER)
    assert SECTION not in home_text(slack.home_views[REVIEWER])

    # Approve: the article, as its own source; the tab re-renders without the proposal.
    await home_click(bot, ADMIN, ids.ACTION_VERIFIED_APPROVE, approve[0])
    [approved] = await proposals(bot)
    assert approved["state"] == "approved" and approved["decided_by"] == ADMIN
    verified = [a for a in await articles(bot) if a["source"].startswith("slack:verified:")]
    assert verified == [
        {
            "id": approved["article_id"],
            "title": GENERAL["title"],
            "source": f"slack:verified:{approved['id']}",
        }
    ]
    assert SECTION not in home_text(slack.home_views[ADMIN])

    # The next customer asking the same thing is answered from it, and it is named
    # "Verified answer", not by its title.
    cited: list[int] = []

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        prompt = request["messages"][1]["content"]
        found = [int(n) for n in re.findall(r"\[article (\d+)\] What to do when", prompt)]
        cited.extend(found)
        return draft(
            "Open Settings > Billing, pick the invoice and press *Refund duplicate*.", found[:1]
        )

    llm.set_responder(responder(answer=answer))
    ts = await bot.ask("How do I refund a duplicate charge on an invoice?", user="UOTHER")
    await bot.drained()
    assert cited and cited[0] == approved["article_id"]
    assert (await bot.ticket_states())[-1] == "answered"
    reply = bot.thread(ts)[-1]
    assert "Sources: Verified answer" in reply["text"]
    assert GENERAL["title"] not in json.dumps(reply)

    # /support stats counts it.
    _, stats = await bot.send.slash_command(ADMIN, "stats")
    assert "Verified answers served: 1" in json.dumps(json.loads(stats))


async def test_offline_the_rules_write_the_proposal(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await sent_reply(make_bot, slack, llm, offline=True)
    [proposal] = await proposals(bot)
    assert leaked(proposal["title"]) == [] and leaked(proposal["body"]) == [], proposal
    assert "charged twice" in proposal["title"] and "Refund duplicate" in proposal["body"]
    assert llm.requests == []


# -- discarded, refused, decided once ----------------------------------------------------------


async def test_a_discarded_proposal_adds_nothing_and_is_decided_once(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await sent_reply(make_bot, slack, llm, offline=True)
    [proposal] = await proposals(bot)
    value = str(proposal["id"])
    await open_home(bot, ADMIN)
    await home_click(bot, ADMIN, ids.ACTION_VERIFIED_DISCARD, value)
    [discarded] = await proposals(bot)
    assert discarded["state"] == "discarded" and discarded["article_id"] is None
    assert not [a for a in await articles(bot) if a["source"].startswith("slack:verified:")]
    assert SECTION not in home_text(slack.home_views[ADMIN])
    # A second click (the tab not yet re-rendered, or a second admin): told who decided.
    await home_click(bot, ADMIN, ids.ACTION_VERIFIED_APPROVE, value)
    assert dms(slack, ADMIN)[-1].startswith(
        "This verified answer was already discarded by <@UADMIN>"
    )
    assert not [a for a in await articles(bot) if a["source"].startswith("slack:verified:")]


async def test_only_admins_approve_and_a_double_click_is_told_who_did(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await sent_reply(make_bot, slack, llm, offline=True)
    [proposal] = await proposals(bot)
    value = str(proposal["id"])
    # A reviewer decides what one customer reads, not what every customer reads.
    await home_click(bot, REVIEWER, ids.ACTION_VERIFIED_APPROVE, value)
    assert dms(slack, REVIEWER)[-1].startswith("Only support-bot admins can add articles")
    await home_click(bot, REVIEWER, ids.ACTION_VERIFIED_DISCARD, value)
    assert dms(slack, REVIEWER)[-1].startswith("Only support-bot admins can add articles")
    assert (await proposals(bot))[0]["state"] == "proposed"
    # A workspace admin not listed as a reviewer sees no review queue, but does see these.
    slack.users["UWSADMIN"] = {"is_admin": True}
    await open_home(bot, "UWSADMIN")
    view = slack.home_views["UWSADMIN"]
    assert f"{SECTION} (1)" in home_text(view) and "Waiting for review" not in home_text(view)
    assert verified_buttons(view, ids.ACTION_VERIFIED_APPROVE) == [value]

    await home_click(bot, ADMIN, ids.ACTION_VERIFIED_APPROVE, value)
    await home_click(bot, ADMIN, ids.ACTION_VERIFIED_APPROVE, value)
    assert dms(slack, ADMIN)[-1].startswith(
        "This verified answer was already approved by <@UADMIN>"
    )
    verified = [a for a in await articles(bot) if a["source"].startswith("slack:verified:")]
    assert len(verified) == 1
    # A card decided again (a second Approve of the card) proposes nothing more.
    await click(bot, ids.ACTION_APPROVE)
    await bot.drained()
    assert len(await proposals(bot)) == 1


@pytest.mark.parametrize(
    ("action", "state"), [(ids.ACTION_REJECT, "rejected"), (ids.ACTION_RESOLVE, "resolved")]
)
async def test_a_card_closed_without_a_sent_reply_proposes_nothing(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI, action: str, state: str
) -> None:
    """Rejected, or resolved with no teammate's reply in the thread: nothing to propose."""
    known_customer(slack)
    bot = await make_bot(offline=True, support_admins=[ADMIN])
    await bot.ask(QUESTION)
    await bot.drained()
    await click(bot, action)
    await bot.drained()
    assert await bot.ticket_states() == [state]
    assert await proposals(bot) == []


# -- a thread a teammate resolved with their own reply -----------------------------------------


async def teammate_resolved(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI, *, offline: bool = False
) -> tuple[RunningBot, str]:
    """A card for the customer's question; a teammate answers in the thread instead (a
    takeover), the customer says thanks, and the teammate resolves the ticket."""
    known_customer(slack)
    if not offline:
        llm.set_responder(responder())
    bot = await make_bot(offline=offline, support_admins=[ADMIN])
    ts = await bot.ask(QUESTION)
    await bot.drained()
    await bot.ask(REPLY, user=REVIEWER, team=HOME_TEAM, thread_ts=ts)
    await bot.drained()
    assert await bot.ticket_states() == ["human"]
    await bot.ask("thanks!", thread_ts=ts)
    await bot.drained()
    status, body = await bot.send.slash_command(REVIEWER, "resolve 1")
    assert status == 200 and "Ticket #1 is resolved" in json.loads(body)["text"]
    await bot.drained()
    return bot, ts


async def test_a_thread_a_teammate_resolved_with_their_reply_is_proposed_and_citable(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await teammate_resolved(make_bot, slack, llm)
    [proposal] = await proposals(bot)
    assert proposal["origin"] == "thread:1" and proposal["escalation_id"] is None
    assert (proposal["title"], proposal["body"]) == (GENERAL["title"], GENERAL["body"])
    # The model generalised the teammate's reply, with the customer's question.
    [asked] = [
        r["messages"][1]["content"]
        for r in llm.requests
        if GENERALISE_MARKER in r["messages"][0]["content"]
    ]
    assert "press *Refund duplicate*" in asked and "charged twice" in asked
    assert "thanks!" not in asked.split("press *Refund duplicate*")[-1]
    steps = [r["step"] for r in await bot.db.fetchall("SELECT step FROM ticket_events ORDER BY id")]
    assert "verified_proposed" in steps

    await open_home(bot, ADMIN)
    [value] = verified_buttons(slack.home_views[ADMIN], ids.ACTION_VERIFIED_APPROVE)
    await home_click(bot, ADMIN, ids.ACTION_VERIFIED_APPROVE, value)
    [approved] = await proposals(bot)
    assert approved["state"] == "approved" and approved["article_id"] is not None
    assert [a["source"] for a in await articles(bot) if a["id"] == approved["article_id"]] == [
        f"slack:verified:{approved['id']}"
    ]
    # Reopened, answered by the teammate and resolved once more: still one proposal per thread.
    await bot.ask("It happened again on the next invoice.", thread_ts=ts)
    await bot.drained()
    await bot.ask("Refunded that one too.", user=REVIEWER, team=HOME_TEAM, thread_ts=ts)
    await bot.drained()
    status, _ = await bot.send.slash_command(REVIEWER, "resolve 1")
    assert status == 200
    await bot.drained()
    assert await bot.ticket_states() == ["resolved"]
    assert [p["id"] for p in await proposals(bot)] == [approved["id"]]


async def test_offline_a_teammates_thread_reply_is_proposed_without_the_customers_data(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, _ = await teammate_resolved(make_bot, slack, llm, offline=True)
    [proposal] = await proposals(bot)
    text = proposal["title"] + "\n" + proposal["body"]
    assert leaked(text) == [], text
    assert "Refund duplicate" in proposal["body"]


async def test_the_home_tab_caps_the_list_within_slacks_blocks(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await make_bot(offline=True, support_admins=[ADMIN])
    for n in range(8):
        await bot.ask(f"Question {n}: how do I export my invoices to a spreadsheet?")
    await bot.drained()
    for card in bot.cards():
        await click(bot, ids.ACTION_APPROVE, card=card)
    await bot.drained()
    assert len(await proposals(bot)) == 8
    await open_home(bot, ADMIN)
    view = slack.home_views[ADMIN]
    assert len(view["blocks"]) <= 100
    text = home_text(view)
    assert f"{SECTION} (8)" in text and "and 3 more" in text
    approve = verified_buttons(view, ids.ACTION_VERIFIED_APPROVE)
    assert len(approve) == 5
    action_ids = [
        e["action_id"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert len(action_ids) == len(set(action_ids))


# -- a corpus of realistic tickets -----------------------------------------------------------


@dataclass(frozen=True)
class Ticket:
    user: str
    team: str
    profile: dict[str, Any]
    company: str
    question: str
    reply: str
    identifiers: list[str]


CORPUS = [
    Ticket(
        user="UCUSTOMER",
        team="TCUSTOMER",
        profile={"real_name": "Dana Scully", "name": "dana.scully"},
        company="Acme Corp",
        question=QUESTION,
        reply=REPLY,
        identifiers=[
            "Acme",
            "99812",
            "INV-4411",
            "12,300",
            "4242",
            "dana@",
            "Dana",
            "Scully",
            "slack.com",
            "555",
        ],
    ),
    Ticket(
        user="UGLOBEX",
        team="TGLOBEX",
        profile={"real_name": "Hank Scorpio", "name": "hank"},
        company="Globex International",
        question=(
            "Hi, Hank from Globex here. Our account AB-77120 was billed €1.450,00 on invoice"
            " INV-90210 but we cancelled last month. Reach me at hank.scorpio@globex.example"
            " or +44 20 7946 0958."
        ),
        reply=(
            "Hi Hank, thanks for writing. I've reversed the €1.450,00 on invoice INV-90210 for"
            " Globex International (ref: AB-77120); see"
            " <https://globex.slack.com/archives/C0BILLING/p1700000000000200|our thread>.\n\n"
            "When a cancelled plan is billed, open Settings > Billing > Invoices and press"
            " *Dispute charge*; the money is back within 5 business days."
        ),
        identifiers=[
            "Hank",
            "Scorpio",
            "Globex",
            "AB-77120",
            "1.450",
            "INV-90210",
            "hank.scorpio@",
            "7946",
            "globex.slack.com",
        ],
    ),
    Ticket(
        user="UINITECH",
        team="TINITECH",
        profile={"real_name": "Peter Gibbons", "name": "pgibbons"},
        company="Initech",
        question=(
            "Peter Gibbons (Initech, ticket 48213): the TPS report export for account 55190"
            " fails. Link: https://app.example.com/accounts/55190/exports"
        ),
        reply=(
            "Hello Peter, the export for account 55190 failed because the report had more than"
            " 10,000 rows; I split it for you at"
            " <https://app.example.com/accounts/55190/exports|your exports page>.\n\n"
            "Exports stop at 10,000 rows: filter the report by date under *Reports > Filters*"
            " and export each part."
        ),
        identifiers=["Peter", "Gibbons", "Initech", "48213", "55190"],
    ),
    Ticket(
        user="UUMBRELLA",
        team="TUMBRELLA",
        profile={"real_name": "Alice Abernathy", "name": "alice.a"},
        company="Umbrella Corporation",
        question=(
            "alice.abernathy@umbrella.example here: we paid $249.99 twice for order #55123."
            " Card ending 1881."
        ),
        reply=(
            "Hi Alice, the second $249.99 payment for order #55123 was refunded to the card"
            " ending in 1881 (tx 9f3c2a1b-4d5e-4f60-8a7b-1c2d3e4f5a6b).\n\nA duplicate payment"
            " is refunded automatically within 3 days; no need to write in."
        ),
        identifiers=[
            "Alice",
            "Abernathy",
            "Umbrella",
            "alice.abernathy@",
            "249.99",
            "55123",
            "1881",
            "9f3c2a1b",
        ],
    ),
]


async def test_no_proposal_keeps_a_customers_identifiers(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    """Offline, so the rules alone write each proposal (the model's version is checked by the
    same rules: tests/scenarios/test_saved_articles.py)."""
    bot = await make_bot(offline=True, support_admins=[ADMIN])
    for n, ticket in enumerate(CORPUS):
        slack.users[ticket.user] = {
            **ticket.profile,
            "profile": {"real_name": ticket.profile["real_name"]},
        }
        slack.teams[ticket.team] = {"name": ticket.company}
        await bot.ask(ticket.question, user=ticket.user, team=ticket.team)
        await bot.drained()
        await click(bot, ids.ACTION_EDIT, card=bot.cards()[n])
        view = slack.calls_to("views.open")[-1]["view"]
        status, _ = await bot.send.view_submission(
            REVIEWER,
            ids.VIEW_EDIT,
            {ids.BLOCK_EDIT_TEXT: {ids.ACTION_EDIT_TEXT: ticket.reply}},
            view["private_metadata"],
        )
        assert status == 200
        await bot.drained()
    made = await proposals(bot)
    assert len(made) == len(CORPUS)
    every = [i for t in CORPUS for i in t.identifiers]
    for proposal, ticket in zip(made, CORPUS, strict=True):
        text = proposal["title"] + "\n" + proposal["body"]
        assert [i for i in every if i in text] == [], (ticket.company, text)
        assert leaked(text) == []
    # What is not the customer's stays.
    bodies = [p["body"] for p in made]
    assert "Refund duplicate" in bodies[0] and "Dispute charge" in bodies[1]
    assert "10,000 rows" in bodies[2] and "within 3 days" in bodies[3]
    # And App Home shows none of it either.
    await open_home(bot, ADMIN)
    text = home_text(slack.home_views[ADMIN])
    shown = text[text.index(SECTION) :]
    assert [i for i in every if i in shown] == []
