"""Whose answer a satisfaction rating is about: the last answer from our side in the thread."""

from __future__ import annotations

from bot.tickets.csat import answered_by
from tests.bot.tickets.test_status import turns


def test_the_bots_own_answer_or_an_approved_draft_is_an_ai_answer() -> None:
    first = turns(("customer", "csv export?", None), ("bot", "Click Export.", "answer"))
    assert answered_by(first) == "ai"
    assert (
        answered_by(
            turns(
                ("customer", "csv export?", None),
                ("bot", "We're on it.", "holding"),
                ("bot", "Click Export.", "reply"),  # approved as drafted
                ("customer", "thx!!", None),
                ("bot", "Marked resolved.", "resolved_note"),
            )
        )
        == "ai"
    )


def test_an_edited_reply_or_a_teammate_in_the_thread_is_a_human_answer() -> None:
    edited = turns(("customer", "csv?", None), ("staff", "Fixed in 2.4.1.", "reply"))
    assert answered_by(edited) == "human"
    later = turns(
        ("customer", "csv?", None),
        ("bot", "Click Export.", "answer"),
        ("customer", "still broken", None),
        ("staff", "Let me look… fixed now.", None),
        ("bot", "Marked resolved.", "resolved_note"),
    )
    assert answered_by(later) == "human"


def test_no_answer_from_our_side_is_none() -> None:
    assert answered_by(turns(("customer", "csv?", None), ("bot", "On it.", "holding"))) == "none"
    assert answered_by([]) == "none"
