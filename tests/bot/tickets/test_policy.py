"""The support policy: answer only a confident, grounded, cited simple FAQ."""

from __future__ import annotations

from typing import Any

import pytest

from bot.tickets.policy import asks_for_a_person, decide, has_words

THRESHOLD = 0.7


def _classification(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "category": "simple_faq",
        "confidence": 0.9,
        "keywords": ["export"],
        "summary": "Wants to export.",
        "wants_human": False,
    }
    values.update(overrides)
    return values


def _draft(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "text": "Click *Export*.",
        "sources": [{"article_id": 1, "title": "Export", "heading": "Export", "source": "x"}],
        "grounded": True,
        "origin": "llm",
        "missing_information": "",
    }
    values.update(overrides)
    return values


def test_confident_grounded_cited_simple_faq_is_answered() -> None:
    decision = decide(classification=_classification(), draft=_draft(), threshold=THRESHOLD)
    assert decision.action == "answer"
    assert "0.90" in decision.reason
    assert "1 article" in decision.reason


def test_confidence_exactly_at_the_threshold_is_answered() -> None:
    decision = decide(classification=_classification(confidence=0.7), draft=_draft(), threshold=0.7)
    assert decision.action == "answer"


def test_confidence_just_below_the_threshold_escalates() -> None:
    decision = decide(
        classification=_classification(confidence=0.69), draft=_draft(), threshold=0.7
    )
    assert decision.action == "escalate"
    assert decision.reason == "Confidence 0.69 is below the threshold 0.70."


def test_missing_confidence_counts_as_zero() -> None:
    classification = _classification()
    del classification["confidence"]
    decision = decide(classification=classification, draft=_draft(), threshold=0.1)
    assert decision.action == "escalate"
    assert "Confidence 0.00" in decision.reason
    assert decide(classification=classification, draft=_draft(), threshold=0.0).action == "answer"


def test_wants_human_escalates_even_for_a_perfect_faq() -> None:
    decision = decide(
        classification=_classification(wants_human=True, confidence=1.0),
        draft=_draft(),
        threshold=0.0,
    )
    assert decision.action == "escalate"
    assert decision.reason == "The customer asked for a person."


def test_skipped_classification_escalates_with_its_reason() -> None:
    decision = decide(
        classification={"skipped": "No LLM is configured."}, draft=None, threshold=THRESHOLD
    )
    assert decision.action == "escalate"
    assert decision.reason == "No LLM is configured."


def test_classification_error_escalates() -> None:
    decision = decide(
        classification=_classification(error="timeout"), draft=_draft(), threshold=THRESHOLD
    )
    assert decision.action == "escalate"
    assert decision.reason == "Classification failed: timeout."


def test_draft_error_escalates() -> None:
    decision = decide(
        classification=_classification(), draft={"error": "rate limited"}, threshold=THRESHOLD
    )
    assert decision.action == "escalate"
    assert decision.reason == "Drafting failed: rate limited."


@pytest.mark.parametrize(
    ("category", "label"),
    [
        ("complex_issue", "Complex issue"),
        ("billing_query", "Billing"),
        ("feature_request", "Feature request"),
        ("unknown", "Unknown"),
        ("made_up", "made_up"),
    ],
)
def test_categories_other_than_simple_faq_escalate(category: str, label: str) -> None:
    decision = decide(
        classification=_classification(category=category, confidence=1.0),
        draft=_draft(),
        threshold=0.0,
    )
    assert decision.action == "escalate"
    assert decision.reason == (
        f"Category is {label}; only Simple FAQ questions are answered automatically here."
    )


def test_a_channel_that_answers_billing_answers_a_grounded_billing_question() -> None:
    allowed = frozenset({"simple_faq", "billing_query"})
    decision = decide(
        classification=_classification(category="billing_query"),
        draft=_draft(),
        threshold=THRESHOLD,
        auto_categories=allowed,
    )
    assert decision.action == "answer"
    assert decision.reason.startswith("Billing with confidence 0.90")


def test_a_channel_that_answers_nothing_escalates_even_a_simple_faq() -> None:
    decision = decide(
        classification=_classification(),
        draft=_draft(),
        threshold=THRESHOLD,
        auto_categories=frozenset(),
    )
    assert decision.action == "escalate"
    assert decision.reason == "Category is Simple FAQ; nothing is answered automatically here."


