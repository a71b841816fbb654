"""The bot answers what its knowledge base answers, asked the way customers write in Slack.

Through the real app (signed HTTP in, the Slack stand-in out), with the sandbox's example help
centre (``bot/sandbox/kb``, Parcelo) and a *careful* scripted model: it reads the passages the
bot shows it and says "grounded" only when the section that answers the question is among
them, citing that section's article. Whether the bot then answers is the bot's own doing:
its search (on the question's substance, not the message's words) must bring that section, and
its checks must find the draft's facts in the cited passage.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from bot.jobs import kinds as jobkinds
from bot.ops.trace import trace_lines
from bot.sandbox.server import EXAMPLE_KB
from bot.sandbox.standin import SlackStandIn
from persistence.repos import Repositories
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.harness import ESCALATION, RunningBot, card_text, import_kb

ARTICLE_LINE = re.compile(r"^\[article (\d+)\] (.+?) › (.+)$", re.MULTILINE)
LATEST = "Customer's latest message:\n"

CHATTY_LABEL_QUESTION = (
    "Hi team! :wave: I printed a label by mistake yesterday for order #55123 (we ship from"
    " our Berlin warehouse). Can I still void it and get my money back? Thanks! Dana"
)
VOID_SECTION = "Void a label you did not use"
VOID_ANSWER = (
    "Yes. Open the order, click the label and choose *Void label*: that works within 14 days"
    " of buying it. The postage goes back to your Parcelo balance within five working days."
)


class CarefulModel:
    """Classifies every question as a confident simple FAQ with the standalone search query the
    test gives for it, and drafts ``answers[section]`` only when that section was shown."""

    def __init__(self, queries: dict[str, str], answers: dict[str, str]) -> None:
        self.queries = queries  # a phrase of the customer's latest message -> search_query
        self.answers = answers  # the heading of the section that answers it -> the answer
        self.prompts: list[str] = []

    def __call__(self, request: dict[str, Any]) -> str:
        system = str(request["messages"][0]["content"])
        user = str(request["messages"][1]["content"])
        self.prompts.append(user)
        latest = user.rsplit(LATEST, 1)[-1]
        if "You triage customer questions" in system:
            query = next((q for phrase, q in self.queries.items() if phrase in latest), latest)
            return json.dumps(
                {
                    "category": "simple_faq",
                    "confidence": 0.92,
                    "search_query": query,
                    "keywords": query.split()[:5],
                    "summary": "The customer asks how to do something.",
                    "wants_human": False,
                }
            )
        shown = {heading: int(n) for n, _title, heading in ARTICLE_LINE.findall(user)}
        for heading, answer in self.answers.items():
            if heading in shown:
                return json.dumps(
                    {
                        "answer": answer,
                        "used_article_ids": [shown[heading]],
                        "grounded": True,
                        "missing_information": "",
                    }
                )
        return json.dumps(
            {
                "answer": "I could not find this in the help centre.",
                "used_article_ids": [],
                "grounded": False,
                "missing_information": "What should we tell customers about this?",
            }
        )


async def _bot(
    make_bot: BotFactory,
    tmp_path: Path,
    *,
    offline: bool = False,
    leave_out: str = "",
    **settings: Any,
) -> RunningBot:
    kb = tmp_path / "help-centre"
    shutil.copytree(EXAMPLE_KB, kb, ignore=shutil.ignore_patterns(leave_out) if leave_out else None)
    bot = await make_bot(offline=offline, kb=False, **settings)
    await import_kb(bot.settings, kb)
    return bot


async def _searched(bot: RunningBot) -> list[dict[str, Any]]:
    rows = await bot.db.fetchall(
        "SELECT detail FROM ticket_events WHERE step = 'searched' ORDER BY id"
    )
    return [json.loads(r["detail"]) for r in rows]


async def _decisions(bot: RunningBot) -> list[dict[str, Any]]:
    rows = await bot.db.fetchall("SELECT decision FROM tickets ORDER BY id")
    return [json.loads(r["decision"]) for r in rows]


def _label_model(answer: str = VOID_ANSWER) -> CarefulModel:
    return CarefulModel(
        {"void it": "void an unused shipping label and get the postage back"},
        {VOID_SECTION: answer},
    )


async def test_a_chatty_faq_with_a_greeting_an_order_number_and_context_is_answered(
    make_bot: BotFactory, tmp_path: Path, llm: FakeOpenAI
) -> None:
    llm.set_responder(_label_model())
    bot = await _bot(make_bot, tmp_path)
    ts = await bot.ask(CHATTY_LABEL_QUESTION)
    await bot.drained()

    replies = bot.thread(ts)
    assert len(replies) == 1, [r["text"] for r in replies]
    assert "choose *Void label*" in replies[0]["text"]
    assert "Sources: Shipping labels › Void a label you did not use" in replies[0]["text"]
    assert await bot.ticket_states() == ["answered"]
    assert bot.cards() == []
    # Both queries are on the trail: the model's standalone query and the message's substance,
    # without the greeting, the order number and the sign-off (searched first on its own,
    # while the model classified the question).
    first, searched = await _searched(bot)
    assert (first["stage"], searched["stage"]) == ("question", "classification")
    purposes = {purpose: query for purpose, query, _confidence in searched["queries"]}
    assert purposes["standalone"] == "void an unused shipping label and get the postage back"
    cleaned = purposes["message"]
    assert "void it and get my money back" in cleaned
    for chatter in ("Hi team", ":wave:", "55123", "Thanks", "Dana"):
        assert chatter not in cleaned
    assert searched["fits"] is True
    # ... and `support-bot trace` (and the card's Why?) shows them.
    repos = Repositories.over(bot.db, internal_kinds=jobkinds.INTERNAL)
    ticket = await repos.tickets.get(1)
    assert ticket is not None
    timeline = "\n".join(trace_lines(ticket, await repos.trail.for_ticket(1)))
    assert 'standalone="void an unused shipping label and get the postage back"' in timeline
    assert 'message="I printed a label by mistake yesterday' in timeline


async def test_the_same_question_escalates_when_the_knowledge_base_lacks_the_answer(
    make_bot: BotFactory, tmp_path: Path, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(_label_model())
    bot = await _bot(make_bot, tmp_path, leave_out="shipping-labels.md")
    ts = await bot.ask(CHATTY_LABEL_QUESTION)
    await bot.drained()

    thread = bot.thread(ts)
    assert len(thread) == 1 and "passed it to the team" in thread[0]["text"]
    assert await bot.ticket_states() == ["awaiting_review"]
    (decision,) = await _decisions(bot)
    assert decision["action"] == "escalate"
    assert decision["reason"] in (
        "The knowledge base does not fully answer the question.",
        # or retrieval found nothing relevant at all, before the model was asked
    ) or decision["reason"].startswith("Nothing in the knowledge base is relevant")
    card = card_text(bot.cards()[0])
    assert "void it and get my money back" in card
    assert "Void label" not in "".join(m["text"] for m in slack.posts(channel="CSUPPORT"))


async def test_a_follow_up_in_the_thread_is_answered_from_the_right_article(
    make_bot: BotFactory, tmp_path: Path, llm: FakeOpenAI
) -> None:
    model = CarefulModel(
        {
            "download": "download an invoice",
            # The model folds the thread in: "them" are invoices.
            "by email": "when do admins receive invoices by email",
        },
        {
            "Download an invoice": (
                "Go to *Settings › Billing › Invoices*, click the month you need and choose"
                " *Download PDF*."
            ),
        },
    )
    llm.set_responder(model)
    bot = await _bot(make_bot, tmp_path)
    ts = await bot.ask("hey! how do I download last month's invoice? acct 99812")
    await bot.drained()
    assert len(bot.thread(ts)) == 1

    model.answers = {
        "Download an invoice": (
            "Admins get each invoice by email on the first working day of the month."
        )
    }
    await bot.ask("thanks! and do admins also get them by email?", thread_ts=ts)
    await bot.drained()

    replies = bot.thread(ts)
    assert len(replies) == 2  # the bot's two answers; no holding reply, no card
    assert bot.cards() == []
    assert "first working day of the month" in replies[-1]["text"]
    assert "Sources: Billing and invoices › Download an invoice" in replies[-1]["text"]
    # The follow-up's classification saw the thread, and searched for its substance.
    follow_up_classify = next(p for p in model.prompts if "do admins also get them" in p)
    assert "how do I download last month's invoice" in follow_up_classify
    standalone = {p: q for p, q, _c in (await _searched(bot))[-1]["queries"]}["standalone"]
    assert standalone == "when do admins receive invoices by email"
    assert await bot.ticket_states() == ["answered"]


async def test_a_draft_stating_a_number_its_passage_lacks_goes_to_review_with_it_named(
    make_bot: BotFactory, tmp_path: Path, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    wrong = VOID_ANSWER.replace("within 14 days", "within 30 days")
    llm.set_responder(_label_model(wrong))
    bot = await _bot(make_bot, tmp_path)
    ts = await bot.ask(CHATTY_LABEL_QUESTION)
    await bot.drained()

    assert await bot.ticket_states() == ["awaiting_review"]
    (decision,) = await _decisions(bot)
    assert decision["reason"] == (
        "The draft states “30 days”, which its cited passages do not contain."
    )
    card = card_text(bot.cards()[0])
    assert "Not in the cited passages: “30 days”" in card
    assert "within 30 days" in card  # the draft is on the card for the reviewer to fix
    customer = [m["text"] for m in bot.thread(ts)]
    assert len(customer) == 1 and "30 days" not in customer[0]
    assert all("30 days" not in m["text"] for m in slack.posts(channel="CSUPPORT"))
    assert slack.posts(channel=ESCALATION)


async def test_offline_the_best_passage_goes_to_the_card_and_nothing_is_sent(
    make_bot: BotFactory, tmp_path: Path, llm: FakeOpenAI
) -> None:
    bot = await _bot(make_bot, tmp_path, offline=True)
    ts = await bot.ask(CHATTY_LABEL_QUESTION)
    await bot.drained()

    thread = bot.thread(ts)
    assert len(thread) == 1 and "passed it to the team" in thread[0]["text"]
    assert await bot.ticket_states() == ["awaiting_review"]
    card = card_text(bot.cards()[0])
    assert "*Suggested reply*" in card
    assert "choose **Void label** within 14 days of buying it" in card
    assert "Sources: Shipping labels › Void a label you did not use" in card
    assert "No draft" not in card
    assert llm.requests == []  # offline: no model was asked


async def test_thanks_after_an_answer_wakes_no_one_and_a_real_follow_up_still_does(
    make_bot: BotFactory, tmp_path: Path, llm: FakeOpenAI
) -> None:
    llm.set_responder(_label_model())
    bot = await _bot(make_bot, tmp_path)
    ts = await bot.ask(CHATTY_LABEL_QUESTION)
    await bot.drained()
    classify_calls = len(llm.requests)

    await bot.ask("Thanks, that worked! :pray:", thread_ts=ts)
    await bot.drained()
    assert await bot.ticket_states() == ["answered"]
    assert len(llm.requests) == classify_calls  # no new round: nothing classified or drafted
    assert bot.cards() == [] and len(bot.thread(ts)) == 1
    rows = await bot.db.fetchall(
        "SELECT detail FROM ticket_events WHERE step = 'follow_up_ignored' ORDER BY id"
    )
    assert [json.loads(r["detail"])["reason"] for r in rows] == [
        "thanks or an acknowledgement: nothing to answer"
    ]

    await bot.ask("thanks! and can I void it from the mobile app too?", thread_ts=ts)
    await bot.drained()
    assert len(llm.requests) > classify_calls  # a question in the thanks gets its round


async def test_a_draft_linking_elsewhere_goes_to_review_and_the_card_shows_the_real_target(
    make_bot: BotFactory, tmp_path: Path, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    disguised = VOID_ANSWER + " Details: <https://evil.example/void|https://parcelo.example/help>"
    llm.set_responder(_label_model(disguised))
    bot = await _bot(make_bot, tmp_path)
    ts = await bot.ask(CHATTY_LABEL_QUESTION)
    await bot.drained()

    assert await bot.ticket_states() == ["awaiting_review"]
    (decision,) = await _decisions(bot)
    assert decision["reason"].startswith(
        "The draft links to “https://parcelo.example/help (opens evil.example)”"
    )
    card = card_text(bot.cards()[0])
    # Escaped as customer text is: the reviewer reads the link's real target, nothing clickable.
    assert "&lt;https://evil.example/void|https://parcelo.example/help&gt;" in card
    assert "<https://evil.example" not in card
    assert len(bot.thread(ts)) == 1  # the holding reply only
    assert all("evil.example" not in m["text"] for m in slack.posts(channel="CSUPPORT"))


async def test_an_allowed_link_host_may_be_linked_without_being_in_the_passage(
    make_bot: BotFactory, tmp_path: Path, llm: FakeOpenAI
) -> None:
    linked = VOID_ANSWER + " More: <https://help.parcelo.example/labels|label help>"
    llm.set_responder(_label_model(linked))
    bot = await _bot(make_bot, tmp_path, answer_link_hosts=["parcelo.example"])
    ts = await bot.ask(CHATTY_LABEL_QUESTION)
    await bot.drained()
    assert await bot.ticket_states() == ["answered"]
    assert "<https://help.parcelo.example/labels|label help>" in bot.thread(ts)[0]["text"]


async def test_a_greeting_alone_is_asked_what_it_needs_and_the_question_in_its_thread_answered(
    make_bot: BotFactory, tmp_path: Path, llm: FakeOpenAI
) -> None:
    llm.set_responder(_label_model())
    bot = await _bot(make_bot, tmp_path)
    ts = await bot.ask("Hi team! :wave:")
    await bot.drained()
    (greeting,) = bot.thread(ts)
    assert greeting["text"].startswith("Hi! :wave: What can I help you with?")
    assert "blocks" not in greeting or not greeting["blocks"]  # no Helpful / person buttons
    assert bot.cards() == [] and llm.requests == []  # no model, no reviewer
    assert await bot.ticket_states() == ["answered"]

    await bot.ask("I printed a label by mistake, can I still void it?", thread_ts=ts)
    await bot.drained()
    assert "choose *Void label*" in bot.thread(ts)[-1]["text"]
    assert bot.cards() == []


async def test_thanks_on_its_own_is_ignored_with_its_reason(
    make_bot: BotFactory, tmp_path: Path, llm: FakeOpenAI
) -> None:
    bot = await _bot(make_bot, tmp_path)
    await bot.ask("thanks so much, that worked! :pray:")
    await bot.drained()
    assert await bot.ticket_states() == []
    assert await bot.ignored_reasons() == ["thanks or an acknowledgement, not a question"]
    assert bot.cards() == [] and llm.requests == []
