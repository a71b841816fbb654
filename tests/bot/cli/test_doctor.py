"""doctor's language check, in process: detection loads and reads German, and the line says
which languages the bot's own texts are in and what happens to the others."""

from __future__ import annotations

from pydantic import SecretStr

from bot.cli.doctor import _languages
from bot.settings.environment import Settings


async def test_the_language_check_says_what_customers_read() -> None:
    offline = await _languages(Settings(_env_file=None))  # type: ignore[call-arg]
    assert offline.ok, offline.detail
    assert "the bot's own texts in de, en, es, fr, ja, pt" in offline.detail
    assert "English (no LLM to translate them)" in offline.detail
    online = await _languages(
        Settings(_env_file=None, openai_api_key=SecretStr("sk-test"))  # type: ignore[call-arg]
    )
    assert "translated by the model once" in online.detail
