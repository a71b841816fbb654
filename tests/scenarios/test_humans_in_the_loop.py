"""Humans in the loop through the real app: claim, takeover and hand back, resolve, redraft with
feedback, answering the bot's question, the buttons under answers, and saving replies as
articles; with restarts in the middle of the waits and reviewers acting at once."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from typing import Any

from bot.sandbox.standin import SlackStandIn
from bot.slack import ids
from bot.slack.blocks.modals import ANSWER_MODE_REVIEW, ANSWER_MODE_SEND
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.harness import (
    ADMIN,
    CUSTOMER,
    CUSTOMER_TEAM,
    ESCALATION,
    HOME_TEAM,
    OTHER_REVIEWER,
    OUTSIDER,
    REVIEWER,
    SUPPORT,
    RunningBot,
    card_buttons,
    card_text,
    classification,
    click,
    decision_buttons,
    draft,
)

EXPORT_ARTICLE = 2
QUESTION = "Which version fixed the export crash?"


def llm_script(
    *,
    category: str = "complex_issue",
    drafts: list[dict[str, Any]],
    redrafts: list[dict[str, Any]] | None = None,
) -> Callable[[dict[str, Any]], str]:
    """Answers classify, draft and redraft prompts; each list's last reply repeats."""
    queues = {"draft": list(drafts), "redraft": list(redrafts or [])}

    def take(kind: str) -> str:
        queue = queues[kind]
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        return json.dumps(reply)

    def respond(request: dict[str, Any]) -> str:
        system = request["messages"][0]["content"]
        if "You triage customer questions" in system:
            return json.dumps(classification(category, 0.9))
        if "You revise a draft reply" in system:
            return take("redraft")
        if "You write replies to customers" in system:
            return take("draft")
        return "{}"

    return respond


def prompts_of(llm: FakeOpenAI, marker: str) -> list[str]:
    return [
        r["messages"][1]["content"] for r in llm.requests if marker in r["messages"][0]["content"]
    ]


async def escalate(
    make_bot: BotFactory,
    llm: FakeOpenAI,
    *,
    drafts: list[dict[str, Any]] | None = None,
    redrafts: list[dict[str, Any]] | None = None,
    **overrides: Any,
) -> tuple[RunningBot, str]:
    llm.set_responder(
        llm_script(
            drafts=drafts
            or [draft("Please retry the export in an hour.", [EXPORT_ARTICLE], grounded=False)],
            redrafts=redrafts,
        )
    )
    bot = await make_bot(**overrides)
    ts = await bot.ask("The CSV export crashes every time for our big report!")
    await bot.drained()
    assert await bot.ticket_states() == ["awaiting_review"]
    return bot, ts


def card_now(bot: RunningBot, slack: SlackStandIn, index: int = 0) -> dict[str, Any]:
    """The card as it is now, copied: a later update does not change what a test holds."""
    card = slack.find_message(ESCALATION, bot.cards()[index]["ts"])
    assert card is not None
    return copy.deepcopy(card)


async def trail_steps(bot: RunningBot) -> list[str]:
    rows = await bot.db.fetchall("SELECT step FROM ticket_events ORDER BY id")
    return [r["step"] for r in rows]


async def submit_form(
    bot: RunningBot,
    slack: SlackStandIn,
    callback_id: str,
    values: dict[str, Any],
    user: str = REVIEWER,
) -> tuple[int, dict[str, Any]]:
    view = slack.calls_to("views.open")[-1]["view"]
    assert view["callback_id"] == callback_id
    status, body = await bot.send.view_submission(
        user, callback_id, values, view["private_metadata"]
    )
    return status, (json.loads(body) if body.strip() else {})


def radio(value: str) -> dict[str, Any]:
    return {"type": "radio_buttons", "selected_option": {"value": value}}


# -- claim ----------------------------------------------------------------------------------


