"""A round waits for one model round trip, and stores its work once, with its decision.

The question is searched at once and the model classifies it and drafts from those passages at
the same time; the draft is written again only when the classification's search finds passages
that could change it. Everything is stored in one transaction with the decision; a round that
cannot decide keeps the model's work (``drafted``), and tickets stored at ``classified`` or
``retrieved`` (as rounds stored them before they were worked out whole) resume from there.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from bot.jobs import kinds as jobkinds
from bot.ops.trace import trace_lines
from bot.sandbox.standin import SlackStandIn
from bot.tickets.answering import Answerer
from persistence.connect import database_from_url
from persistence.repos import Repositories
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.harness import RunningBot, classification, draft, scripted_llm

BILLING_ARTICLE = 1
EXPORT_ARTICLE = 2
EXPORT_QUESTION = "How do I export a report as CSV?"
CLASSIFY = "You triage customer questions"
DRAFT = "You write replies to customers"
SHOWN = re.compile(r"^\[article (\d+)\]", re.MULTILINE)


def _answering(llm: FakeOpenAI) -> None:
    llm.set_responder(
        scripted_llm(
            classification(),
            draft("Open the report, click *Export* and choose CSV.", [EXPORT_ARTICLE]),
        )
    )


def _kind(request: dict[str, Any]) -> str:
    system = str(request["messages"][0]["content"])
    return "classify" if CLASSIFY in system else "draft" if DRAFT in system else "other"


def _shown(request: dict[str, Any]) -> list[int]:
    return [int(n) for n in SHOWN.findall(str(request["messages"][-1]["content"]))]


async def _steps(bot: RunningBot) -> list[str]:
    rows = await bot.db.fetchall("SELECT step FROM ticket_events ORDER BY id")
    return [r["step"] for r in rows]


async def _details(bot: RunningBot, step: str) -> list[dict[str, Any]]:
    rows = await bot.db.fetchall(
        "SELECT detail FROM ticket_events WHERE step = ? ORDER BY id", (step,)
    )
    return [json.loads(r["detail"]) for r in rows]


async def _state_and_version(bot: RunningBot) -> list[object]:
    row = await bot.db.fetchone("SELECT state, version FROM tickets")
    assert row is not None
    return [row["state"], row["version"]]


async def test_classification_and_draft_are_asked_at_once_and_the_round_is_stored_once(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    _answering(llm)
    llm.hang()  # no answer comes back until both calls have been made
    bot = await make_bot(llm_timeout=30.0)
    ts = await bot.ask(EXPORT_QUESTION)
    asked = await llm.wait_for_requests(2, timeout=10)
    assert sorted(_kind(r) for r in asked) == ["classify", "draft"]
    # The draft was written from the question's own search, before any classification.
    assert EXPORT_ARTICLE in _shown(next(r for r in asked if _kind(r) == "draft"))
    llm.unhang()
    await bot.drained()
    assert "choose CSV" in bot.thread(ts)[0]["text"]
    assert len(llm.requests) == 2  # the first search found the passage: no second draft
    # received → answered: one move of the ticket, every step on the trail.
    assert await _state_and_version(bot) == ["answered", 1]
    steps = await _steps(bot)
    assert steps[:6] == ["received", "classified", "searched", "drafted", "searched", "decided"]
    first, second = await _details(bot, "searched")
    assert (first["stage"], second["stage"]) == ("question", "classification")
    (drafted,) = await _details(bot, "drafted")
    assert drafted["draft"] == "kept" and drafted["sources"] == [EXPORT_ARTICLE]


async def test_the_reply_waits_for_one_model_call_not_two(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    _answering(llm)
    bot = await make_bot(llm_timeout=30.0)
    await bot.ask("Warm up: how do I export a report as CSV?")  # connections, caches
    await bot.drained()
    llm.delay_next(1.0, times=2)  # each call takes a second
    started = time.monotonic()
    ts = await bot.ask(EXPORT_QUESTION)
    await slack.wait_for_posts(1, thread_ts=ts, timeout=10)
    # Two calls one after the other would take two seconds.
    assert time.monotonic() - started < 1.8
    assert len(llm.requests) == 4


def _invoice_model() -> Any:
    """Classifies with a standalone query that names invoices; drafts an answer only when the
    billing article is among the passages shown."""

    def respond(request: dict[str, Any]) -> str:
        if _kind(request) == "classify":
            return json.dumps(
                classification(search_query="download monthly invoices", keywords=["invoices"])
            )
        if BILLING_ARTICLE in _shown(request):
            return json.dumps(
                draft(
                    "Invoices are issued on the first day of each month: download them from"
                    " Settings > Billing.",
                    [BILLING_ARTICLE],
                )
            )
        return json.dumps(
            draft("I could not find this.", [], grounded=False, missing="Where are invoices?")
        )

    return respond


async def test_the_draft_is_written_again_when_the_classifications_search_finds_new_passages(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(_invoice_model())
    bot = await make_bot()
    # The message's own words find the export article (PDF), not the billing one.
    ts = await bot.ask("Where do I get the PDF for our accounts team?")
    await bot.drained()
    assert "Settings > Billing" in bot.thread(ts)[0]["text"]
    kinds = [_kind(r) for r in llm.requests]
    assert sorted(kinds) == ["classify", "draft", "draft"]
    first_draft, second_draft = [r for r in llm.requests if _kind(r) == "draft"]
    assert BILLING_ARTICLE not in _shown(first_draft)
    assert BILLING_ARTICLE in _shown(second_draft)
    steps = await _steps(bot)
    assert steps[1:7] == ["classified", "searched", "drafted", "searched", "redrafted", "decided"]
    (drafted,) = await _details(bot, "drafted")
    assert drafted["draft"] == "redrafted" and "does not answer" in drafted["reason"]
    (redrafted,) = await _details(bot, "redrafted")
    assert redrafted["sources"] == [BILLING_ARTICLE] and redrafted["reason"] == drafted["reason"]
    assert await _state_and_version(bot) == ["answered", 1]
    # `support-bot trace` shows both searches and why the draft was written again.
    repos = Repositories.over(bot.db, internal_kinds=jobkinds.INTERNAL)
    ticket = await repos.tickets.get(1)
    assert ticket is not None
    timeline = "\n".join(trace_lines(ticket, await repos.trail.for_ticket(1)))
    assert "stage=question" in timeline and "stage=classification" in timeline
    assert "draft=redrafted reason=the first draft does not answer" in timeline


async def test_a_request_for_a_person_spends_nothing_ahead(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    _answering(llm)
    bot = await make_bot()
    await bot.ask("Can I talk to a human please? The CSV export is broken.")
    await bot.drained()
    assert await bot.ticket_states() == ["awaiting_review"]
    # No classification call: the rules saw it. One draft, for the reviewer, as before.
    assert [_kind(r) for r in llm.requests] == ["draft"]
    (drafted,) = await _details(bot, "drafted")
    assert "draft" not in drafted
    assert (await _details(bot, "searched"))[0].get("stage") is None


async def test_a_failed_classification_gives_the_reviewer_the_best_passage(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    def respond(request: dict[str, Any]) -> str:
        if _kind(request) == "classify":
            return "not json"  # malformed every time: the classification fails
        return json.dumps(draft("Open the report and choose CSV.", [EXPORT_ARTICLE]))

    llm.set_responder(respond)
    bot = await make_bot()
    await bot.ask(EXPORT_QUESTION)
    await bot.drained()
    assert await bot.ticket_states() == ["awaiting_review"]
    row = await bot.db.fetchone("SELECT draft, decision FROM tickets")
    assert row is not None
    assert json.loads(row["draft"])["origin"] == "knowledge_base"
    assert json.loads(row["decision"])["reason"].startswith("Classification failed")
    (drafted,) = await _details(bot, "drafted")
    assert drafted["draft"] == "discarded"


async def _rename(bot: RunningBot, table: str, to: str) -> None:
    async with bot.db.transaction() as tx:
        await tx.execute(f"ALTER TABLE {table} RENAME TO {to}")


async def _retried(bot: RunningBot, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while "retried" not in await _steps(bot):
        assert time.monotonic() < deadline, "the round was never retried"
        await asyncio.sleep(0.02)


async def test_a_failed_search_spends_no_model_call_and_the_retry_starts_over(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    _answering(llm)
    bot = await make_bot(job_retry_base_seconds=1.0)
    await _rename(bot, "kb_chunks", "kb_chunks_away")  # the passages cannot be read
    ts = await bot.ask(EXPORT_QUESTION)
    await _retried(bot)
    assert await bot.ticket_states() == ["received"]
    assert llm.requests == []  # the question is searched before the model is asked anything
    await _rename(bot, "kb_chunks_away", "kb_chunks")
    await bot.drained(timeout=20)
    assert "choose CSV" in bot.thread(ts)[0]["text"]
    steps = await _steps(bot)
    assert steps.count("classified") == 1 and steps.count("drafted") == 1
    assert len(llm.requests) == 2


async def test_a_failed_decision_keeps_the_draft_and_the_retry_does_not_redraft(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(
        scripted_llm(
            classification("complex_issue", 0.8, summary="Export crashes on large reports."),
            draft("We are looking into export crashes; please retry in an hour.", [EXPORT_ARTICLE]),
        )
    )
    bot = await make_bot(job_retry_base_seconds=1.0)
    await _rename(bot, "escalations", "escalations_away")  # escalating cannot be stored
    await bot.ask("The CSV export crashes every time for our big report!")
    await _retried(bot)
    assert await bot.ticket_states() == ["drafted"]
    await _rename(bot, "escalations_away", "escalations")
    await bot.drained(timeout=20)
    assert await bot.ticket_states() == ["awaiting_review"] and len(bot.cards()) == 1
    steps = await _steps(bot)
    assert steps.count("drafted") == 1 and steps.count("decided") == 1
    assert len(llm.requests) == 2


async def _stopped_mid_round(bot: RunningBot, llm: FakeOpenAI) -> str:
    """A question whose round is stopped while the model is asked (its job handed back)."""
    llm.hang()
    ts = await bot.ask(EXPORT_QUESTION)
    await llm.wait_for_requests(2, timeout=10)
    await bot.stop()
    llm.unhang()
    return str(ts)


async def _store_as(bot: RunningBot, state: str, **fields: Any) -> None:
    """Put the stopped bot's ticket in ``state`` with ``fields``, as an earlier version stored
    a round on its way (its own database connection: the bot's is closed)."""
    db = database_from_url(bot.settings.database_url)
    await db.open()
    try:
        sets = "".join(f", {column} = ?" for column in fields)
        async with db.transaction() as tx:
            await tx.execute(
                f"UPDATE tickets SET state = ?, version = version + 1{sets} WHERE state = ?",
                (state, *(json.dumps(v) for v in fields.values()), "received"),
            )
    finally:
        await db.close()


# The classification an earlier version stored: the model's reading and the round's turns.
STORED_CLASSIFICATION = {"turn_range": [0, 1], **classification()}


async def test_a_ticket_stored_at_classified_is_searched_drafted_and_decided(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    _answering(llm)
    bot = await make_bot(llm_timeout=30.0, shutdown_grace_seconds=0.0)
    ts = await _stopped_mid_round(bot, llm)
    await _store_as(bot, "classified", classification=STORED_CLASSIFICATION)
    asked = len(llm.requests)
    await bot.start()
    await bot.drained()
    assert "choose CSV" in bot.thread(ts)[0]["text"]
    assert [_kind(r) for r in llm.requests[asked:]] == ["draft"]  # not classified again
    assert (await _steps(bot))[1:] == ["searched", "drafted", "decided", "sent"]
    assert await bot.ticket_states() == ["answered"]


async def test_a_ticket_stored_at_retrieved_is_drafted_and_decided(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    _answering(llm)
    bot = await make_bot(llm_timeout=30.0, shutdown_grace_seconds=0.0)
    assert bot.runtime is not None and bot.runtime.services is not None
    searcher = Answerer(bot.runtime.services.knowledge, None)
    retrieval = await searcher.search(EXPORT_QUESTION, STORED_CLASSIFICATION)
    retrieval.pop("duration_ms")
    ts = await _stopped_mid_round(bot, llm)
    await _store_as(bot, "retrieved", classification=STORED_CLASSIFICATION, retrieval=retrieval)
    asked = len(llm.requests)
    await bot.start()
    await bot.drained()
    assert "choose CSV" in bot.thread(ts)[0]["text"]
    assert [_kind(r) for r in llm.requests[asked:]] == ["draft"]  # not classified again
    assert (await _steps(bot))[1:] == ["drafted", "decided", "sent"]
    assert await bot.ticket_states() == ["answered"]
