"""Detecting the customer's language from Slack text: clear messages are recognised, short or
ambiguous ones keep what was known before (the ticket's language, or English)."""

from __future__ import annotations

import pytest

from bot.llm.language import ENGLISH, LANGUAGES, Detector, detectable_text, language_name

DETECTOR = Detector()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Hallo zusammen, wie kann ich meine Rechnung als PDF herunterladen?", "de"),
        ("hey, ich find den export nicht mehr :( wo ist der hin?", "de"),
        ("Bonjour, comment est-ce que j'exporte un rapport en CSV ?", "fr"),
        ("¿Cómo cambio el método de pago de mi cuenta?", "es"),
        ("oi, como faço pra resetar minha senha?", "pt"),
        ("請求書をダウンロードする方法を教えてください", "ja"),
        ("I can't log in since this morning, it says my password is wrong", "en"),
        ("Buongiorno, come posso esportare il mio rapporto mensile in formato CSV?", "it"),
    ],
)
def test_clear_messages_are_recognised(text: str, code: str) -> None:
    assert DETECTOR.detect(text) == code


@pytest.mark.parametrize(
    "text",
    [
        "hi",
        "ok thx",
        "CSV export??",
        "login broken",
        "merci",
        "super danke!",
        "👍",
        ":tada: :tada:",
        "`SELECT * FROM t`",
        "<@U123> ?",
        "",
    ],
)
def test_short_or_ambiguous_messages_say_nothing(text: str) -> None:
    assert DETECTOR.detect(text) is None


@pytest.mark.parametrize(
    # Real customers' English (HINT3, CLINC150) that a detector alone may read as another
    # language.
    "text",
    ["Ok thanx", "Heloo", "hloo", "211 depisit", "Worange"],
)
def test_english_with_typos_is_not_read_as_another_language(text: str) -> None:
    assert DETECTOR.detect(text) in (None, ENGLISH)


def test_a_latin_script_language_needs_three_words_and_japanese_one() -> None:
    assert DETECTOR.detect("Rechnung doppelt") is None
    assert DETECTOR.detect("Rechnung doppelt bezahlt") == "de"
    assert DETECTOR.detect("パスワードのリセット方法は？") == "ja"


def test_an_unclear_message_keeps_the_tickets_language_or_english() -> None:
    assert DETECTOR.language_of("ok thx", "de") == "de"
    assert DETECTOR.language_of("ok thx", None) == ENGLISH
    # A clear message in another language wins over what the ticket had.
    assert DETECTOR.language_of("Wie exportiere ich einen Bericht?", "fr") == "de"


async def test_detection_runs_off_the_event_loop() -> None:
    assert await DETECTOR.detect_async("Où se trouve ma facture du mois dernier ?") == "fr"
    assert await DETECTOR.language_of_async("merci", "fr") == "fr"


def test_slack_markup_is_not_read_as_words() -> None:
    text = (
        "<@U0CUSTOMER> siehe <https://example.com/very/english/words|click here please> und"
        " `export --format csv` :smile: dana@example.com ```long english code block```"
    )
    assert detectable_text(text) == "siehe und"
    # Mostly English code and links around a few German words: the German words decide.
    assert (
        DETECTOR.detect(
            "<https://help.example.com/how-to-export-reports|how to export reports> das"
            " funktioniert bei mir leider überhaupt nicht, was mache ich falsch?"
        )
        == "de"
    )


def test_every_language_has_a_name_and_unknown_codes_read_as_english() -> None:
    assert {"en", "de", "fr", "es", "pt", "ja"} <= set(LANGUAGES)
    assert language_name("de") == "German"
    assert language_name(None) == "English"
    assert language_name("xx") == "English"
