"""bench.decisions: the scripted model reads prompts as the bot renders them, and a small run
through the real workflow gives every message an outcome."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from typing import Any

from bench.datasets import Article
from bench.decisions import (
    INVENT_SHARE,
    Case,
    Part,
    ScriptedModel,
    _norm,
    normalised_reason,
    prompt_parts,
    run_part,
    summarise,
)
from bench.slack_style import Kind, Question, SlackMessage, ThreadTurn
from bot.llm.prompts import load_prompt
from tests.fakes.openai_api import FakeOpenAI

ARTICLES_SHOWN = (
    "[article 3] Export › Reports\nOpen Reports and choose Export, then CSV.\n\n"
    "[article 9] Billing › Invoices\nInvoices are under Settings, Billing; 30 days of history."
    "\n\n[article 3] Export › Reports\nA second passage of article 3."
)


def message(
    uid: str,
    text: str,
    gold: Sequence[str] = (),
    kind: Kind = "answerable",
    thread: tuple[ThreadTurn, ...] = (),
    clean: str | None = None,
) -> SlackMessage:
    return SlackMessage(uid, "plain", text, clean or text, tuple(gold), kind, "test", thread)


def draft_request(
    question: str, history: str = "(none)", articles: str = ARTICLES_SHOWN
) -> dict[str, Any]:
    prompt = load_prompt("draft")
    messages = prompt.render(
        language="English",
        question=question,
        history=history,
        articles=articles,
        team_notes="(none)",
        attachments="",
    )
    return {"messages": messages}


def classify_request(question: str, history: str = "(none)") -> dict[str, Any]:
    return {
        "messages": load_prompt("classify").render(
            question=question, history=history, attachments=""
        )
    }


def found(model: ScriptedModel, latest: str, history: str) -> str:
    case = model.find(latest, history)
    assert case is not None
    return case.message.uid


def test_prompt_parts_read_the_rendered_draft_prompt():
    request = draft_request("hey :wave:\nhow do I export?", "Customer: earlier question")
    latest, history, shown = prompt_parts(request["messages"][1]["content"])
    assert latest == "hey :wave:\nhow do I export?"
    assert history == "Customer: earlier question"
    assert list(shown) == [3, 9]
    assert shown[3] == "Open Reports and choose Export, then CSV."
    assert shown[9].startswith("Invoices are under Settings")


def test_the_most_specific_thread_wins():
    model = ScriptedModel(seed=1)
    short = message(
        "a", "and if that doesn't work?", ["kb:a"], thread=(ThreadTurn("customer", "export?"),)
    )
    long = message(
        "b", "and if that doesn't work?", ["kb:b"], thread=(ThreadTurn("customer", "hi! export?"),)
    )
    root = message("c", "and if that doesn't work?", ["kb:c"])
    model.load(
        [
            Case(m, (i,), tuple(_norm(t.text) for t in m.thread))
            for i, m in enumerate((short, long, root))
        ],
        "careful",
    )
    assert found(model, "and if that doesn't work?", "Customer: hi! export?") == "b"
    assert found(model, "and if that doesn't work?", "Customer: export?") == "a"
    assert found(model, "and if that doesn't work?", "(none)") == "c"
    assert model.find("something else", "(none)") is None


def test_careful_classifies_with_the_clean_question_as_search_query():
    model = ScriptedModel(seed=1)
    asked = message(
        "a", "Hi team! how do I exprot? (order #55123)", ["kb:x"], clean="how do I export?"
    )
    person = message("p", "can I talk to a human", ["kb:h"], kind="wants_person")
    model.load([Case(asked, (3,), ()), Case(person, (4,), ())], "careful")
    reply = json.loads(model(classify_request(asked.text)))
    assert reply["search_query"] == "how do I export?"
    assert reply["category"] == "simple_faq" and reply["wants_human"] is False
    assert json.loads(model(classify_request(person.text)))["wants_human"] is True


def test_careful_drafts_are_grounded_only_when_every_gold_article_was_shown():
    model = ScriptedModel(seed=1)
    one = message("one", "export?", ["kb:export"])
    both = message("both", "export? and invoices?", ["kb:export", "kb:invoices"])
    missing = message("missing", "refunds? and export?", ["kb:refunds", "kb:export"])
    oos = message("oos", "weather?", kind="out_of_scope")
    model.load(
        [Case(one, (3,), ()), Case(both, (3, 9), ()), Case(missing, (5, 3), ()), Case(oos, (), ())],
        "careful",
    )
    reply = json.loads(model(draft_request("export?")))
    assert reply["grounded"] and reply["used_article_ids"] == [3]
    assert "Open Reports and choose Export, then CSV." in reply["answer"]
    reply = json.loads(model(draft_request("export? and invoices?")))
    assert reply["grounded"] and reply["used_article_ids"] == [3, 9]
    for text in ("refunds? and export?", "weather?"):
        reply = json.loads(model(draft_request(text)))
        assert not reply["grounded"] and reply["used_article_ids"] == []
    assert not model.unmatched


def test_credulous_drafts_cite_the_first_article_and_sometimes_invent_a_number():
    model = ScriptedModel(seed=1)
    asked = [message(f"m{i}", f"question {i}?", ["kb:x"]) for i in range(200)]
    model.load([Case(m, (9,), ()) for m in asked], "credulous")
    invented = 0
    for m in asked:
        reply = json.loads(model(draft_request(m.text)))
        assert reply["grounded"] and reply["used_article_ids"] == [3]
        number = re.search(r"It usually takes (\d+) business days", reply["answer"])
        if number:
            invented += 1
            assert number.group(1) not in re.findall(r"\d+", ARTICLES_SHOWN)
    assert invented == len(model.invented)
    assert abs(invented / len(asked) - INVENT_SHARE) < 0.08
    again = ScriptedModel(seed=1)
    again.load([Case(m, (9,), ()) for m in asked], "credulous")
    for m in asked:
        again(draft_request(m.text))
    assert again.invented == model.invented


def test_reasons_are_normalised():
    assert (
        normalised_reason("covers 0.31 of its words, below 0.66.")
        == "covers N of its words, below N."
    )


ARTICLES = [
    Article("kb:export", "Export reports", (("Export", "How do I export a report as CSV?"),)),
    Article("kb:password", "Reset password", (("Password", "How do I reset my password?"),)),
    Article(
        "kb:invoice", "Download invoices", (("Invoices", "Where can I download my invoices?"),)
    ),
    Article("kb:person", "Contact a person", (("People", "I want to talk to a human agent"),)),
]
QUESTIONS = [
    Question("how can I export my report to csv", "kb:export"),
    Question("I forgot my password, how do I reset it", "kb:password"),
    Question("where do I find invoices to download", "kb:invoice"),
    Question("what is the capital of France", None),
    Question("please recommend a good restaurant", None),
]


async def test_a_small_run_through_the_real_workflow():
    part = Part(
        name="toy",
        dataset="toy",
        split="test",
        articles=ARTICLES,
        questions=QUESTIONS * 6,
        pool=QUESTIONS,
        available=len(QUESTIONS) * 6,
    )
    args = argparse.Namespace(
        seed=5,
        modes=["careful", "credulous", "offline"],
        concurrency=4,
        embedding=None,
        fit_threshold=None,
        dump_messages=None,
    )
    model = ScriptedModel(args.seed)
    async with FakeOpenAI(api_key="sk-bench-key", responder=model) as fake:
        entry, outcomes = await run_part(args, part, model, fake, 0.0)
    assert entry["messages"] == 30
    for mode in args.modes:
        assert len(outcomes[mode]) == 30
        assert all(o.action in ("answer", "escalate") for o in outcomes[mode]), mode
        assert not entry["modes"][mode]["unmatched_prompts"], mode
    careful = summarise(outcomes["careful"], "careful")
    assert careful["counts"]["answered_wrongly"] == 0
    assert careful["counts"]["oos_answered"] == 0
    assert careful["counts"]["answered_correctly"] > 0
    offline = summarise(outcomes["offline"], "offline")
    assert offline["counts"]["auto_answered"] == 0
    assert offline["card_passage_correct_at_1"] is not None
