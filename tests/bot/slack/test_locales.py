"""The bot's own texts in six languages: complete, with the same placeholders, within Slack's
limits, and used by the builders of the customer's thread and of the satisfaction survey."""

from __future__ import annotations

import pytest

from bot.kb.provenance import Source
from bot.slack.blocks.answers import answer_message, holding_message, resolved_note
from bot.slack.blocks.csat import comment_modal, comment_thanks_view, survey_message
from bot.slack.blocks.locales import (
    BUTTON_KEYS,
    ENGLISH_LOCALE,
    KEYS,
    MODAL_KEYS,
    PLACEHOLDER,
    PLACEHOLDER_KEYS,
    STRINGS,
    Locale,
    builtin,
    limit_of,
    usable_translation,
)
from bot.slack.limits import (
    BUTTON_TEXT_MAX,
    MODAL_BUTTON_MAX,
    MODAL_TITLE_MAX,
    PLACEHOLDER_MAX,
    SECTION_TEXT_MAX,
)

LANGUAGES = ("en", "de", "fr", "es", "pt", "ja")


@pytest.mark.parametrize("code", LANGUAGES)
def test_every_key_exists_in_every_language_within_slacks_limits(code: str) -> None:
    texts = STRINGS[code]
    assert set(texts) == set(KEYS)
    for key, text in texts.items():
        assert text.strip(), key
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(STRINGS["en"][key])), key
        assert len(text) <= limit_of(key) <= SECTION_TEXT_MAX, key
    for key in BUTTON_KEYS:
        assert len(texts[key]) <= BUTTON_TEXT_MAX, key
    for key in MODAL_KEYS:  # the comment form's title and buttons
        assert len(texts[key]) <= min(MODAL_TITLE_MAX, MODAL_BUTTON_MAX), key
    for key in PLACEHOLDER_KEYS:
        assert len(texts[key]) <= PLACEHOLDER_MAX, key
    # A text that names a button uses its label: the line under an answer and the thanks for a
    # rating in *bold* (the comment button without its emoji), the comment form's empty error.
    assert f"*{texts['talk_to_person']}*" in texts["reach_a_person"]
    assert f"*{texts['csat_add_comment'].split(' ', 1)[1]}*" in texts["csat_thanks"]
    assert texts["csat_form_cancel"] in texts["csat_comment_empty"]
    # The survey's texts are this language's own, not English left in place.
    if code != "en":
        for key in ("csat_question", "csat_thanks", "csat_form_label", "csat_comment_thanks"):
            assert texts[key] != STRINGS["en"][key], key


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
    # A translation stored before the survey's texts existed: those read English.
    older = Locale("it", {k: f"[it] {v}" for k, v in STRINGS["en"].items() if "csat" not in k})
    assert older["holding"] == f"[it] {STRINGS['en']['holding']}"
    assert older["csat_question"] == STRINGS["en"]["csat_question"]


def test_the_survey_and_its_form_follow_the_locale() -> None:
    german = builtin("de") or ENGLISH_LOCALE
    asked = survey_message(7, locale=german)
    assert asked.blocks[0]["text"]["text"] == STRINGS["de"]["csat_question"]
    assert (
        asked.text
        == "Wie war unser Support? Bewerte dieses Gespräch von 1 (schlecht) bis 5 (super)."
    )
    rated = survey_message(7, rated=True, locale=german)
    assert rated.text == f"{asked.text} {STRINGS['de']['csat_recorded']}"
    assert rated.blocks[2]["elements"][0]["text"] == STRINGS["de"]["csat_recorded"]
    assert rated.blocks[3]["elements"][0]["text"]["text"] == "💬 Kommentar hinzufügen"
    # The score buttons are digits with emoji in every language.
    assert [e["text"]["text"] for e in asked.blocks[1]["elements"]] == [
        e["text"]["text"] for e in survey_message(7).blocks[1]["elements"]
    ]
    japanese = builtin("ja") or ENGLISH_LOCALE
    form = comment_modal(ticket_id=7, score=4, locale=japanese)
    assert (form["title"]["text"], form["submit"]["text"], form["close"]["text"]) == (
        "ご意見",
        "送信",
        "キャンセル",
    )
    assert form["blocks"][0]["elements"][0]["text"] == STRINGS["ja"]["csat_form_intro"].format(
        score=4
    )
    assert "4/5" in form["blocks"][0]["elements"][0]["text"]
    assert form["blocks"][1]["label"]["text"] == STRINGS["ja"]["csat_form_label"]
    assert form["blocks"][1]["element"]["placeholder"]["text"] == "一言、二言で十分です。"
    thanks = comment_thanks_view(builtin("fr") or ENGLISH_LOCALE)
    assert thanks["close"]["text"] == "Fermer"
    assert thanks["blocks"][0]["text"]["text"] == STRINGS["fr"]["csat_comment_thanks"]
    assert survey_message(7).text.startswith("How did we do?")  # English by default


def test_a_models_translation_is_used_only_when_complete_and_well_formed() -> None:
    good = {k: f"[it] {v}" for k, v in STRINGS["en"].items()}
    assert usable_translation(good) == good
    assert usable_translation({**good, "holding_away": "Siamo via"}) is None  # lost {hours}
    assert usable_translation({k: v for k, v in good.items() if k != "helpful"}) is None
    assert usable_translation({**good, "talk_to_person": "x" * 80}) is None
    assert usable_translation({**good, "csat_form_title": "Il tuo feedback sul supporto"}) is None
    assert usable_translation({**good, "csat_form_placeholder": "x" * 151}) is None
    assert usable_translation({**good, "csat_thanks": "Grazie! Voto: 4/5"}) is None  # lost {score}
    assert usable_translation({k: v for k, v in good.items() if k != "csat_question"}) is None
    assert usable_translation({**good, "greeting": 3}) is None