def test_unsupported_facts_escalate_and_are_named() -> None:
    decision = decide(
        classification=_classification(),
        draft=_draft(unsupported_facts=["30 days", "$49"]),
        threshold=THRESHOLD,
    )
    assert decision.action == "escalate"
    assert decision.reason == (
        "The draft states “30 days” and “$49”, which its cited passages do not contain."
    )


def test_a_citation_of_an_article_not_shown_escalates() -> None:
    decision = decide(
        classification=_classification(),
        draft=_draft(unknown_citations=[999]),
        threshold=THRESHOLD,
    )
    assert decision.action == "escalate"
    assert "999, which were not among the passages shown" in decision.reason


def test_low_retrieval_confidence_vetoes_only_when_nothing_is_relevant() -> None:
    relevant = {"fits": True, "confidence": 0.25, "threshold": 0.2}
    nothing = {"fits": False, "confidence": 0.05, "threshold": 0.2}
    answered = decide(
        classification=_classification(), draft=_draft(), threshold=THRESHOLD, retrieval=relevant
    )
    vetoed = decide(
        classification=_classification(), draft=_draft(), threshold=THRESHOLD, retrieval=nothing
    )
    assert answered.action == "answer"
    assert vetoed.action == "escalate"
    assert vetoed.reason.startswith("Nothing in the knowledge base is relevant")


@pytest.mark.parametrize("draft", [None, {"text": ""}, _draft(text=None)])
def test_no_draft_escalates(draft: dict[str, Any] | None) -> None:
    decision = decide(classification=_classification(), draft=draft, threshold=THRESHOLD)
    assert decision.action == "escalate"
    assert decision.reason == "Nothing in the knowledge base matches."


@pytest.mark.parametrize("grounded", [False, None])
def test_ungrounded_draft_escalates(grounded: bool | None) -> None:
    draft = _draft(grounded=grounded)
    decision = decide(classification=_classification(), draft=draft, threshold=THRESHOLD)
    assert decision.action == "escalate"
    assert decision.reason == "The knowledge base does not fully answer the question."


@pytest.mark.parametrize("sources", [[], None])
def test_draft_without_sources_escalates(sources: list[Any] | None) -> None:
    decision = decide(
        classification=_classification(), draft=_draft(sources=sources), threshold=THRESHOLD
    )
    assert decision.action == "escalate"
    assert decision.reason == "The draft cites no article."


def test_reasons_are_checked_in_priority_order() -> None:
    # A person request wins over every other problem.
    everything_wrong = _classification(
        wants_human=True, skipped="x", error="y", category="unknown", confidence=0.0
    )
    assert decide(classification=everything_wrong, draft=None, threshold=1.0).reason == (
        "The customer asked for a person."
    )
    # Category is checked before confidence.
    reason = decide(
        classification=_classification(category="billing_query", confidence=0.1),
        draft=_draft(),
        threshold=0.9,
    ).reason
    assert reason.startswith("Category is Billing")


@pytest.mark.parametrize(
    "text",
    [
        "talk to a person",
        "Can I TALK TO A PERSON please?",
        "*talk to a person*",
        "I'd like to speak with someone",
        "can i chat with an agent",
        "let me talk to a real person",
        "speak to a human",
        "talk to somebody",
        "I want a real human",
        "is there a live agent?",
        "human please",
        "talk to staff",
        "can I get a human",
        "talk to an actual person",
        "speak to your team",
    ],
)
def test_asks_for_a_person_positive(text: str) -> None:
    assert asks_for_a_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "How do I export a report?",
        "I talked to a person yesterday and they said to ask here",
        "personal settings are broken",
        "Where is the human-readable log?",
        "our HR (human resources) team needs access",
        "the agent installer fails",
        "talk to the API from Python",
        "I am a real person",
        "the live agent feature is broken",
    ],
)
def test_asks_for_a_person_negative(text: str) -> None:
    assert not asks_for_a_person(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", False),
        ("  ", False),
        ("\n\t", False),
        (":wave:", False),
        (":wave: :+1::skin-tone-2:", False),
        ("👋", False),
        ("👋🏽🎉", False),
        ("?!", False),
        ("___", False),
        ("ok", True),
        ("é", True),
        ("42", True),
        ("日本", True),
        (":wave: hi", True),
    ],
)
def test_has_words(text: str, expected: bool) -> None:
    assert has_words(text) is expected
