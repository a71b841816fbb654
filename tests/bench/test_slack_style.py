"""The Slack-style message generator of bench.decisions: seeded, the styles in their
proportions, and each style doing what it says."""

from __future__ import annotations

import random
import re
from collections import Counter
from typing import Any

import pytest

from bench.slack_style import (
    BOT_REPLY,
    FOLLOW_UPS,
    STAFF_REPLY_NO_ARTICLE,
    STYLE_WEIGHTS,
    TYPO_MIN_LETTERS,
    Question,
    SlackMessage,
    decorate,
    slack_messages,
    typos,
)

QUESTIONS = [
    Question(f"how do I {verb} my {thing} number {i}", f"kb:{verb}-{thing}", "test")
    for i, (verb, thing) in enumerate(
        (v, t)
        for v in ("export", "download", "cancel", "change", "update", "delete", "restore")
        for t in ("invoice", "account", "password", "subscription", "address", "report")
    )
]
OUT_OF_SCOPE = [Question(f"what is the weather like in city {i}", None, "oos") for i in range(20)]
PERSON = [
    Question(f"I need to speak with a human agent ({i})", "kb:human", "test") for i in range(20)
]
TITLES = {q.gold: f"Title of {q.gold}" for q in QUESTIONS if q.gold}


def messages(questions: list[Question], seed: int = 7, **kw: Any) -> list[SlackMessage]:
    return slack_messages(
        questions,
        pool=QUESTIONS + OUT_OF_SCOPE + PERSON,
        seed=seed,
        titles=TITLES,
        wants_person=lambda gold: gold == "kb:human",
        **kw,
    )


def test_weights_add_up_to_one():
    assert sum(STYLE_WEIGHTS.values()) == pytest.approx(1.0)


def test_same_seed_same_messages_and_another_seed_others():
    assert messages(QUESTIONS) == messages(QUESTIONS)
    assert [m.text for m in messages(QUESTIONS)] != [m.text for m in messages(QUESTIONS, seed=8)]


def test_styles_come_in_their_proportions():
    many = [Question(f"{q.text} variant {i}", q.gold) for i in range(60) for q in QUESTIONS]
    counts = Counter(m.style for m in messages(many))
    for style, weight in STYLE_WEIGHTS.items():
        assert counts[style] / len(many) == pytest.approx(weight, abs=0.03), style


def test_every_message_keeps_its_clean_question_and_gold():
    for question, message in zip(QUESTIONS, messages(QUESTIONS), strict=True):
        assert message.kind == "answerable"
        assert question.gold in message.gold
        assert question.text in message.clean
        assert message.origin == "test"


def test_single_message_styles_keep_the_question():
    rng = random.Random(1)
    question = "How do I export my invoice as a PDF"
    for style in ("plain", "greeting", "account_id", "context", "sign_off"):
        for _ in range(20):
            assert question in decorate(question, style, rng), style


def test_account_ids_greetings_and_sign_offs_are_added():
    rng = random.Random(2)
    question = "how do I export my invoice"
    with_id = [decorate(question, "account_id", rng) for _ in range(30)]
    assert all(re.search(r"\d{4,}", text) for text in with_id)
    greeted = [decorate(question, "greeting", rng) for _ in range(30)]
    assert all(not text.startswith(question) for text in greeted)
    signed = [decorate(question, "sign_off", rng) for _ in range(30)]
    assert all(not text.endswith(question) for text in signed)


def test_typos_touch_one_or_two_long_words_by_one_letter():
    rng = random.Random(3)
    text = "how do I download the quarterly invoice for our subscription"
    for _ in range(50):
        changed = typos(text, rng)
        before, after = text.split(), changed.split()
        assert len(before) == len(after)
        differing = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
        assert 1 <= len(differing) <= 2
        for original, typo in differing:
            assert len(original) >= TYPO_MIN_LETTERS
            assert typo[0] == original[0]
            assert len(typo) in (len(original), len(original) - 1)
            assert sorted(typo) == sorted(original) or len(typo) == len(original) - 1


def test_short_words_get_no_typos():
    assert typos("how do I do it", random.Random(4)) == "how do I do it"


def test_two_questions_cite_both_articles():
    doubles = [m for m in messages(QUESTIONS * 3) if m.style == "two_questions"]
    assert doubles
    for m in doubles:
        assert len(m.gold) == 2 and m.gold[0] != m.gold[1]
        assert m.kind == "answerable"
        assert not m.thread


def test_follow_ups_carry_their_thread():
    follow = [m for m in messages(QUESTIONS * 3 + OUT_OF_SCOPE) if m.style == "follow_up"]
    assert any(m.kind == "out_of_scope" for m in follow)
    for m in follow:
        assert m.text in FOLLOW_UPS
        first, reply = m.thread
        assert first.role == "customer" and m.clean in first.text
        assert reply.role in ("bot", "staff")
        if m.gold:
            assert TITLES[m.gold[0]] in reply.text
        else:
            assert reply.role == "staff" and reply.text == STAFF_REPLY_NO_ARTICLE
    assert any(
        m.thread[1].text == BOT_REPLY.format(title=TITLES[m.gold[0]]) for m in follow if m.gold
    )


def test_out_of_scope_messages_stay_out_of_scope():
    for m in messages(OUT_OF_SCOPE):
        assert m.kind == "out_of_scope" and m.gold == ()


def test_people_asking_for_a_person_get_single_messages():
    made = messages(PERSON * 5)
    assert all(m.kind == "wants_person" for m in made)
    assert {m.style for m in made}.isdisjoint({"two_questions", "follow_up"})
