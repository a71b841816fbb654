"""The review card for a customer who writes another language: the language, the originals with
their English below, and an edit waiting to be sent, all valid Block Kit at any length."""

from __future__ import annotations

from bot.sandbox.blockkit import validate_blocks
from bot.slack import ids
from bot.slack.blocks.card import CardContent, HeldEdit, Translated, escalation_card


def _card(**kw: object) -> CardContent:
    base: dict[str, object] = {
        "escalation_id": 3,
        "ticket_id": 9,
        "state": "pending",
        "customer_user_id": "UCUSTOMER",
        "question": "Wie exportiere ich <!channel> einen Bericht?",
        "message_link": "https://example.slack.com/archives/C1/p1",
        "reason": "Billing needs a person.",
        "draft": "Klicke auf *Export*.",
        "language": "German",
        "question_english": Translated("How do I export <!channel> a report?"),
        "draft_english": Translated(None, "English translation on its way…"),
    }
    base.update(kw)
    return CardContent(**base)  # type: ignore[arg-type]


def _text(blocks: list[dict[str, object]]) -> str:
    return str(blocks)


def test_the_card_shows_the_language_and_the_english_below_the_originals() -> None:
    message = escalation_card(_card())
    assert validate_blocks(message.blocks, surface="message") == []
    text = _text(message.blocks)
    assert "Language: German" in text
    assert "*In English:* How do I export &lt;!channel&gt; a report?" in text
    assert "English translation on its way…" in text
    assert "<!channel>" not in text  # translated customer text is escaped as theirs is


def test_a_held_edit_offers_the_translation_as_written_and_discard() -> None:
    edit = HeldEdit(text="Refunded.", by="UREV", translation="Erstattet.", problem=None)
    message = escalation_card(_card(held_edit=edit))
    assert validate_blocks(message.blocks, surface="message") == []
    actions = next(b for b in message.blocks if b.get("block_id") == "held_edit")
    assert [e["action_id"] for e in actions["elements"]] == [
        ids.edit_action(ids.ACTION_SEND_TRANSLATION, "Erstattet."),
        ids.edit_action(ids.ACTION_SEND_AS_WRITTEN, "Refunded."),
        ids.ACTION_DISCARD_EDIT,
    ]
    assert actions["elements"][0]["text"]["text"] == "Send in German"
    # While it is being translated, or once decided, there is nothing to send from it.
    busy = escalation_card(_card(held_edit=edit, work="translate", work_by="UREV"))
    assert not any(b.get("block_id") == "held_edit" for b in busy.blocks)
    assert "Translating <@UREV>'s edit" in _text(busy.blocks)
    done = escalation_card(_card(held_edit=edit, state="edited"))
    assert not any(b.get("block_id") == "held_edit" for b in done.blocks)


def test_an_edit_that_could_not_be_translated_says_why() -> None:
    edit = HeldEdit(text="Refunded.", by="UREV", translation=None, problem="the LLM timed out")
    message = escalation_card(_card(held_edit=edit))
    text = _text(message.blocks)
    assert "could not be translated into German:* the LLM timed out" in text
    actions = next(b for b in message.blocks if b.get("block_id") == "held_edit")
    assert [e["action_id"].split(".")[0] for e in actions["elements"]] == [
        ids.ACTION_SEND_AS_WRITTEN,
        ids.ACTION_DISCARD_EDIT,
    ]


def test_the_longest_texts_stay_within_slacks_limits() -> None:
    long = "ü" * 6000
    edit = HeldEdit(text=long, by="UREV", translation=long, problem=None)
    message = escalation_card(
        _card(
            question=long,
            draft=long,
            question_english=Translated(long),
            draft_english=Translated(long),
            held_edit=edit,
            follow_ups=[long] * 8,
            activity=["x"] * 20,
        )
    )
    assert validate_blocks(message.blocks, surface="message") == []


def test_a_long_edit_and_its_translation_are_shown_whole() -> None:
    translation = " ".join(["Übersetzung"] * 500)  # about 6,000 characters
    written = " ".join(["written"] * 370)  # about 3,000
    edit = HeldEdit(text=written, by="UREV", translation=translation, problem=None)
    message = escalation_card(_card(held_edit=edit))
    assert validate_blocks(message.blocks, surface="message") == []
    shown = " ".join(
        b["text"]["text"].split("\n", 1)[-1]
        for b in message.blocks
        if b["type"] == "section" and "Übersetzung" in b["text"]["text"]
    )
    assert shown.split() == translation.split()
    assert any(b.get("block_id") == "held_edit" for b in message.blocks)


def test_action_suffix_reads_only_a_number_after_the_dot() -> None:
    assert ids.action_suffix(ids.edit_action(ids.ACTION_SEND_AS_WRITTEN, "x")) == ids.text_checksum(
        "x"
    )
    assert ids.action_suffix(ids.ACTION_SEND_AS_WRITTEN) is None
    assert ids.action_suffix("a.b") is None
    assert ids.action_suffix("a." + "9" * 20) is None
