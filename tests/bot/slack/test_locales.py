"""The bot's own texts in six languages: complete, with the same placeholders, within Slack's
limits, and used by the builders of the customer's thread."""

from __future__ import annotations

import pytest

from bot.kb.provenance import Source
from bot.slack.blocks.answers import answer_message, holding_message, resolved_note
from bot.slack.blocks.locales import (
    BUTTON_KEYS,
    ENGLISH_LOCALE,
    KEYS,
    PLACEHOLDER,
    STRINGS,
    Locale,
    builtin,
    usable_translation,
)
from bot.slack.limits import BUTTON_TEXT_MAX, SECTION_TEXT_MAX

LANGUAGES = ("en", "de", "fr", "es", "pt", "ja")


@pytest.mark.parametrize("code", LANGUAGES)
def test_every_key_exists_in_every_language_within_slacks_limits(code: str) -> None:
    texts = STRINGS[code]
    assert set(texts) == set(KEYS)
    for key, text in texts.items():
        assert text.strip(), key
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(STRINGS["en"][key])), key
        limit = BUTTON_TEXT_MAX if key in BUTTON_KEYS else SECTION_TEXT_MAX
        assert len(text) <= limit, key
    if code != "en":
        # The line under an answer names the button by its label, in *bold*.
        assert f"*{texts['talk_to_person']}*" in texts["reach_a_person"]


def test_holding_reply_buttons_and_notes_follow_the_locale() -> None:
    german = builtin("de")
    assert german is not None
    message = answer_message(
        "Öffne *Settings › Billing*.",
        [Source(article_id=1, title="Billing", heading="Invoices", source="kb/billing.md")],
        ticket_id=7,
        locale=german,
    )
    labels = [
        e["text"]["text"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]
    ]
    assert labels == ["👍 Hilfreich", "Mit einem Menschen sprechen"]
    footer = next(b for b in message.blocks if b["type"] == "context")
    assert footer["elements"][0]["text"].startswith("Quellen: Billing › Invoices")
    assert "Mit einem Menschen sprechen" in footer["elements"][1]["text"]
    assert holding_message(locale=german).text == STRINGS["de"]["holding"]
    away = holding_message(back_at=1_700_000_000, hours="Mo-Fr 9-17", locale=german).text
    assert "Supportzeiten: Mo-Fr 9-17" in away and "<!date^1700000000" in away
    assert resolved_note(by_bot=True, locale=builtin("ja") or ENGLISH_LOCALE).text.startswith(
        "しばらく"
    )
    assert holding_message().text == STRINGS["en"]["holding"]


def test_a_missing_text_falls_back_to_english() -> None:
    partial = Locale("it", {"holding": "Grazie!"})
    assert partial["holding"] == "Grazie!"
    assert partial["helpful"] == STRINGS["en"]["helpful"]
    assert builtin("it") is None


def test_a_models_translation_is_used_only_when_complete_and_well_formed() -> None:
    good = {k: f"[it] {v}" for k, v in STRINGS["en"].items()}
    assert usable_translation(good) == good
    assert usable_translation({**good, "holding_away": "Siamo via"}) is None  # lost {hours}
    assert usable_translation({k: v for k, v in good.items() if k != "helpful"}) is None
    assert usable_translation({**good, "talk_to_person": "x" * 80}) is None
    assert usable_translation({**good, "greeting": 3}) is None
