"""Timers through the real app: reminders on a waiting card, the customer's "still on it",
and auto-close after our reply, all as delayed jobs in SQLite that survive restarts.

Timers here are a second or two; the worker sweeps for due jobs every second. ``drained()``
counts timers due within 30 s as work in flight, so these tests wait for the card or the answer
by polling instead, wherever a timer must not have fired yet.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.sandbox.standin import SlackStandIn
from bot.slack import ids
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.harness import (
    ESCALATION,
    HOME_TEAM,
    OTHER_REVIEWER,
    REVIEWER,
    RunningBot,
    classification,
    click,
    decision_buttons,
    draft,
    scripted_llm,
)

Json = dict[str, Any]

EXPORT_ARTICLE = 2  # ids follow the sorted file names in tests/data/kb
FAQ_QUESTION = "How do I export a report as CSV?"
FAQ_ANSWER = "Open the report, click *Export* and choose CSV."
HARD_QUESTION = "The CSV export crashes every time for our big report!"
HOLDING = "passed it to the team"
AUTO_CLOSED_NOTE = "marked this conversation resolved since it has been quiet"
DEFAULT_STILL_ON_IT = "Sorry for the wait! The team is still on your question"


# -- waiting ------------------------------------------------------------------------------


async def wait_until(
    check: Callable[[], Awaitable[bool]], *, timeout: float, what: str, dump: str = ""
) -> float:
    """Poll ``check`` every 50 ms; return the monotonic time it first held, or fail."""
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return time.monotonic()
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{dump}")
        await asyncio.sleep(0.05)


async def wait_for_posts(
    slack: SlackStandIn, get: Callable[[], list[Json]], n: int, *, timeout: float, what: str
) -> list[Json]:
    """Wait until ``get()`` returns at least ``n`` posts; return them."""

    async def enough() -> bool:
        return len(get()) >= n

    await wait_until(enough, timeout=timeout, what=what, dump=slack.dump())
    return get()


async def assert_stays(get: Callable[[], list[Json]], n: int, *, seconds: float, what: str) -> None:
    """For ``seconds``, ``get()`` must keep returning exactly ``n`` posts."""
    deadline = time.monotonic() + seconds
    while True:
        found = get()
        assert len(found) == n, f"expected {n} {what}, got {len(found)}: {found}"
        if time.monotonic() >= deadline:
            return
        await asyncio.sleep(0.05)


async def wait_for_state(bot: RunningBot, state: str, *, timeout: float) -> float:
    async def reached() -> bool:
        return await bot.ticket_states() == [state]

    return await wait_until(reached, timeout=timeout, what=f"ticket state {state!r}")


async def timers_fired(bot: RunningBot, kinds: tuple[str, ...], *, timeout: float) -> None:
    """Wait until every timer job of these kinds exists and has run (done, not pending)."""
    marks = ",".join("?" for _ in kinds)

    async def all_done() -> bool:
        rows = await bot.db.fetchall(f"SELECT kind, state FROM jobs WHERE kind IN ({marks})", kinds)
        seen = {r["kind"] for r in rows}
        return seen == set(kinds) and all(r["state"] == "done" for r in rows)

    await wait_until(all_done, timeout=timeout, what=f"timers {kinds} to fire")


async def trail_steps(bot: RunningBot) -> list[str]:
    rows = await bot.db.fetchall("SELECT step FROM ticket_events ORDER BY id")
    return [r["step"] for r in rows]


# -- Slack views ----------------------------------------------------------------------------


def root_cards(slack: SlackStandIn) -> list[Json]:
    """Review cards: top-level posts in the escalation channel (not replies in their threads)."""
    return [m for m in slack.posts(channel=ESCALATION) if m.get("thread_ts") is None]


def reminders(slack: SlackStandIn, card: Json) -> Callable[[], list[Json]]:
    return lambda: slack.posts(channel=ESCALATION, thread_ts=card["ts"])


def notes(bot: RunningBot, ts: str) -> Callable[[], list[Json]]:
    return lambda: [m for m in bot.thread(ts) if AUTO_CLOSED_NOTE in m["text"]]


# -- getting a ticket into shape --------------------------------------------------------------


async def _escalate(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI, **overrides: Any
) -> tuple[RunningBot, str, Json]:
    """A ticket waiting on its review card, without draining (that would run short timers)."""
    llm.set_responder(
        scripted_llm(
            classification("complex_issue", 0.8, summary="Export crashes on large reports."),
            draft("We are looking into export crashes; please retry in an hour.", [EXPORT_ARTICLE]),
        )
    )
    bot = await make_bot(**overrides)
    ts = await bot.ask(HARD_QUESTION)
    cards = await wait_for_posts(
        slack, lambda: root_cards(slack), 1, timeout=10, what="the review card"
    )
    holding = await wait_for_posts(slack, lambda: bot.thread(ts), 1, timeout=10, what="holding")
    assert HOLDING in holding[0]["text"]
    assert set(decision_buttons(cards[0])) == set(ids.REVIEW_ACTIONS)
    return bot, ts, cards[0]


async def _answered(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI, **overrides: Any
) -> tuple[RunningBot, str]:
    """A question the bot answered itself in the thread (the answer is the last word)."""
    llm.set_responder(scripted_llm(classification(), draft(FAQ_ANSWER, [EXPORT_ARTICLE])))
    bot = await make_bot(**overrides)
    ts = await bot.ask(FAQ_QUESTION)
    replies = await wait_for_posts(slack, lambda: bot.thread(ts), 1, timeout=10, what="answer")
    assert "click *Export* and choose CSV" in replies[0]["text"]
    assert root_cards(slack) == []
    return bot, ts


# -- reminders on the card ---------------------------------------------------------------------


async def test_reminders_in_the_card_thread_mention_reviewers_back_off_and_stop_at_the_max(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts, card = await _escalate(
        make_bot, slack, llm, review_reminder="1s", review_reminders_max=2
    )
    get = reminders(slack, card)
    assert get() == []

    first = await wait_for_posts(slack, get, 1, timeout=5, what="the first reminder")
    t1 = time.monotonic()
    text = first[0]["text"]
    assert first[0]["channel"] == ESCALATION and first[0]["thread_ts"] == card["ts"]
    assert f"<@{REVIEWER}>" in text and f"<@{OTHER_REVIEWER}>" in text
    assert "Ticket #1" in text

    await wait_for_posts(slack, get, 2, timeout=6, what="the second reminder")
    t2 = time.monotonic()
    # Backoff: the second comes review_reminder * 2 after the first, not review_reminder.
    assert t2 - t1 >= 1.7, f"second reminder only {t2 - t1:.2f}s after the first"
    rows = await bot.db.fetchall(
        "SELECT available_at - created_at AS delay FROM jobs WHERE kind = 'remind' ORDER BY id"
    )
    assert [round(r["delay"], 1) for r in rows] == [1.0, 2.0]
    second_text = get()[1]["text"]
    assert f"<@{REVIEWER}>" in second_text and f"<@{OTHER_REVIEWER}>" in second_text

    # review_reminders_max=2: the rows above are all the timers there are (a third would have
    # been queued with the second reminder), and nothing more comes in the thread for about
    # as long as a third would take (4 s after the second).
    await assert_stays(get, 2, seconds=4.2, what="reminders")
    # Reminders are for the team: the customer's thread only has the holding reply.
    assert [m["text"] for m in bot.thread(ts)] == [bot.thread(ts)[0]["text"]]
    assert await bot.ticket_states() == ["awaiting_review"]


async def test_after_claiming_the_reminder_mentions_only_the_owner(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, _ts, card = await _escalate(
        make_bot, slack, llm, review_reminder="2s", review_reminders_max=1
    )
    status, _ = await click(bot, ids.ACTION_CLAIM, user=REVIEWER, card=card)
    assert status == 200

    async def claimed() -> bool:
        row = await bot.db.fetchone("SELECT owner_user_id FROM tickets")
        return row is not None and row["owner_user_id"] == REVIEWER

    await wait_until(claimed, timeout=5, what="the claim to be recorded")
    get = reminders(slack, card)
    assert get() == [], "the reminder fired before the claim; the test needs a longer delay"

    posted = await wait_for_posts(slack, get, 1, timeout=6, what="the reminder")
    text = posted[0]["text"]
    assert f"<@{REVIEWER}>" in text
    assert f"<@{OTHER_REVIEWER}>" not in text
    assert slack.ephemerals == []  # the claim went through without a notice


async def test_a_decision_before_the_reminder_means_no_reminder_and_no_still_on_it(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts, card = await _escalate(make_bot, slack, llm, review_reminder="2s", review_timeout="2s")
    status, _ = await click(bot, ids.ACTION_APPROVE, card=card)
    assert status == 200
    thread = await wait_for_posts(slack, lambda: bot.thread(ts), 2, timeout=5, what="reply")
    assert "retry in an hour" in thread[1]["text"]

    # The timers still come due and run; a decided card makes them no-ops.
    await timers_fired(bot, ("remind", "review_timeout"), timeout=6)
    await bot.drained()
    await assert_stays(reminders(slack, card), 0, seconds=1.0, what="reminders")
    assert len(bot.thread(ts)) == 2
    assert not any(DEFAULT_STILL_ON_IT in m["text"] for m in slack.posts())
    assert await bot.ticket_states() == ["replied"]
    steps = await trail_steps(bot)
    assert "reminded" not in steps and "review_timed_out" not in steps


async def test_a_restart_while_a_reminder_waits_still_sends_it_exactly_once(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, _ts, card = await _escalate(
        make_bot, slack, llm, review_reminder="2s", review_reminders_max=1
    )
    await bot.restart()
    get = reminders(slack, card)
    assert get() == [], "the reminder fired before the restart; the test needs a longer delay"

    await wait_for_posts(slack, get, 1, timeout=6, what="the reminder after the restart")
    await assert_stays(get, 1, seconds=2.5, what="reminders")
    assert f"<@{REVIEWER}>" in get()[0]["text"]
    assert (await trail_steps(bot)).count("reminded") == 1


async def test_a_reminder_due_while_the_bot_is_down_is_sent_once_after_it_starts(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, _ts, card = await _escalate(
        make_bot, slack, llm, review_reminder="1s", review_reminders_max=1
    )
    await bot.stop()
    await asyncio.sleep(1.5)
    get = reminders(slack, card)
    assert get() == []
    await bot.start()
    await wait_for_posts(slack, get, 1, timeout=5, what="the overdue reminder")
    await assert_stays(get, 1, seconds=2.0, what="reminders")


# -- the customer hears "still on it" ------------------------------------------------------------


async def test_review_timeout_tells_the_customer_once_with_the_configured_text_and_stays_open(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    custom = "Thanks for your patience: a specialist is still looking into your export."
    bot, ts, card = await _escalate(
        make_bot, slack, llm, review_timeout="1s", still_on_it_message=custom
    )
    thread = await wait_for_posts(
        slack, lambda: bot.thread(ts), 2, timeout=5, what="the still-on-it message"
    )
    assert thread[1]["text"] == custom
    assert thread[1]["thread_ts"] == ts
    await assert_stays(lambda: bot.thread(ts), 2, seconds=2.5, what="posts in the thread")
    assert not any(DEFAULT_STILL_ON_IT in m["text"] for m in slack.posts())
    assert not any(custom in m["text"] for m in slack.posts(channel=ESCALATION))

    assert await bot.ticket_states() == ["awaiting_review"]
    current = slack.find_message(ESCALATION, card["ts"])
    assert current is not None
    assert set(decision_buttons(current)) == set(ids.REVIEW_ACTIONS)
    assert (await trail_steps(bot)).count("review_timed_out") == 1

    # Still open: the reviewer can approve afterwards and the customer gets the draft.
    await click(bot, ids.ACTION_APPROVE, card=current)
    await bot.drained()
    replies = bot.thread(ts)
    assert len(replies) == 3 and "retry in an hour" in replies[2]["text"]
    assert await bot.ticket_states() == ["replied"]


# -- auto-close ------------------------------------------------------------------------------------


async def test_quiet_customer_after_an_answer_is_auto_closed_once_and_a_reply_reopens_it(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await _answered(make_bot, slack, llm, auto_close_after="1s")
    assert await bot.ticket_states() == ["answered"]

    await wait_for_state(bot, "resolved", timeout=5)
    await wait_for_posts(slack, notes(bot, ts), 1, timeout=5, what="the resolved note")
    await assert_stays(notes(bot, ts), 1, seconds=2.0, what="resolved notes")
    thread = bot.thread(ts)
    assert len(thread) == 2 and AUTO_CLOSED_NOTE in thread[1]["text"]
    row = await bot.db.fetchone("SELECT resolved_by, round FROM tickets")
    assert row is not None and (row["resolved_by"], row["round"]) == ("bot", 1)
    assert "auto_closed" in await trail_steps(bot)

    # The customer writes again in the thread: the ticket reopens with a new round.
    # (The same words: retrieval only sees the new round's text, and must find it fits.)
    await bot.ask(FAQ_QUESTION, thread_ts=ts)

    async def reopened() -> bool:
        row = await bot.db.fetchone("SELECT state, round FROM tickets")
        return row is not None and row["state"] != "resolved" and row["round"] == 2

    await wait_until(reopened, timeout=5, what="the ticket to reopen", dump=slack.dump())
    assert "reopened" in await trail_steps(bot)
    replies = await wait_for_posts(
        slack, lambda: bot.thread(ts), 3, timeout=10, what="the new round's answer"
    )
    assert "click *Export*" in replies[2]["text"]
    rows = await bot.db.fetchall("SELECT COUNT(*) AS n FROM tickets")
    assert rows[0]["n"] == 1
    # The new round's answer starts its own wait, and closes with its own note.
    await wait_for_posts(slack, notes(bot, ts), 2, timeout=5, what="the second resolved note")
    await wait_for_state(bot, "resolved", timeout=5)


async def test_no_auto_close_when_the_customer_wrote_after_the_answer(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await _answered(make_bot, slack, llm, auto_close_after="2s")
    await bot.ask("That didn't work, can I talk to a person?", thread_ts=ts)
    # drained() runs everything due within 30 s, including the 2 s auto-close timer.
    await bot.drained()
    await timers_fired(bot, ("auto_close",), timeout=5)
    assert len(root_cards(slack)) == 1
    assert await bot.ticket_states() == ["awaiting_review"]
    assert notes(bot, ts)() == []
    assert "auto_closed" not in await trail_steps(bot)
    card = slack.find_message(ESCALATION, root_cards(slack)[0]["ts"])
    assert card is not None and ids.ACTION_REJECT in decision_buttons(card)  # still undecided


async def test_staff_reply_auto_closes_but_not_once_the_customer_answered_it(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    """A teammate's reply in the thread starts the wait; the customer writing after it (the
    ticket stays with the teammate, state "human") means it is no longer the last word."""
    bot, ts, card = await _escalate(make_bot, slack, llm, auto_close_after="2s")
    await bot.ask("Fixed on our side, please retry.", user=REVIEWER, team=HOME_TEAM, thread_ts=ts)
    await wait_for_state(bot, "human", timeout=5)
    await bot.ask("Still crashing for me, sorry!", thread_ts=ts)
    await bot.drained()  # runs the 2 s auto-close timer
    await timers_fired(bot, ("auto_close",), timeout=5)
    assert await bot.ticket_states() == ["human"]
    assert notes(bot, ts)() == []
    current = slack.find_message(ESCALATION, card["ts"])
    assert current is not None and decision_buttons(current) == {}  # answered in the thread

    # The teammate replies again and the customer stays quiet: now it resolves.
    await bot.ask("Try once more now, please.", user=REVIEWER, team=HOME_TEAM, thread_ts=ts)
    await wait_for_state(bot, "resolved", timeout=6)
    await wait_for_posts(slack, notes(bot, ts), 1, timeout=5, what="the resolved note")
    await assert_stays(notes(bot, ts), 1, seconds=1.5, what="resolved notes")


async def test_a_restart_during_the_auto_close_wait_still_resolves_exactly_once(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    bot, ts = await _answered(make_bot, slack, llm, auto_close_after="2s")
    await bot.restart()
    assert await bot.ticket_states() == ["answered"], "closed before the restart"
    await wait_for_state(bot, "resolved", timeout=6)
    await wait_for_posts(slack, notes(bot, ts), 1, timeout=5, what="the resolved note")
    await assert_stays(notes(bot, ts), 1, seconds=2.5, what="resolved notes")
    assert len(bot.thread(ts)) == 2
    assert (await trail_steps(bot)).count("auto_closed") == 1
    assert root_cards(slack) == []
