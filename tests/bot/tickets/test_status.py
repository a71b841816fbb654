"""Who had the last word, and the teammate's reply that resolved a thread."""

from __future__ import annotations

from bot.tickets.status import closing_teammate_reply, last_word
from persistence.records import Turn, TurnRole


def turns(*spec: tuple[TurnRole, str, str | None]) -> list[Turn]:
    return [
        Turn(
            id=n,
            ticket_id=1,
            role=role,
            user_id=None,
            text=text,
            slack_ts=f"1.{n}",
            created_at=float(n),
            purpose=purpose,
        )
        for n, (role, text, purpose) in enumerate(spec, start=1)
    ]


def test_the_teammates_messages_since_the_question_are_the_reply() -> None:
    thread = turns(
        ("customer", "How do I export?", None),
        ("bot", "Thanks, we're on it.", "holding"),
        ("staff", "Let me check.", None),
        ("staff", "Settings > Export > CSV.", None),
        ("customer", "thanks!", None),
        ("bot", "Marked resolved.", "resolved_note"),
    )
    assert closing_teammate_reply(thread) == "Let me check.\n\nSettings > Export > CSV."


def test_only_the_teammates_last_block_after_a_follow_up() -> None:
    thread = turns(
        ("customer", "How do I export?", None),
        ("staff", "Settings > Export.", None),
        ("customer", "And as JSON?", None),
        ("staff", "Pick JSON in the format menu.", None),
    )
    assert closing_teammate_reply(thread) == "Pick JSON in the format menu."


def test_no_reply_when_the_bot_or_the_customer_had_the_last_word() -> None:
    answered = turns(
        ("customer", "How do I export?", None),
        ("staff", "Settings > Export.", None),
        ("bot", "You can also schedule exports.", "answer"),
    )
    said = last_word(answered)
    assert said is not None and said.role == "bot"
    assert closing_teammate_reply(answered) is None
    asked = turns(("staff", "Settings > Export.", None), ("customer", "It fails with 500", None))
    assert closing_teammate_reply(asked) is None
    assert closing_teammate_reply([]) is None
