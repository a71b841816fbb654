"""The review card's issue line and "Create issue" button, and the closed issue's note with the
message for the customer and its edit form, checked against Slack's Block Kit rules."""

from __future__ import annotations

from typing import Any

import pytest

from bot.sandbox.blockkit import validate_blocks, validate_view
from bot.slack import ids
from bot.slack.blocks.card import CardContent, IssueLine, escalation_card
from bot.slack.blocks.issues import issue_closed_message, issue_link, issue_message_modal


def _card(**overrides: Any) -> CardContent:
    values: dict[str, Any] = {
        "escalation_id": 42,
        "ticket_id": 7,
        "state": "pending",
        "customer_user_id": "UCUSTOMER",
        "question": "export is broken",
        "message_link": "https://acme.slack.com/archives/C1/p123",
        "reason": "A bug.",
        "draft": "We are on it.",
    }
    values.update(overrides)
    return CardContent(**values)


def _labels(blocks: list[dict[str, Any]]) -> dict[str, str]:
    return {
        e["action_id"]: e["text"]["text"]
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
    }


def _text(blocks: list[dict[str, Any]]) -> str:
    parts = []
    for b in blocks:
        if isinstance(b.get("text"), dict):
            parts.append(b["text"]["text"])
        parts += [e["text"] for e in b.get("elements", []) if isinstance(e.get("text"), str)]
    return "\n".join(parts)


@pytest.mark.parametrize("state", ["pending", "approved", "rejected"])
def test_create_issue_shows_only_with_a_tracker_and_no_issue(state: str) -> None:
    assert ids.ACTION_CREATE_ISSUE not in _labels(escalation_card(_card(state=state)).blocks)
    blocks = escalation_card(_card(state=state, tracker="Linear")).blocks
    assert _labels(blocks)[ids.ACTION_CREATE_ISSUE] == "Create issue"
    assert validate_blocks(blocks, surface="message") == []


def test_an_issue_being_created_has_no_button_and_says_so() -> None:
    issue = IssueLine(tracker="Jira", creating=True)
    blocks = escalation_card(_card(tracker="Jira", issue=issue)).blocks
    assert ids.ACTION_CREATE_ISSUE not in _labels(blocks)
    assert "Creating a Jira issue" in _text(blocks)


def test_a_failed_issue_says_why_and_offers_try_again() -> None:
    issue = IssueLine(tracker="Jira", failed="Jira answered HTTP 500 <!channel>")
    blocks = escalation_card(_card(tracker="Jira", issue=issue)).blocks
    assert _labels(blocks)[ids.ACTION_CREATE_ISSUE] == "Try again: create issue"
    assert "Jira answered HTTP 500" in _text(blocks) and "<!channel>" not in _text(blocks)
    assert validate_blocks(blocks, surface="message") == []


def test_a_filed_issue_is_linked_open_or_closed() -> None:
    issue = IssueLine(tracker="GitHub", key="#12", url="https://github.com/a/b/issues/12")
    blocks = escalation_card(_card(state="approved", tracker="GitHub", issue=issue)).blocks
    assert "<https://github.com/a/b/issues/12|#12> · open" in _text(blocks)
    assert ids.ACTION_CREATE_ISSUE not in _labels(blocks)
    closed = IssueLine(
        tracker="GitHub",
        key="#12",
        url="https://github.com/a/b/issues/12",
        closed=True,
        resolution="not_planned",
    )
    blocks = escalation_card(_card(tracker="GitHub", issue=closed)).blocks
    assert "· closed (not_planned)" in _text(blocks)


def test_a_link_cannot_be_bent_by_what_the_tracker_returned() -> None:
    assert issue_link("A|B>", "https://x.example/i|<!here>") == "<https://x.example/i!here|A|B&gt;>"
    assert issue_link("ENG-1", "javascript:alert(1)") == "ENG-1"


def test_the_closed_note_names_who_and_offers_three_choices() -> None:
    message = issue_closed_message(
        issue_row_id=5,
        ticket_id=7,
        tracker="Linear",
        key="ENG-3",
        url="https://linear.app/a/issue/ENG-3",
        resolution="Done",
        mentions=["UOWNER"],
        groups=["S1"],
        draft="Fixed! <!channel> try again " + "x" * 4000,
        how="the model",
    )
    assert message.text.startswith("<@UOWNER> <!subteam^S1> Linear issue ENG-3")
    assert validate_blocks(message.blocks, surface="message") == []
    labels = _labels(message.blocks)
    assert list(labels) == [ids.ACTION_ISSUE_TELL, ids.ACTION_ISSUE_EDIT, ids.ACTION_ISSUE_DISMISS]
    values = {e["value"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]}
    assert values == {"5"}
    assert "<!channel>" not in _text(message.blocks)


def test_the_edit_form_holds_the_message_verbatim() -> None:
    view = issue_message_modal(issue_row_id=5, text="fixed <3 " + "y" * 5000)
    assert validate_view(view, expect_type="modal") == []
    element = view["blocks"][0]["element"]
    assert (
        element["initial_value"].startswith("fixed <3 ") and len(element["initial_value"]) == 3000
    )
