"""Which language a customer writes in: detected offline with Google's Compact Language
Detector 2 (``pycld2``), from Slack text stripped of its markup, and only when the text says so
clearly.

Only the languages in ``LANGUAGES`` count: the six the bot's own replies are written in
(English, German, French, Spanish, Portuguese, Japanese), Italian and Dutch, and Russian, Chinese
and Korean; anything else CLD2 names leaves the ticket's language as it was. CLD2 was chosen
over lingua (the issue's example) by measurement (``bench/languages.py``, docs/design.md,
"Languages"): on the same corpus and the same public English datasets it is as right or righter,
keeps 39 MB where lingua's accurate mode holds about 200 MB, and takes 0.01 ms a message.

Short Slack messages ("hi", "ok thx", "CSV export??", a link, a code snippet, an emoji) say
little about their language: CLD2's answer counts only when it calls itself reliable, text with
fewer than ``MIN_LETTERS`` letters is not asked at all, and a Latin-script language other than
English is believed only from ``MIN_WORDS`` words up (real customers' English such as "Ok thanx"
or "Heloo" is otherwise read as another language now and then; the scripts of Japanese,
Russian, Chinese and Korean say enough in one word). Then ``language_of`` keeps what was known
before: the ticket's language, or English. Detection runs on a thread (``detect_async``), never
on the event loop.
"""

from __future__ import annotations

import asyncio
import re

import pycld2  # type: ignore[import-untyped]  # no stubs: detect() and error are all it uses

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
MIN_LETTERS = 4
# Words (two letters or more) a Latin-script language other than English needs. Chosen on the
# train and validation splits of the public English support datasets (``bench/languages.py
# --english-datasets``; chosen with lingua, kept with CLD2): English read as another language fell
# from 18 of 36,891 messages with no floor to 10 at 2 words, 4 at 3 and 3 at 4; none of the
# corpus's clear messages was lost.
MIN_WORDS = 3
_NOT_LATIN = frozenset({"ja", "ru", "zh", "ko"})
# CLD2's codes that differ from ISO 639-1.
_CLD2_CODES = {"zh-Hant": "zh"}
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
    """CLD2 over ``LANGUAGES``, with the floors above."""

    def detect(self, text: str) -> str | None:
        """The ISO 639-1 code of the language ``text`` is clearly in, or None."""
        words = detectable_text(text)
        if len(_LETTER.findall(words)) < MIN_LETTERS:
            return None
        try:
            reliable, _, details = pycld2.detect(words)
        except pycld2.error:  # text CLD2 cannot read (invalid UTF-8 from a surrogate, say)
            return None
        found = str(details[0][1])
        code = _CLD2_CODES.get(found, found)
        if not reliable or code not in LANGUAGES:
            return None
        if code != ENGLISH and code not in _NOT_LATIN and len(_WORD.findall(words)) < MIN_WORDS:
            return None
        return code

    async def detect_async(self, text: str) -> str | None:
        """``detect`` on a thread, off the event loop."""
        return await asyncio.to_thread(self.detect, text)

    def language_of(self, text: str, previous: str | None) -> str:
        """The language to answer ``text`` in: the detected one, else ``previous`` (the
        ticket's), else English."""
        return self.detect(text) or previous or ENGLISH

    async def language_of_async(self, text: str, previous: str | None) -> str:
        return await self.detect_async(text) or previous or ENGLISH


_shared = Detector()


def detector() -> Detector:
    """The process's detector."""
    return _shared
