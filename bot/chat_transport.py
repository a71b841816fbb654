"""The HTTP call behind every chat completion: one pooled aiohttp session, bounded retries.

Why not ``openai``'s ``chat.completions.create`` here: per call it builds and validates typed
request and response models and walks httpx's layers, which cost more CPU than everything else
the bot does for a question (measured by ``bench/throughput.py``: about 2 ms of the bot's 13 ms
per question went to the client alone). The request is a small JSON body and the answer is
validated by ``bot/llm.py`` anyway. The ``openai`` package still serves embeddings and the
health checks, where calls are rare. The HTTP itself is ``bot/http1.py``'s (aiohttp's client
cost three times its CPU per call).

Retries follow the openai client's rules: 408, 409, 429 and 5xx answers, timeouts and
connection failures are retried up to ``max_retries`` times with exponential backoff and
jitter, honouring ``Retry-After`` (up to a minute); other answers fail at once.
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bot.http1 import ConnectFailed, Malformed, Origin, Truncated

DEFAULT_BASE_URL = "https://api.openai.com/v1"
RETRYABLE_STATUS = frozenset({408, 409, 429})
MAX_RETRY_AFTER = 60.0


@dataclass(frozen=True)
class Completion:
    content: str | None
    tokens_in: int
    tokens_out: int


class ChatTimeout(Exception):
    """No answer within the timeout, after the retries."""


class ChatUnreachable(Exception):
    """The endpoint could not be reached, after the retries."""


class ChatStatusError(Exception):
    """The endpoint answered with an error status (after the retries, where retryable)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class ChatUnreadable(Exception):
    """The endpoint answered 200 with a body that is not a chat completion."""


def _retry_after(headers: Any) -> float | None:
    for name in ("retry-after-ms", "retry-after"):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / (1000 if name == "retry-after-ms" else 1)
        except ValueError:
            continue
        if 0 <= seconds <= MAX_RETRY_AFTER:
            return seconds
    return None


def backoff(attempt: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return retry_after
    return float(min(8.0, 0.5 * 2**attempt) * random.uniform(0.75, 1.0))


def parse_completion(body: bytes) -> Completion:
    try:
        payload = json.loads(body)
        choices = payload.get("choices") or []
        content = choices[0]["message"].get("content") if choices else None
        usage = payload.get("usage") or {}
        return Completion(
            content=content if isinstance(content, str) else None,
            tokens_in=int(usage.get("prompt_tokens") or 0),
            tokens_out=int(usage.get("completion_tokens") or 0),
        )
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise ChatUnreadable(type(exc).__name__) from None


class ChatTransport:
    def __init__(
        self, *, api_key: str, base_url: str | None, timeout: float, max_retries: int
    ) -> None:
        self.url = (base_url or DEFAULT_BASE_URL).rstrip("/") + "/chat/completions"
        self.timeout = timeout
        self.max_retries = max_retries
        self._path = urlsplit(self.url).path
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self._origin: Origin | None = None

    def _client(self) -> Origin:
        if self._origin is None:
            self._origin = Origin(self.url, self._headers, timeout=self.timeout)
        return self._origin

    async def close(self) -> None:
        if self._origin is not None:
            await self._origin.close()
            self._origin = None

    async def complete(self, body: dict[str, Any]) -> Completion:
        data = json.dumps(body).encode()
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                response = await self._client().post(self._path, data)
                status = response.status
                if status < 400:
                    return parse_completion(response.body)
                retry_after = _retry_after(response.headers)
                if status not in RETRYABLE_STATUS and status < 500:
                    raise ChatStatusError(status)
                failure: Exception = ChatStatusError(status)
            except TimeoutError:
                failure = ChatTimeout()
            except (Truncated, Malformed) as exc:
                raise ChatUnreadable(str(exc) or type(exc).__name__) from None
            except ConnectFailed as exc:
                failure = ChatUnreachable(str(exc))
            if attempt >= self.max_retries:
                raise failure
            await asyncio.sleep(backoff(attempt, retry_after))
            attempt += 1
