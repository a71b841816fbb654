"""The core loop through the real app: signed Slack requests in, Web API calls out."""

from __future__ import annotations

import asyncio

import pytest

from bot.sandbox.standin import SlackStandIn
from bot.slack import ids
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.harness import (
    CUSTOMER,
    CUSTOMER_TEAM,
    ESCALATION,
    HOME_TEAM,
    OTHER_REVIEWER,
    OUTSIDER,
    REVIEWER,
    SUPPORT,
    card_text,
    classification,
    click,
    decision_buttons,
    draft,
    scripted_llm,
)

EXPORT_ARTICLE = 2  # ids follow the sorted file names in tests/data/kb


async def test_confident_grounded_faq_is_answered_in_thread_with_citation(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(
        scripted_llm(
            classification(),
            draft("Open the report, click *Export* and choose CSV.", [EXPORT_ARTICLE]),
        )
    )
    bot = await make_bot()
    ts = await bot.ask("How do I export a report as CSV?")
    await bot.drained()
    replies = bot.thread(ts)
    assert len(replies) == 1
    assert "click *Export* and choose CSV" in replies[0]["text"]
    assert "Exporting reports" in replies[0]["text"]  # names its source
    context = [b for b in replies[0]["blocks"] if b["type"] == "context"]
    assert "talk to a person" in context[-1]["elements"][-1]["text"]
    assert bot.cards() == []
    assert await bot.ticket_states() == ["answered"]
    assert slack.posts(channel=ESCALATION) == []


async def _escalated(make_bot: BotFactory, llm: FakeOpenAI, **overrides):
    llm.set_responder(
        scripted_llm(
            classification("complex_issue", 0.8, summary="Export crashes on large reports."),
            draft("We are looking into export crashes; please retry in an hour.", [EXPORT_ARTICLE]),
        )
    )
    bot = await make_bot(**overrides)
    ts = await bot.ask("The CSV export crashes every time for our big report!")
    await bot.drained()
    return bot, ts


async def test_escalation_posts_holding_reply_and_card_then_approve_sends_draft_once(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await _escalated(make_bot, llm)
    thread = bot.thread(ts)
    assert len(thread) == 1 and "passed it to the team" in thread[0]["text"]
    cards = bot.cards()
    assert len(cards) == 1
    text = card_text(cards[0])
    assert "<@UCUSTOMER>" in text and "CSV export crashes" in text
    assert "Complex issue" in text and "Category is Complex issue" in text
    assert "retry in an hour" in text and "Exporting reports" in text
    labels = [
        e["text"]["text"]
        for b in cards[0]["blocks"]
        if b["type"] == "actions" and b["block_id"] == "review"
        for e in b["elements"]
    ]
    assert [label.split()[0] for label in labels] == ["Approve", "Edit", "Reject"]
    assert await bot.ticket_states() == ["awaiting_review"]

    status, _ = await click(bot, ids.ACTION_APPROVE)
    assert status == 200
    await bot.drained()
    thread = bot.thread(ts)
    assert len(thread) == 2
    assert "retry in an hour" in thread[1]["text"]
    card = slack.find_message(ESCALATION, cards[0]["ts"])
    assert card is not None and decision_buttons(card) == {}
    assert "Approved by <@UREVIEWER>" in card_text(card)
    assert await bot.ticket_states() == ["replied"]


async def test_edit_opens_modal_and_posts_submitted_text_verbatim(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await _escalated(make_bot, llm)
    await click(bot, ids.ACTION_EDIT)
    view = slack.calls_to("views.open")[-1]["view"]
    field = next(b for b in view["blocks"] if b.get("block_id") == ids.BLOCK_EDIT_TEXT)
    assert "retry in an hour" in field["element"]["initial_value"]
    edited = "Fixed in *v2.4.1*: update & retry. <https://example.com|Notes>"
    status, body = await bot.send.view_submission(
        REVIEWER,
        ids.VIEW_EDIT,
        {ids.BLOCK_EDIT_TEXT: {ids.ACTION_EDIT_TEXT: edited}},
        view["private_metadata"],
    )
    assert status == 200 and "errors" not in body
    await bot.drained()
    thread = bot.thread(ts)
    assert [m["text"] for m in thread[1:]] == [edited]
    card = slack.find_message(ESCALATION, bot.cards()[0]["ts"])
    assert card is not None and "Edited by <@UREVIEWER>" in card_text(card)
    assert decision_buttons(card) == {}


async def test_reject_records_who_and_sends_nothing(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await _escalated(make_bot, llm)
    await click(bot, ids.ACTION_REJECT, user=OTHER_REVIEWER)
    await bot.drained()
    assert len(bot.thread(ts)) == 1  # only the holding reply
    card = slack.find_message(ESCALATION, bot.cards()[0]["ts"])
    assert card is not None and "Rejected by <@UREVIEWER2>" in card_text(card)
    assert decision_buttons(card) == {}
    assert await bot.ticket_states() == ["rejected"]


async def test_card_posted_before_restart_still_works_after_it(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await _escalated(make_bot, llm)
    await bot.restart()
    await click(bot, ids.ACTION_APPROVE)
    await bot.drained()
    assert len(bot.thread(ts)) == 2


async def test_double_approve_sends_once_and_tells_the_second_clicker(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await _escalated(make_bot, llm)
    card = bot.cards()[0]
    await asyncio.gather(
        click(bot, ids.ACTION_APPROVE, card=card),
        click(bot, ids.ACTION_APPROVE, user=OTHER_REVIEWER, card=card),
    )
    await click(bot, ids.ACTION_APPROVE, card=card)
    await bot.drained()
    assert len(bot.thread(ts)) == 2
    notices = [e["text"] for e in slack.ephemerals]
    assert len(notices) == 2
    assert all(n.startswith("Already approved by <@UREVIEWER") for n in notices)


async def test_click_by_non_reviewer_is_refused_and_changes_nothing(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await _escalated(make_bot, llm)
    for action in (ids.ACTION_APPROVE, ids.ACTION_REJECT, ids.ACTION_EDIT):
        await click(bot, action, user=OUTSIDER)
    await bot.drained()
    assert len(bot.thread(ts)) == 1
    assert slack.calls_to("views.open") == []
    assert len(slack.ephemerals) == 3
    assert all("Only support reviewers" in e["text"] for e in slack.ephemerals)
    assert await bot.ticket_states() == ["awaiting_review"]
    card = slack.find_message(ESCALATION, bot.cards()[0]["ts"])
    assert card is not None and set(decision_buttons(card)) == set(ids.REVIEW_ACTIONS)


async def test_slack_retry_of_the_same_event_opens_one_ticket(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(scripted_llm(classification(), draft("Click Export.", [EXPORT_ARTICLE])))
    bot = await make_bot()
    status, _, event_id, ts = await bot.send.message_event(
        SUPPORT, CUSTOMER, "How do I export CSV?", user_team=CUSTOMER_TEAM, team=CUSTOMER_TEAM
    )
    for retry in (1, 2):
        status, _, _, _ = await bot.send.message_event(
            SUPPORT,
            CUSTOMER,
            "How do I export CSV?",
            ts=ts,
            event_id=event_id,
            retry_num=retry,
            user_team=CUSTOMER_TEAM,
            team=CUSTOMER_TEAM,
        )
        assert status == 200
    await bot.drained()
    assert len(bot.thread(ts)) == 1
    assert await bot.ticket_states() == ["answered"]
    assert len([r for r in llm.requests if "triage" in r["messages"][0]["content"]]) == 1


async def test_rate_limited_post_is_retried_after_retry_after_and_sent_once(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(scripted_llm(classification(), draft("Click Export.", [EXPORT_ARTICLE])))
    slack.fail_next("chat.postMessage", status=429, times=4, retry_after=1)
    bot = await make_bot()
    ts = await bot.ask("How do I export CSV?")
    await bot.drained(timeout=30)
    assert len(bot.thread(ts)) == 1
    statuses = [c.status for c in slack.calls if c.method == "chat.postMessage"]
    assert statuses.count(429) == 4 and statuses.count(200) == 1
    # The retries beyond slack_sdk's own are steps of the ticket's trail, with the wait.
    rows = await bot.db.fetchall("SELECT detail FROM ticket_events WHERE step = 'retried'")
    assert rows and all("rate limit" in r["detail"] for r in rows)


async def test_slack_500_after_posting_is_not_posted_twice(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    """Slack may fail after storing the message; the retry finds it by its outbox key."""
    llm.set_responder(scripted_llm(classification(), draft("Click Export.", [EXPORT_ARTICLE])))
    bot = await make_bot()
    slack.hold("chat.postMessage")
    ts = await bot.ask("How do I export CSV?")
    await slack.wait_for(lambda s: s.held_count("chat.postMessage") >= 1)
    await bot.stop()  # the answer was stored by Slack, the bot never saw the response
    slack.release("chat.postMessage")
    await bot.start()
    await bot.drained()
    assert len(bot.thread(ts)) == 1
    assert await bot.ticket_states() == ["answered"]


async def test_a_forged_message_with_the_outbox_key_does_not_stop_the_reply(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    """A retried delivery looks for its earlier post by the outbox key in the message metadata;
    a customer's or another app's message carrying that key is not the bot's post."""
    llm.set_responder(scripted_llm(classification(), draft("Click Export.", [EXPORT_ARTICLE])))
    slack.fail_next("chat.postMessage", status=500)  # unperformed: nothing was posted
    bot = await make_bot(job_retry_base_seconds=1.0)
    ts = await bot.ask("How do I export CSV?")
    await slack.wait_for(
        lambda s: any(c.method == "chat.postMessage" and c.status == 500 for c in s.calls)
    )
    failed = next(c for c in slack.calls if c.method == "chat.postMessage" and c.status == 500)
    metadata = failed.args["metadata"]
    assert metadata["event_type"] == ids.OUTBOX_METADATA_EVENT and metadata["event_payload"]
    # Before the retry: the customer, and another app, post in the thread with that metadata.
    slack.add_message(
        SUPPORT, None, "forged", user=CUSTOMER, thread_ts=ts, team=CUSTOMER_TEAM, metadata=metadata
    )
    slack.add_message(
        SUPPORT,
        None,
        "forged too",
        user="UOTHERAPP",
        thread_ts=ts,
        bot_id="BOTHER",
        metadata=metadata,
    )
    await bot.drained(timeout=20)
    replies = bot.thread(ts)
    assert len(replies) == 1 and "Click Export." in replies[0]["text"], slack.dump()
    assert await bot.ticket_states() == ["answered"]
    lookups = slack.calls_to("conversations.replies")
    assert any(c.get("include_all_metadata") for c in lookups)  # the retry did look first


@pytest.mark.parametrize(
    "fault",
    ["llm_500", "llm_timeout", "malformed_json"],
)
async def test_llm_failures_escalate_with_the_reason_and_customer_sees_no_error(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI, fault: str
) -> None:
    if fault == "llm_500":
        llm.fail_next(status=500, times=20)
        reason = "HTTP 500"
    elif fault == "llm_timeout":
        llm.delay_next(5.0, times=20)
        reason = "timed out"
    else:
        llm.set_responder(lambda _request: "Sure! Here is my answer: not JSON at all")
        reason = "malformed"
    bot = await make_bot(llm_timeout=0.3)
    ts = await bot.ask("How do I export a report as CSV?")
    await bot.drained(timeout=30)
    thread = bot.thread(ts)
    assert len(thread) == 1 and "passed it to the team" in thread[0]["text"]
    assert len(bot.cards()) == 1
    text = card_text(bot.cards()[0])
    assert "Classification failed" in text and reason in text
    # the knowledge base still offers the best passage as a draft for the reviewer
    assert "Export" in text


@pytest.mark.parametrize(
    "extra",
    [
        {"subtype": "message_changed"},
        {"subtype": "message_deleted"},
        {"subtype": "channel_join"},
        {"subtype": "bot_message", "bot_id": "BOTHER"},
        {"bot_id": "BOTHER"},
        {"user": "UBOT"},
        {"channel": "COTHER"},
    ],
)
async def test_messages_that_are_not_customer_questions_are_ignored(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI, extra: dict[str, str]
) -> None:
    llm.set_responder(scripted_llm(classification(), draft("Click Export.", [EXPORT_ARTICLE])))
    bot = await make_bot()
    channel = extra.pop("channel", SUPPORT)
    user = extra.pop("user", CUSTOMER)
    status, _, _, _ = await bot.send.message_event(
        channel,
        user,
        "How do I export CSV?",
        user_team=CUSTOMER_TEAM,
        team=CUSTOMER_TEAM,
        subtype=extra.get("subtype"),
        bot_id=extra.get("bot_id"),
    )
    assert status == 200
    await bot.drained()
    assert await bot.ticket_states() == []
    assert slack.calls_to("chat.postMessage") == []
    assert llm.requests == []


@pytest.mark.parametrize("text", ["", "   ", ":wave: :tada:", "👋🎉", "?!"])
async def test_empty_and_emoji_only_messages_are_ignored_with_a_reason(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI, text: str
) -> None:
    bot = await make_bot()
    await bot.ask(text)
    await bot.drained()
    assert await bot.ticket_states() == []
    assert await bot.ignored_reasons() == ["no words to answer (empty or emoji only)"]
    assert slack.calls_to("chat.postMessage") == []


async def test_forty_thousand_character_question_still_makes_a_valid_card(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(scripted_llm(classification("complex_issue", 0.9), draft("We'll check.", [])))
    bot = await make_bot()
    text = ("Export fails <!channel> & <@U999> " * 2000)[:40000]
    ts = await bot.ask(text)
    await bot.drained()
    assert len(bot.cards()) == 1
    card = card_text(bot.cards()[0])
    assert "<!channel>" not in card and "&lt;!channel&gt;" in card
    assert "40,000 characters in all" in card
    assert len(bot.thread(ts)) == 1
    prompt = llm.requests[0]["messages"][1]["content"]
    assert len(prompt) < 6000


async def test_follow_up_continues_the_ticket_with_earlier_turns_as_context(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(scripted_llm(classification(), draft("Click Export.", [EXPORT_ARTICLE])))
    bot = await make_bot()
    ts = await bot.ask("How do I export a report as CSV?")
    await bot.drained()
    await bot.ask("And can I schedule that weekly?", thread_ts=ts)
    await bot.drained()
    assert len(bot.thread(ts)) == 2
    rows = await bot.db.fetchall("SELECT COUNT(*) AS n FROM tickets")
    assert rows[0]["n"] == 1
    last_prompt = llm.requests[-1]["messages"][1]["content"]
    assert "How do I export a report as CSV?" in last_prompt
    assert "Support (AI): Click Export." in last_prompt
    assert "schedule that weekly" in last_prompt


async def test_follow_up_while_awaiting_review_is_shown_on_the_card(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await _escalated(make_bot, llm)
    requests_before = len(llm.requests)
    await bot.ask("It is the Q3 revenue report, if that helps", thread_ts=ts)
    await bot.drained()
    assert len(bot.cards()) == 1
    card = slack.find_message(ESCALATION, bot.cards()[0]["ts"])
    assert card is not None and "Q3 revenue report" in card_text(card)
    assert len(llm.requests) == requests_before
    assert len(bot.thread(ts)) == 1


async def test_customer_asking_for_a_person_is_escalated_whatever_the_class(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(scripted_llm(classification(), draft("Click Export.", [EXPORT_ARTICLE])))
    bot = await make_bot()
    ts = await bot.ask("How do I export a report as CSV?")
    await bot.drained()
    await bot.ask("That didn't work, can I talk to a person?", thread_ts=ts)
    await bot.drained()
    assert len(bot.cards()) == 1
    assert "asked for a person" in card_text(bot.cards()[0])


async def test_without_an_llm_key_the_best_passage_is_drafted_and_escalated(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await make_bot(offline=True)
    ts = await bot.ask("How do I reset my password?")
    await bot.drained()
    assert llm.requests == []
    text = card_text(bot.cards()[0])
    assert "Forgot password?" in text and "No LLM is configured" in text
    await click(bot, ids.ACTION_APPROVE)
    await bot.drained()
    reply = bot.thread(ts)[-1]["text"]
    assert "Forgot password?" in reply and "Resetting your password" in reply


async def test_colleague_in_a_slack_connect_channel_is_not_a_customer(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot = await make_bot()
    await bot.send.message_event(
        SUPPORT,
        "UCOLLEAGUE",
        "Heads up: maintenance tonight",
        team=CUSTOMER_TEAM,
        user_team=HOME_TEAM,
        extra=None,
    )
    await bot.drained()
    assert await bot.ticket_states() == []
    assert slack.calls_to("chat.postMessage") == []


async def test_a_post_slack_refuses_for_good_is_on_the_trail_not_retried_forever(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(scripted_llm(classification(), draft("Click Export.", [EXPORT_ARTICLE])))
    slack.error_next("chat.postMessage", error="not_in_channel")
    bot = await make_bot()
    await bot.ask("How do I export CSV?")
    await bot.drained()
    rows = await bot.db.fetchall("SELECT detail FROM ticket_events WHERE step = 'delivery_failed'")
    assert len(rows) == 1 and "not_in_channel" in rows[0]["detail"]
    job = await bot.db.fetchone("SELECT state, attempts FROM jobs WHERE kind = 'slack_post'")
    assert job is not None and (job["state"], job["attempts"]) == ("dead", 1)


async def test_a_draft_that_tries_to_ping_everyone_pings_no_one(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    answer = "<!channel> <!here|here> @everyone <@U0BOSS> <!subteam^S1|@oncall>: click Export."
    llm.set_responder(scripted_llm(classification(), draft(answer, [EXPORT_ARTICLE])))
    bot = await make_bot()
    ts = await bot.ask("How do I export CSV?")
    await bot.drained()
    posted = bot.thread(ts)[0]
    everything = posted["text"] + str(posted["blocks"])
    for ping in ("<!channel>", "<!here", "<@U0BOSS>", "<!subteam", "@everyone"):
        assert ping not in everything
    assert "click Export." in posted["text"]


async def test_out_of_scope_question_escalates_even_when_the_llm_is_sure(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    """The nearest irrelevant article must not become an answer."""
    llm.set_responder(
        scripted_llm(
            classification(
                "simple_faq",
                0.95,
                keywords=["ship", "garden furniture", "abroad", "export tariffs"],
                search_query="shipping garden furniture abroad export tariffs",
            ),
            draft("Yes, export tariffs are included.", [EXPORT_ARTICLE]),
        )
    )
    bot = await make_bot()
    ts = await bot.ask("Do you ship garden furniture abroad, and who pays export tariffs?")
    await bot.drained()
    assert len(bot.cards()) == 1
    assert "Nothing in the knowledge base is relevant" in card_text(bot.cards()[0])
    assert [m["text"] for m in bot.thread(ts)] == [bot.thread(ts)[0]["text"]]
    assert "passed it to the team" in bot.thread(ts)[0]["text"]
