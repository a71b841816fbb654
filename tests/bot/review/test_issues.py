"""What the closed-issue note offers the customer: the template's words by resolution, and the
model's prompt, which keeps the customer's words out of its instructions."""

from __future__ import annotations

import pytest

from bot.llm.prompts import load_prompt
from bot.review.issues import CLOSED_TEMPLATE, FIXED_TEMPLATE, template_message


@pytest.mark.parametrize("resolution", ["Done", "completed", "Fixed", "Resolved"])
def test_a_done_issue_is_offered_as_fixed(resolution: str) -> None:
    assert template_message(resolution) == FIXED_TEMPLATE


@pytest.mark.parametrize(
    "resolution",
    ["Canceled", "not_planned", "Won't Do", "Duplicate", "Won't Fix", "Not done", "closed", ""],
)
def test_a_cancelled_issue_never_claims_a_fix(resolution: str) -> None:
    assert template_message(resolution) == CLOSED_TEMPLATE
    assert "fixed" not in CLOSED_TEMPLATE


def test_the_prompt_keeps_the_customers_words_in_the_user_message() -> None:
    prompt = load_prompt("issue_closed")
    system, user = prompt.render(
        question="<<question>>", summary="<<summary>>", tracker="Jira", resolution="Done"
    )
    assert "<<" not in system["content"]
    assert "<<question>>" in user["content"] and "<<summary>>" in user["content"]
    assert '{"message": "..."}' in system["content"]
