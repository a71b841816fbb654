"""The customer's language: detected per round, stored on the ticket, and what follows from it.

- ``Languages.detect``: the round's language (``bot/llm/language.py``), or the ticket's, or
  English, for short or ambiguous messages.
- ``locale_for``: the bot's own texts in a language (the built-in table of
  ``bot/slack/blocks/locales.py``, or the model's translation stored for another language, or
  English), read inside the transaction that queues a post, with no model call.
- ``Languages.prepare_locale``: the model translates the English set for a language the table
  lacks, once (stored; again when the set has gained texts since); called before a round's
  decision, outside any transaction.
- ``Languages.translate``: one text into another language with the model (``prompts/
  translate.md``); ``to_english`` keeps a ticket's translations so each is made once.
"""

from __future__ import annotations

import json
import logging

from pydantic import BaseModel, Field

from bot.llm.language import ENGLISH, Detector, detector, language_name
from bot.llm.model import LlmFailure, SupportModel
from bot.llm.prompts import load_prompt
from bot.slack.blocks.locales import (
    ENGLISH_LOCALE,
    KEYS,
    STRINGS,
    Locale,
    builtin,
    usable_translation,
)
from persistence.db import Tx
from persistence.repos import Repositories

log = logging.getLogger(__name__)

NO_MODEL = "no LLM is configured (OPENAI_API_KEY is not set)"


class Translation(BaseModel):
    translation: str = Field(min_length=1, max_length=6000)


class UiTexts(BaseModel):
    model_config = {"extra": "allow"}


async def locale_for(repos: Repositories, code: str | None, tx: Tx | None = None) -> Locale:
    """The bot's texts in ``code``: built in, or as the model translated them, or English."""
    found = builtin(code)
    if found is not None:
        return found
    assert code is not None
    texts = await repos.languages.ui_texts(code, tx)
    return Locale(code, texts) if texts else ENGLISH_LOCALE


class Languages:
    def __init__(
        self, repos: Repositories, model: SupportModel | None, found: Detector | None = None
    ) -> None:
        self.repos = repos
        self.model = model
        self.detector = found or detector()
        self.translate_prompt = load_prompt("translate")
        self.ui_prompt = load_prompt("translate_ui")

    async def detect(self, text: str, previous: str | None) -> tuple[str, bool]:
        """The language to answer ``text`` in, and whether the text itself said so (False:
        kept from ``previous``, or English)."""
        found = await self.detector.detect_async(text)
        if found is not None:
            return found, True
        return previous or ENGLISH, False

    async def prepare_locale(self, code: str) -> None:
        """For a language the built-in table lacks: the model's translation of the English
        texts, made once and stored, and made again when the set has gained texts since (until
        then the new ones read English). Offline, or if the model fails, such a customer reads
        English (logged)."""
        if builtin(code) is not None or self.model is None:
            return
        stored = await self.repos.languages.ui_texts(code)
        if stored is not None and all(stored.get(key) for key in KEYS):
            return
        try:
            reply = await self.model.structured(
                self.ui_prompt,
                UiTexts,
                target=language_name(code),
                texts=json.dumps(STRINGS[ENGLISH], ensure_ascii=False, indent=1),
            )
        except LlmFailure as failure:
            log.warning("translating the bot's texts into %s failed: %s", code, failure.reason)
            return
        texts = usable_translation(reply.value.model_dump())
        if texts is None:
            log.warning("the model's translation of the bot's texts into %s was unusable", code)
            return
        await self.repos.languages.save_ui_texts(
            code, texts, self.model.model, replace=stored is not None
        )

    async def translate(self, text: str, *, source: str, target: str) -> str:
        """``text`` in ``target`` (ISO codes). Raises LlmFailure, offline too."""
        if self.model is None:
            raise LlmFailure(NO_MODEL, None)
        reply = await self.model.structured(
            self.translate_prompt,
            Translation,
            source=language_name(source),
            target=language_name(target),
            text=text,
        )
        return reply.value.translation.strip()

    async def to_english(self, ticket_id: int, text: str, source: str) -> str:
        """``text`` of a ticket in English, translated once (kept with the ticket)."""
        known = await self.repos.languages.translation(ticket_id, text, ENGLISH)
        if known is not None:
            return known
        english = await self.translate(text, source=source, target=ENGLISH)
        await self.repos.languages.save_translation(ticket_id, text, ENGLISH, english)
        return english