async def test_claim_shows_the_owner_and_others_can_still_act(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await escalate(make_bot, llm)
    assert "Unclaimed" in card_text(card_now(bot, slack))
    await click(bot, ids.ACTION_CLAIM, user=REVIEWER)
    await bot.drained()
    card = card_now(bot, slack)
    assert "Owner: <@UREVIEWER>" in card_text(card)
    assert "Claimed by <@UREVIEWER>" in card_text(card)
    assert ids.ACTION_CLAIM not in card_buttons(card)
    rows = await bot.db.fetchall("SELECT owner_user_id FROM tickets")
    assert rows[0]["owner_user_id"] == REVIEWER
    # Someone else still approves; the card says who did what.
    await click(bot, ids.ACTION_APPROVE, user=OTHER_REVIEWER, card=card)
    await bot.drained()
    text = card_text(card_now(bot, slack))
    assert "Approved by <@UREVIEWER2>" in text and "Claimed by <@UREVIEWER>" in text
    assert len(bot.thread(ts)) == 2


async def test_a_non_reviewer_cannot_claim(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, _ = await escalate(make_bot, llm)
    assert "Status: waiting on team" in card_text(card_now(bot, slack))
    await click(bot, ids.ACTION_CLAIM, user=OUTSIDER)
    await bot.drained()
    assert "Only support reviewers" in slack.ephemerals[-1]["text"]
    rows = await bot.db.fetchall("SELECT owner_user_id FROM tickets")
    assert rows[0]["owner_user_id"] is None


# -- takeover and hand back ---------------------------------------------------------------


async def test_a_teammate_writing_in_the_thread_takes_it_over_and_the_bot_goes_quiet(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await escalate(make_bot, llm)
    await bot.ask(
        "Hi, this is Ana from support: we shipped a fix in 2.4.1.",
        user=REVIEWER,
        team=HOME_TEAM,
        thread_ts=ts,
    )
    await bot.drained()
    card = card_now(bot, slack)
    assert "Answered in thread by <@UREVIEWER>" in card_text(card)
    assert "Status: waiting on customer" in card_text(card)
    assert decision_buttons(card) == {}
    assert ids.ACTION_HANDBACK in card_buttons(card)
    assert await bot.ticket_states() == ["human"]
    # The customer answers the human; the bot says nothing and asks the LLM nothing.
    requests = len(llm.requests)
    posts = len(bot.thread(ts))
    await bot.ask("Thanks, updating now. Does it keep my settings?", thread_ts=ts)
    await bot.drained()
    assert len(llm.requests) == requests
    assert len(bot.thread(ts)) == posts
    assert await bot.ticket_states() == ["human"]
    steps = await trail_steps(bot)
    assert "taken_over" in steps and steps[-1] == "follow_up"


async def test_hand_back_from_the_card_answers_the_customer_who_wrote_last(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await escalate(
        make_bot, llm, drafts=[draft("It keeps your settings.", [EXPORT_ARTICLE])]
    )
    await bot.ask("Fixed in 2.4.1, please update.", user=REVIEWER, team=HOME_TEAM, thread_ts=ts)
    await bot.drained()
    await bot.restart()  # the thread stays with the human across a restart
    await bot.ask("Does the update keep my export settings?", thread_ts=ts)
    await bot.drained()
    assert await bot.ticket_states() == ["human"]
    card = card_now(bot, slack)
    await click(bot, ids.ACTION_HANDBACK, user=OTHER_REVIEWER, card=card)
    await bot.drained()
    assert "back with the bot" in slack.ephemerals[-1]["text"]
    # A new round ran on the customer's unanswered message, with the human turn as context.
    prompt = prompts_of(llm, "You write replies to customers")[-1]
    assert "Support (human): Fixed in 2.4.1, please update." in prompt
    assert "keep my export settings" in prompt
    steps = await trail_steps(bot)
    assert "handed_back" in steps
    card = card_now(bot, slack)
    assert ids.ACTION_HANDBACK not in card_buttons(card)
    assert "handed the thread back" in card_text(card)


async def test_hand_back_when_the_human_had_the_last_word_waits_for_the_customer(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await escalate(make_bot, llm)
    await bot.ask("Fixed in 2.4.1, please update.", user=REVIEWER, team=HOME_TEAM, thread_ts=ts)
    await bot.drained()
    posts = len(slack.posts(channel=SUPPORT))
    status, _ = await bot.send.message_shortcut(
        REVIEWER, ids.SHORTCUT_HANDBACK, channel=SUPPORT, message_ts=ts
    )
    assert status == 200
    await bot.drained()
    assert await bot.ticket_states() == ["replied"]
    assert len(slack.posts(channel=SUPPORT)) == posts  # nothing to answer yet
    # The bot answers the customer's next message again.
    await bot.ask("Does the update keep my settings?", thread_ts=ts)
    await bot.drained()
    assert await bot.ticket_states() != ["human"]
    assert any("keep my settings" in p for p in prompts_of(llm, "You triage"))


async def test_handback_and_resolve_commands_name_the_ticket(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await escalate(make_bot, llm)
    await click(bot, ids.ACTION_REJECT)
    await bot.drained()
    status, body = await bot.send.slash_command(REVIEWER, "handback")
    assert "Usage: `/support handback 42`" in json.loads(body)["text"]
    status, body = await bot.send.slash_command(REVIEWER, "handback #99")
    assert "can't find a ticket" in json.loads(body)["text"]
    status, body = await bot.send.slash_command(OUTSIDER, "handback 1")
    assert "Only support reviewers" in json.loads(body)["text"]
    assert await bot.ticket_states() == ["rejected"]
    status, body = await bot.send.slash_command(REVIEWER, "handback 1")
    assert status == 200 and "back with the bot" in json.loads(body)["text"]
    assert await bot.ticket_states() == ["replied"]
    link = f"https://fake.slack.com/archives/{SUPPORT}/p{ts.replace('.', '')}"
    status, body = await bot.send.slash_command(REVIEWER, f"resolve <{link}>")
    assert "Ticket #1 is resolved" in json.loads(body)["text"]
    await bot.drained()
    assert await bot.ticket_states() == ["resolved"]
    assert "marked this conversation resolved" in bot.thread(ts)[-1]["text"]


# -- resolve --------------------------------------------------------------------------------


async def test_mark_resolved_on_a_waiting_card_closes_it_and_a_new_message_reopens(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await escalate(make_bot, llm)
    card = card_now(bot, slack)
    await asyncio.gather(
        click(bot, ids.ACTION_RESOLVE, card=card),
        click(bot, ids.ACTION_RESOLVE, user=OTHER_REVIEWER, card=card),
    )
    await bot.drained()
    assert await bot.ticket_states() == ["resolved"]
    notes = [m for m in bot.thread(ts) if "marked this conversation resolved" in m["text"]]
    assert len(notes) == 1
    assert "already resolved" in slack.ephemerals[-1]["text"]
    card = card_now(bot, slack)
    assert decision_buttons(card) == {} and ids.ACTION_RESOLVE not in card_buttons(card)
    assert "Resolved" in card_text(card)
    await bot.ask("Actually it crashed again", thread_ts=ts)
    await bot.drained()
    assert "reopened" in await trail_steps(bot)
    assert await bot.ticket_states() == ["awaiting_review"]
    assert len(bot.cards()) == 2


# -- reject with feedback ---------------------------------------------------------------


async def test_redraft_with_feedback_puts_a_new_draft_on_the_same_card_with_its_history(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await escalate(
        make_bot,
        llm,
        redrafts=[draft("Update to 2.4.1; the export crash is fixed there.", [EXPORT_ARTICLE])],
    )
    await click(bot, ids.ACTION_REDRAFT)
    feedback = "Tell them the crash is fixed in 2.4.1"
    status, body = await submit_form(
        bot, slack, ids.VIEW_REDRAFT, {ids.BLOCK_FEEDBACK: {ids.ACTION_FEEDBACK: feedback}}
    )
    assert status == 200 and "errors" not in body
    await bot.drained()
    prompt = prompts_of(llm, "You revise a draft reply")[-1]
    assert feedback in prompt and "Please retry the export in an hour." in prompt
    assert len(bot.cards()) == 1  # the same card, updated
    card = card_now(bot, slack)
    text = card_text(card)
    assert "Suggested reply (draft 2)" in text and "fixed there" in text
    assert "Draft 1: Please retry the export in an hour." in text
    assert f"<@UREVIEWER>: “{feedback}”" in text
    await click(bot, ids.ACTION_APPROVE, card=card)
    await bot.drained()
    assert "fixed there" in bot.thread(ts)[-1]["text"]
    rows = await bot.db.fetchall("SELECT n, origin, feedback FROM escalation_drafts ORDER BY n")
    assert [(r["n"], r["origin"], r["feedback"]) for r in rows] == [
        (1, "llm", feedback),
        (2, "redraft", None),
    ]


async def test_redrafts_stop_at_the_configured_number_of_rounds(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, _ = await escalate(
        make_bot, llm, redrafts=[draft("Second try.", [EXPORT_ARTICLE])], review_max_redrafts=1
    )
    await click(bot, ids.ACTION_REDRAFT)
    await submit_form(
        bot, slack, ids.VIEW_REDRAFT, {ids.BLOCK_FEEDBACK: {ids.ACTION_FEEDBACK: "shorter"}}
    )
    await bot.drained()
    card = card_now(bot, slack)
    assert ids.ACTION_REDRAFT not in card_buttons(card)
    await click(bot, ids.ACTION_REDRAFT, card=card)  # a stale card still showing the button
    assert "most allowed" in slack.ephemerals[-1]["text"]


async def test_empty_feedback_is_a_field_error_and_changes_nothing(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, _ = await escalate(make_bot, llm)
    await click(bot, ids.ACTION_REDRAFT)
    _status, body = await submit_form(
        bot, slack, ids.VIEW_REDRAFT, {ids.BLOCK_FEEDBACK: {ids.ACTION_FEEDBACK: "   "}}
    )
    assert body["response_action"] == "errors" and ids.BLOCK_FEEDBACK in body["errors"]
    assert prompts_of(llm, "You revise a draft reply") == []


async def test_approve_while_a_redraft_is_written_is_refused_and_restart_finishes_it(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await escalate(
        make_bot,
        llm,
        redrafts=[draft("Redrafted reply.", [EXPORT_ARTICLE])],
        llm_timeout=30.0,  # the LLM is still thinking when the bot stops
        shutdown_grace_seconds=0.2,
    )
    card = card_now(bot, slack)
    await click(bot, ids.ACTION_REDRAFT, card=card)
    llm.hang()
    asked = len(llm.requests)  # the redraft may reach the model before the form call returns
    await submit_form(
        bot, slack, ids.VIEW_REDRAFT, {ids.BLOCK_FEEDBACK: {ids.ACTION_FEEDBACK: "fix it"}}
    )
    await llm.wait_for_requests(asked + 1)
    await click(bot, ids.ACTION_APPROVE, user=OTHER_REVIEWER, card=card)
    assert "writing a new draft" in slack.ephemerals[-1]["text"]
    assert len(bot.thread(ts)) == 1
    await bot.restart()  # in the middle of the wait
    llm.unhang()
    await bot.drained()
    card = card_now(bot, slack)
    assert "Redrafted reply." in card_text(card)
    await click(bot, ids.ACTION_APPROVE, card=card)
    await bot.drained()
    assert bot.thread(ts)[-1]["text"].startswith("Redrafted reply.")


async def test_two_reviewers_at_once_approve_and_redraft_settle_on_one_outcome(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await escalate(make_bot, llm, redrafts=[draft("Other reply.", [EXPORT_ARTICLE])])
    card = card_now(bot, slack)
    await click(bot, ids.ACTION_REDRAFT, card=card)
    view = slack.calls_to("views.open")[-1]["view"]
    await asyncio.gather(
        click(bot, ids.ACTION_APPROVE, user=OTHER_REVIEWER, card=card),
        bot.send.view_submission(
            REVIEWER,
            ids.VIEW_REDRAFT,
            {ids.BLOCK_FEEDBACK: {ids.ACTION_FEEDBACK: "other"}},
            view["private_metadata"],
        ),
    )
    await bot.drained()
    state = (await bot.db.fetchall("SELECT state FROM escalations"))[0]["state"]
    replies = bot.thread(ts)[1:]
    if state == "approved":  # approve won: the draft went out once, no redraft ran
        assert [r["text"] for r in replies] == [replies[0]["text"]]
        assert prompts_of(llm, "You revise a draft reply") == []
    else:  # the redraft won: nothing was sent, the approver was told why
        assert state == "pending" and replies == []
        assert any("writing a new draft" in e["text"] for e in slack.ephemerals)


# -- ask the developer ----------------------------------------------------------------------


async def test_answering_the_bots_question_composes_a_reply_for_approval(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await escalate(
        make_bot,
        llm,
        drafts=[
            draft("I don't know yet.", [EXPORT_ARTICLE], grounded=False, missing=QUESTION),
            draft("The crash is fixed in 2.4.1; please update.", [EXPORT_ARTICLE]),
        ],
    )
    card = card_now(bot, slack)
    assert QUESTION in card_text(card)
    await click(bot, ids.ACTION_ANSWER_QUESTION, card=card)
    status, body = await submit_form(
        bot,
        slack,
        ids.VIEW_ANSWER_QUESTION,
        {
            ids.BLOCK_ANSWER: {ids.ACTION_ANSWER: "2.4.1 fixed it"},
            ids.BLOCK_ANSWER_MODE: {ids.ACTION_ANSWER_MODE: radio(ANSWER_MODE_REVIEW)},
        },
    )
    assert status == 200 and "errors" not in body
    await bot.drained()
    prompt = prompts_of(llm, "You write replies to customers")[-1]
    assert f"Q: {QUESTION}" in prompt and "2.4.1 fixed it" in prompt
    card = card_now(bot, slack)
    assert "fixed in 2.4.1; please update" in card_text(card)
    assert "answered the bot's question" in card_text(card)
    assert len(bot.thread(ts)) == 1  # waits for approval
    await click(bot, ids.ACTION_APPROVE, card=card)
    await bot.drained()
    assert "fixed in 2.4.1" in bot.thread(ts)[-1]["text"]
    notes = await bot.db.fetchall("SELECT question, answer, user_id FROM ticket_notes")
    assert [tuple(n) for n in notes] == [(QUESTION, "2.4.1 fixed it", REVIEWER)]
    # The answer is kept on the ticket and used in later turns.
    await bot.ask("Great, and does 2.4.1 also fix PDF exports?", thread_ts=ts)
    await bot.drained()
    assert "2.4.1 fixed it" in prompts_of(llm, "You write replies to customers")[-1]


async def test_compose_and_send_sends_at_once_as_approved_by_the_teammate(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await escalate(
        make_bot,
        llm,
        drafts=[
            draft("Not sure.", [EXPORT_ARTICLE], grounded=False, missing=QUESTION),
            draft("Fixed in 2.4.1.", [EXPORT_ARTICLE]),
        ],
    )
    await click(bot, ids.ACTION_ANSWER_QUESTION)
    await submit_form(
        bot,
        slack,
        ids.VIEW_ANSWER_QUESTION,
        {
            ids.BLOCK_ANSWER: {ids.ACTION_ANSWER: "2.4.1"},
            ids.BLOCK_ANSWER_MODE: {ids.ACTION_ANSWER_MODE: radio(ANSWER_MODE_SEND)},
        },
        user=OTHER_REVIEWER,
    )
    await bot.drained()
    replies = bot.thread(ts)
    assert [r["text"].split("\n")[0] for r in replies[1:]] == ["Fixed in 2.4.1."]
    assert "Approved by <@UREVIEWER2>" in card_text(card_now(bot, slack))


async def test_offline_the_teammates_answer_becomes_the_draft(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await make_bot(offline=True)
    ts = await bot.ask("Does the export crash fix apply to PDF?")
    await bot.drained()
    # Offline drafts carry no question; the button is absent and the form says so.
    assert ids.ACTION_ANSWER_QUESTION not in card_buttons(card_now(bot, slack))
    assert ids.ACTION_REDRAFT not in card_buttons(card_now(bot, slack))
    await click(bot, ids.ACTION_REDRAFT)
    assert "needs an LLM" in slack.ephemerals[-1]["text"]
    assert len(bot.thread(ts)) == 1


# -- the customer's buttons -----------------------------------------------------------------


async def test_talk_to_a_person_under_an_answer_escalates_at_once(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(
        llm_script(category="simple_faq", drafts=[draft("Click *Export*.", [EXPORT_ARTICLE])])
    )
    bot = await make_bot()
    ts = await bot.ask("How do I export a report as CSV?")
    await bot.drained()
    answer = bot.thread(ts)[0]
    buttons = card_buttons(answer)
    assert set(buttons) == {ids.ACTION_HELPFUL, ids.ACTION_TALK_TO_PERSON}
    status, _ = await bot.send.block_action(
        CUSTOMER,
        ids.ACTION_TALK_TO_PERSON,
        buttons[ids.ACTION_TALK_TO_PERSON],
        team_id=CUSTOMER_TEAM,
        channel=SUPPORT,
        message=answer,
    )
    assert status == 200
    await bot.drained()
    assert "asked a teammate to join" in slack.ephemerals[-1]["text"]
    assert len(bot.cards()) == 1
    assert "Talk to a person" in card_text(bot.cards()[0])
    assert "passed it to the team" in bot.thread(ts)[-1]["text"]
    assert await bot.ticket_states() == ["awaiting_review"]
    # Pressing it again changes nothing.
    await bot.send.block_action(
        CUSTOMER,
        ids.ACTION_TALK_TO_PERSON,
        buttons[ids.ACTION_TALK_TO_PERSON],
        team_id=CUSTOMER_TEAM,
        channel=SUPPORT,
        message=answer,
    )
    await bot.drained()
    assert len(bot.cards()) == 1 and "already has this conversation" in slack.ephemerals[-1]["text"]


async def test_helpful_records_feedback_once_per_person(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(
        llm_script(category="simple_faq", drafts=[draft("Click *Export*.", [EXPORT_ARTICLE])])
    )
    bot = await make_bot()
    ts = await bot.ask("How do I export a report as CSV?")
    await bot.drained()
    answer = bot.thread(ts)[0]
    value = card_buttons(answer)[ids.ACTION_HELPFUL]
    for _ in range(2):
        await bot.send.block_action(
            CUSTOMER,
            ids.ACTION_HELPFUL,
            value,
            team_id=CUSTOMER_TEAM,
            channel=SUPPORT,
            message=answer,
        )
    # The customer's "Helpful" on the latest answer also resolves the ticket (once).
    assert [e["text"] for e in slack.ephemerals] == [
        "Thanks for letting us know! I've marked this conversation resolved.",
        "You already told us; thanks!",
    ]
    rows = await bot.db.fetchall("SELECT user_id, verdict FROM answer_feedback")
    assert [tuple(r) for r in rows] == [(CUSTOMER, "helpful")]
    assert bot.cards() == []
    await bot.drained()
    assert await bot.ticket_states() == ["resolved"]
    assert [m for m in bot.thread(ts) if "Glad that helped" in m["text"]] != []
    status, _ = await bot.send.block_action(
        CUSTOMER, ids.ACTION_HELPFUL, "not-a-ticket", team_id=CUSTOMER_TEAM, channel=SUPPORT
    )
    assert status == 200 and len(slack.ephemerals) == 2  # a malformed click does nothing


# -- save as article ----------------------------------------------------------------------


async def test_an_edited_reply_can_be_saved_as_an_article_from_the_sent_card(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    """Saving itself; what the form holds and who may save are in
    tests/scenarios/test_saved_articles.py.
    The model's general version fails here (the script answers ``{}``): rules fill the form."""
    bot, _ts = await escalate(make_bot, llm, support_admins=[ADMIN])
    await click(bot, ids.ACTION_EDIT)
    reply = "The export crash is fixed in version 2.4.1. Update from Settings › About."
    await submit_form(
        bot, slack, ids.VIEW_EDIT, {ids.BLOCK_EDIT_TEXT: {ids.ACTION_EDIT_TEXT: reply}}
    )
    await bot.drained()
    card = card_now(bot, slack)
    await click(bot, ids.ACTION_SAVE_ARTICLE, user=ADMIN, card=card)
    await bot.drained()
    view = slack.calls_to("views.update")[-1]["view"]
    body_block = next(b for b in view["blocks"] if b.get("block_id") == ids.BLOCK_KB_BODY)
    assert body_block["element"]["initial_value"] == reply  # nothing in it is the customer's
    status, form = await submit_form(
        bot,
        slack,
        ids.VIEW_SAVE_ARTICLE,
        {
            ids.BLOCK_KB_TITLE: {ids.ACTION_KB_TITLE: "Export crash fixed in 2.4.1"},
            ids.BLOCK_KB_BODY: {ids.ACTION_KB_BODY: reply},
            ids.BLOCK_KB_URL: {ids.ACTION_KB_URL: ""},
        },
        user=ADMIN,
    )
    assert status == 200 and form["response_action"] == "update"
    await bot.drained()
    rows = await bot.db.fetchall(
        "SELECT id, title, source FROM kb_articles WHERE title LIKE 'Export crash%'"
    )
    assert [r["source"] for r in rows] == ["slack:reviewed:escalation:1"]
    card = card_now(bot, slack)
    assert f"article #{rows[0]['id']}" in card_text(card)
    assert ids.ACTION_SAVE_ARTICLE not in card_buttons(card)
    _status, body = await bot.send.slash_command(REVIEWER, "kb search export crash 2.4.1")
    assert "Export crash fixed in 2.4.1" in json.loads(body)["text"]


# -- found in review: each of these once lost a question or stuck a card ------------------


async def test_a_failed_redraft_leaves_the_card_usable_and_a_second_redraft_works(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await escalate(
        make_bot, llm, redrafts=[draft("Second draft.", [EXPORT_ARTICLE])], llm_max_retries=0
    )
    llm.fail_next(500, times=1)  # one call, no retries: the redraft fails
    await click(bot, ids.ACTION_REDRAFT)
    await submit_form(
        bot, slack, ids.VIEW_REDRAFT, {ids.BLOCK_FEEDBACK: {ids.ACTION_FEEDBACK: "a"}}
    )
    await bot.drained()
    card = card_now(bot, slack)
    assert "A new draft failed" in card_text(card) and ids.ACTION_APPROVE in card_buttons(card)
    llm.set_responder(
        llm_script(drafts=[draft("x", [EXPORT_ARTICLE])], redrafts=[draft("Second draft.", [2])])
    )
    await click(bot, ids.ACTION_REDRAFT, card=card)
    await submit_form(
        bot, slack, ids.VIEW_REDRAFT, {ids.BLOCK_FEEDBACK: {ids.ACTION_FEEDBACK: "b"}}
    )
    await bot.drained()
    card = card_now(bot, slack)
    assert "Second draft." in card_text(card)
    await click(bot, ids.ACTION_APPROVE, card=card)
    await bot.drained()
    assert bot.thread(ts)[-1]["text"].startswith("Second draft.")


async def test_a_follow_up_the_reviewer_never_saw_gets_its_own_round(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await escalate(make_bot, llm)
    await click(bot, ids.ACTION_EDIT)  # the reviewer starts writing…
    slack.hold("chat.update")  # …and the card never shows what the customer adds meanwhile
    await bot.ask("Also: how do I change my billing e-mail?", thread_ts=ts)
    await slack.wait_for(lambda s: s.held_count("chat.update") >= 1, timeout=10)
    await submit_form(
        bot, slack, ids.VIEW_EDIT, {ids.BLOCK_EDIT_TEXT: {ids.ACTION_EDIT_TEXT: "Fixed in 2.4.1."}}
    )
    slack.release("chat.update")
    await bot.drained()
    # The edited reply went out, and the billing question was not marked answered by it.
    assert "Fixed in 2.4.1." in [m["text"] for m in bot.thread(ts)]
    triage = prompts_of(llm, "You triage customer questions")
    assert "billing e-mail" in triage[-1]
    rows = await bot.db.fetchall("SELECT round FROM tickets")
    assert rows[0]["round"] == 2


async def test_reject_makes_the_rejecter_the_owner_and_the_customer_can_still_ask_for_a_person(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(
        llm_script(category="simple_faq", drafts=[draft("Click *Export*.", [EXPORT_ARTICLE])])
    )
    bot = await make_bot()
    ts = await bot.ask("How do I export a report as CSV?")
    await bot.drained()
    answer = bot.thread(ts)[0]
    talk = card_buttons(answer)[ids.ACTION_TALK_TO_PERSON]
    await bot.send.block_action(
        CUSTOMER,
        ids.ACTION_TALK_TO_PERSON,
        talk,
        team_id=CUSTOMER_TEAM,
        channel=SUPPORT,
        message=answer,
    )
    await bot.drained()
    await click(bot, ids.ACTION_REJECT, user=OTHER_REVIEWER)
    await bot.drained()
    rows = await bot.db.fetchall("SELECT state, owner_user_id FROM tickets")
    assert (rows[0]["state"], rows[0]["owner_user_id"]) == ("rejected", OTHER_REVIEWER)
    assert "Owner: <@UREVIEWER2>" in card_text(card_now(bot, slack))
    # Nobody answered; the customer presses the button again: a new card, not a dead end.
    await bot.send.block_action(
        CUSTOMER,
        ids.ACTION_TALK_TO_PERSON,
        talk,
        team_id=CUSTOMER_TEAM,
        channel=SUPPORT,
        message=answer,
    )
    await bot.drained()
    assert len(bot.cards()) == 2 and await bot.ticket_states() == ["awaiting_review"]


async def test_compose_and_send_survives_a_restart_in_the_middle(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await escalate(
        make_bot,
        llm,
        drafts=[
            draft("Not sure.", [EXPORT_ARTICLE], grounded=False, missing=QUESTION),
            draft("Fixed in 2.4.1.", [EXPORT_ARTICLE]),
        ],
        llm_timeout=30.0,
        shutdown_grace_seconds=0.2,
    )
    await click(bot, ids.ACTION_ANSWER_QUESTION)
    llm.hang()
    asked = len(llm.requests)
    await submit_form(
        bot,
        slack,
        ids.VIEW_ANSWER_QUESTION,
        {
            ids.BLOCK_ANSWER: {ids.ACTION_ANSWER: "2.4.1"},
            ids.BLOCK_ANSWER_MODE: {ids.ACTION_ANSWER_MODE: radio(ANSWER_MODE_SEND)},
        },
    )
    await llm.wait_for_requests(asked + 1)
    await bot.restart()
    llm.unhang()
    await bot.drained()
    replies = [m["text"].split("\n")[0] for m in bot.thread(ts)[1:]]
    assert replies == ["Fixed in 2.4.1."]
