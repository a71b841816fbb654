"""Which language a customer writes in: detected with lingua (``lingua-language-detector``),
from Slack text stripped of its markup, and only when the text says so clearly.

The detector knows a restricted set of languages (``LANGUAGES``): the six the bot's own replies
are written in (English, German, French, Spanish, Portuguese, Japanese), Italian and Dutch, and
Russian, Chinese and Korean (told apart by their scripts). Fewer candidates make short messages
less ambiguous, and each Latin-script language costs about 40 MB of lingua's models once loaded
(``bench/languages.py`` measures both). It is built once, lazily, and each detection runs on a
thread (never on the event loop, nor while Slack waits for an acknowledgement): lingua loads a
language's models the first time it needs them, about a second.

Short Slack messages ("hi", "ok thx", "CSV export??", a link, a code snippet, an emoji) say
little about their language; lingua is asked for a language only with a minimum relative
distance between the two likeliest (``MIN_RELATIVE_DISTANCE``), and text with fewer than
``MIN_LETTERS`` letters is not asked at all. A Latin-script language other than English is
believed only from ``MIN_WORDS`` words up: real customers' English ("Retun my order", "Ok thanx",
"Heloo") is otherwise read as Dutch or German now and then, while the scripts of Japanese,
Russian, Chinese and Korean say enough in one word. Then ``language_of`` keeps what was known
before: the ticket's language, or English.
"""

from __future__ import annotations

import asyncio
import re
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lingua import LanguageDetector

ENGLISH = "en"
# ISO 639-1 code -> the language's English name (what prompts and cards say).
LANGUAGES: dict[str, str] = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "pt": "Portuguese",
    "ja": "Japanese",
    "it": "Italian",
    "nl": "Dutch",
    "ru": "Russian",
    "zh": "Chinese",
    "ko": "Korean",
}
# Lingua's "relative distance" between the likeliest language's confidence and the next one's:
# below it, lingua answers "unknown". 0.3 keeps "ok thx", "merci", "login broken" (Dutch at 0.25)
# and "CSV export??" unknown while short questions ("wie setze ich mein passwort zurück?") are
# recognised (``bench/languages.py``).
MIN_RELATIVE_DISTANCE = 0.3
MIN_LETTERS = 4
# Words (two letters or more) a Latin-script language other than English needs. Chosen on the
# train and validation splits of the public English support datasets (``bench/languages.py
# --english-datasets``): English read as another language fell from 18 of 36,891 messages with
# no floor to 10 at 2 words, 4 at 3 and 3 at 4; none of the corpus's clear messages was lost.
MIN_WORDS = 3
_NOT_LATIN = frozenset({"ja", "ru", "zh", "ko"})
_WORD = re.compile(r"[^\W\d_]{2,}")

_MENTION = re.compile(r"<[@#!][^>]*>")
_LINK = re.compile(r"<[^<>]*>")  # <https://…|label>, <mailto:…>: address and label
_BARE_URL = re.compile(r"\bhttps?://\S+|\bwww\.\S+", re.IGNORECASE)
_CODE_BLOCK = re.compile(r"```.*?```", re.DOTALL)
_CODE = re.compile(r"`[^`\n]*`")
_EMOJI = re.compile(r":[a-z0-9_+\-']+:")
_EMAIL = re.compile(r"\S+@\S+\.\S+")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_LETTER = re.compile(r"[^\W\d_]")


def language_name(code: str | None) -> str:
    """``de`` -> ``German``; an unknown or missing code is English."""
    return LANGUAGES.get(code or ENGLISH, LANGUAGES[ENGLISH])


def is_english(code: str | None) -> bool:
    return (code or ENGLISH) == ENGLISH


def detectable_text(text: str) -> str:
    """The customer's own words: Slack's mentions, links, code, emoji codes, e-mail addresses
    and bare URLs removed (none of them says which language the person writes in)."""
    text = _CODE_BLOCK.sub(" ", text)
    text = _CODE.sub(" ", text)
    text = _MENTION.sub(" ", text)
    text = _LINK.sub(" ", text)
    text = _BARE_URL.sub(" ", text)
    text = _EMAIL.sub(" ", text)
    text = _EMOJI.sub(" ", text)
    text = _ENTITY.sub(" ", text)
    return " ".join(text.split())


class Detector:
    """Lingua's detector over ``LANGUAGES``, built on first use (thread-safe)."""

    def __init__(self, min_relative_distance: float = MIN_RELATIVE_DISTANCE) -> None:
        self.min_relative_distance = min_relative_distance
        self._detector: LanguageDetector | None = None
        self._lock = threading.Lock()

    def _built(self) -> LanguageDetector:
        with self._lock:
            if self._detector is None:
                from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

                languages = [
                    Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper()))
                    for code in LANGUAGES
                ]
                self._detector = (
                    LanguageDetectorBuilder.from_languages(*languages)
                    .with_minimum_relative_distance(self.min_relative_distance)
                    .build()
                )
            return self._detector

    def detect(self, text: str) -> str | None:
        """The ISO 639-1 code of the language ``text`` is clearly in, or None."""
        words = detectable_text(text)
        if len(_LETTER.findall(words)) < MIN_LETTERS:
            return None
        found = self._built().detect_language_of(words)
        if found is None:
            return None
        code = found.iso_code_639_1.name.lower()
        if code not in LANGUAGES:
            return None
        if code != ENGLISH and code not in _NOT_LATIN and len(_WORD.findall(words)) < MIN_WORDS:
            return None
        return code

    async def detect_async(self, text: str) -> str | None:
        """``detect`` on a thread: building the detector and loading a language's models the
        first time take a second or two, which the event loop must not wait for."""
        return await asyncio.to_thread(self.detect, text)

    def language_of(self, text: str, previous: str | None) -> str:
        """The language to answer ``text`` in: the detected one, else ``previous`` (the
        ticket's), else English."""
        return self.detect(text) or previous or ENGLISH

    async def language_of_async(self, text: str, previous: str | None) -> str:
        return await self.detect_async(text) or previous or ENGLISH


_shared = Detector()


def detector() -> Detector:
    """The process's detector (one lingua instance: its models are loaded once)."""
    return _shared
