"""The bot's texts for a ticket's language: the built-in table, a stored model translation, or
English; and what the language service does without a model."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.jobs.kinds import INTERNAL
from bot.llm.model import LlmFailure
from bot.slack.blocks.locales import STRINGS
from bot.tickets.languages import NO_MODEL, Languages, locale_for
from persistence.connect import database_from_url
from persistence.repos import Repositories
from tests.utils.databases import database_url


@pytest.fixture
async def repos(tmp_path: Path) -> AsyncIterator[Repositories]:
    db = database_from_url(database_url(tmp_path))
    await db.open()
    yield Repositories.over(db, internal_kinds=INTERNAL)
    await db.close()


async def test_a_locale_is_built_in_stored_or_english(repos: Repositories) -> None:
    assert (await locale_for(repos, "ja"))["holding"] == STRINGS["ja"]["holding"]
    assert (await locale_for(repos, None))["holding"] == STRINGS["en"]["holding"]
    assert (await locale_for(repos, "it"))["holding"] == STRINGS["en"]["holding"]
    await repos.languages.save_ui_texts("it", {"holding": "Grazie!"}, "m")
    italian = await locale_for(repos, "it")
    assert italian["holding"] == "Grazie!"
    assert italian["helpful"] == STRINGS["en"]["helpful"]  # a missing text reads English


async def test_offline_nothing_is_translated_and_detection_still_works(
    repos: Repositories,
) -> None:
    languages = Languages(repos, None)
    await languages.prepare_locale("it")  # no model: nothing stored, Italian reads English
    assert await repos.languages.ui_texts("it") is None
    with pytest.raises(LlmFailure, match=re.escape(NO_MODEL)):
        await languages.translate("Hallo", source="de", target="en")
    assert await languages.detect("Wie setze ich mein Passwort zurück?", None) == ("de", True)
    assert await languages.detect("ok thx", "fr") == ("fr", False)
    assert await languages.detect("ok thx", None) == ("en", False)
