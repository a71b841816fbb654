"""Credentials in OPENAI_BASE_URL (``https://user:secret@host/v1``, ``?api-key=…``) never show:
not in ``/support status``, not in ``support-bot doctor``, not in the logs."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from bot.sandbox.standin import SlackStandIn
from bot.settings.logs import RedactingFormatter, safe_url
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.scenarios.test_cli import run
from tests.utils.harness import ADMIN
from tests.utils.process import bot_env, free_port

PASSWORD = "s3cr3t-pass"
QUERY_KEY = "hunter2hunter2"


def credentialed(llm: FakeOpenAI) -> str:
    """The fake's base URL with a password in its user info and a key in its query."""
    scheme, rest = llm.url.split("://", 1)
    return f"{scheme}://proxyuser:{PASSWORD}@{rest}?api-key={QUERY_KEY}&api-version=2024-06-01"


def assert_redacted(text: str) -> None:
    assert PASSWORD not in text and QUERY_KEY not in text and "proxyuser" not in text, text


async def test_support_status_shows_the_llm_endpoint_without_its_credentials(
    make_bot: BotFactory, llm: FakeOpenAI
) -> None:
    bot = await make_bot(kb=False, support_admins=[ADMIN], openai_base_url=credentialed(llm))
    status, body = await bot.send.slash_command(ADMIN, "status")
    assert status == 200
    text = str(json.loads(body)["text"])
    assert_redacted(text)
    llm_line = next(line for line in text.splitlines() if " llm: " in line)
    # Still says which endpoint: the host, and the harmless query parameters.
    assert "http://***@127.0.0.1:" in llm_line, llm_line
    assert "api-key=***" in llm_line and "api-version=2024-06-01" in llm_line, llm_line


async def test_doctor_shows_the_llm_endpoint_without_its_credentials(
    tmp_path: Path, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    env = bot_env(tmp_path, slack, llm, free_port()) | {"OPENAI_BASE_URL": credentialed(llm)}
    await run(env, tmp_path, "migrate")
    _code, out, err = await run(env, tmp_path, "doctor")
    assert_redacted(out + err)
    assert "http://***@127.0.0.1:" in out, out


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:secret@llm.example/v1", "https://***@llm.example/v1"),
        (
            "https://llm.example/v1?api-key=abc&api-version=1",
            "https://llm.example/v1?api-key=***&api-version=1",
        ),
        ("https://llm.example/v1?access_token=abc", "https://llm.example/v1?access_token=***"),
        ("https://llm.example/v1?q=Zx81Qw9PLk3m0Bn7Vc2Xz5Lp", "https://llm.example/v1?q=***"),
        ("http://localhost:11434/v1", "http://localhost:11434/v1"),
        ("https://x.openai.azure.com/openai?api-version=2024-02-15-preview", None),
    ],
)
def test_safe_url_hides_user_info_and_secret_query_values(url: str, shown: str | None) -> None:
    assert safe_url(url) == (shown or url)


def test_log_lines_hide_credentials_in_urls_even_without_pii_redaction() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(message)s", pii=False))
    logger = logging.getLogger("test.urls")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("POST %s/chat/completions failed", f"https://bob:{PASSWORD}@llm.example/v1")
        logger.warning("GET https://llm.example/v1/models?api-key=%s&x=1", QUERY_KEY)
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert_redacted(text)
    assert "https://***@llm.example/v1/chat/completions" in text
    assert "api-key=***&x=1" in text
