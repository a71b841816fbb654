"""The outbox's writes to Slack's Web API (``chat.postMessage``, ``chat.update``) over
``bot/http1.py``.

Why not slack_sdk's ``AsyncWebClient`` for these two: every answered question posts once and
every card is posted and updated, and the client's request building, retry-handler loop,
response objects and aiohttp's client cost about a third of a millisecond of CPU per call more
(issue 8's profile: the largest single cost left on a question's path). The body is the same
JSON the client sends. Everything else (thread reads, views, users, files) still goes through
slack_sdk, where calls are rare.

A 429 is retried here, after its ``Retry-After`` (up to ``RATE_LIMIT_RETRIES`` times, when it
asks for at most ``RATE_LIMIT_WAIT`` seconds), as slack_sdk's rate-limit handler did: Slack did
nothing, so an immediate retry is safe. Other failures raise ``SlackCallFailed`` with Slack's
own error (``channel_not_found``, ``ratelimited``, …), or ``http_<status>`` when the answer is
not Slack's JSON (a load balancer's 5xx page), with the status and any ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

from bot.http1 import Origin

RATE_LIMIT_RETRIES = 2
RATE_LIMIT_WAIT = 30


class SlackCallFailed(Exception):
    def __init__(self, error: str, status: int, retry_after: str | None) -> None:
        super().__init__(f"Slack refused: {error} (HTTP {status})")
        self.error = error
        self.status = status
        self.retry_after = retry_after


class SlackWriter:
    def __init__(self, token: str, base_url: str, *, timeout: float = 15.0) -> None:
        base = base_url if base_url.endswith("/") else base_url + "/"
        self._path = urlsplit(base).path
        self._origin = Origin(
            base,
            {
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json; charset=utf-8",
            },
            timeout=timeout,
        )

    async def close(self) -> None:
        await self._origin.close()

    async def call(self, method: str, **args: Any) -> dict[str, Any]:
        """Call a Web API method with a JSON body (arguments that are None are left out, as
        slack_sdk does); Slack's answer when it says ok."""
        body = json.dumps({k: v for k, v in args.items() if v is not None}).encode()
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            try:
                return await self._call(method, body)
            except SlackCallFailed as failed:
                wait = retry_after_seconds(failed.retry_after)
                if failed.status != 429 or wait is None or wait > RATE_LIMIT_WAIT:
                    raise
                if attempt == RATE_LIMIT_RETRIES:
                    raise
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    async def _call(self, method: str, body: bytes) -> dict[str, Any]:
        response = await self._origin.post(self._path + method, body)
        retry_after = response.headers.get("retry-after")
        try:
            data = json.loads(response.body)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise SlackCallFailed(f"http_{response.status}", response.status, retry_after)
        if response.status == 429 or not data.get("ok"):
            fallback = "ratelimited" if response.status == 429 else "unknown_error"
            raise SlackCallFailed(str(data.get("error") or fallback), response.status, retry_after)
        return data


def retry_after_seconds(value: str | None) -> float | None:
    """Slack's ``Retry-After``: whole seconds; None when absent or not a sane number."""
    text = (value or "").strip()
    if text.isascii() and text.isdigit() and len(text) < 8:
        return float(text)
    return None
