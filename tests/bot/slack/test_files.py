"""The file host the bot token may go to, and sizes as cards say them."""

from __future__ import annotations

import pytest

from bot.slack.files import file_origin, size_text


def test_slacks_own_api_sends_the_token_to_its_file_host_only() -> None:
    assert file_origin("https://slack.com/api/") == ("https", "files.slack.com", 443)
    assert file_origin("https://slack-gov.com/api/") == ("https", "files.slack-gov.com", 443)
    # A stand-in (the sandbox, the tests): its very own origin.
    assert file_origin("http://127.0.0.1:5123/api/") == ("http", "127.0.0.1", 5123)


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1 KB"),
        (12 * 1024 * 1024, "12 MB"),
        (2 * 1024**2, "2.0 MB"),
    ],
)
def test_sizes_read_as_people_write_them(size: int, text: str) -> None:
    assert size_text(size) == text
