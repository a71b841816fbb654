"""The one Slack Web API client: slack_sdk's ``AsyncWebClient`` over one pooled session.

Every call the bot makes to Slack goes through it: the outbox's posts and updates, thread and
channel reads, views, users. Its proxy and certificates come from ``bot/settings/network.py``.

What the client retries within a call, with slack_sdk's retry handlers:

* a 429 whose ``Retry-After`` is at most ``RATE_LIMIT_WAIT`` seconds, up to
  ``RATE_LIMIT_RETRIES`` times: Slack did nothing, so repeating is safe. A longer wait is not
  spent inside the call: the caller sees ``ratelimited`` (the outbox re-queues the delivery
  for when Slack asks);
* a 500 or 503, and a connection that failed or dropped, once, for every method but those
  that create a message (``CREATES_MESSAGES``): an answer lost after Slack posted would post
  it twice. Those go back to the outbox, which looks for the earlier delivery before posting
  again (``bot/slack/outbox.py``).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings.network import aiohttp_session, proxy_for

RATE_LIMIT_RETRIES = 2
RATE_LIMIT_WAIT = 30
TIMEOUT = 15
# Methods whose repetition, after Slack acted on the first attempt, would show a customer or a
# reviewer the same message twice.
CREATES_MESSAGES = frozenset(
    {
        "chat.postMessage",
        "chat.postEphemeral",
        "chat.scheduleMessage",
        "chat.meMessage",
        "files.completeUploadExternal",
        "files.upload",
    }
)


def retry_after_seconds(value: str | None) -> float | None:
    """Slack's ``Retry-After``: whole seconds; None when absent or not a sane number."""
    text = (value or "").strip()
    if text.isascii() and text.isdigit() and len(text) < 8:
        return float(text)
    return None


def _method(request: HttpRequest) -> str:
    return request.url.rstrip("/").rsplit("/", 1)[-1]


def _retry_after(response: HttpResponse) -> float | None:
    for name, values in response.headers.items():
        if name.lower() == "retry-after" and values:
            return retry_after_seconds(values[0])
    return None


def _short_wait(request: HttpRequest, response: HttpResponse | None) -> bool:
    wait = _retry_after(response) if response is not None else None
    return wait is not None and wait <= RATE_LIMIT_WAIT


def _repeatable(request: HttpRequest, response: HttpResponse | None) -> bool:
    return _method(request) not in CREATES_MESSAGES


class Only(AsyncRetryHandler):
    """One of slack_sdk's retry handlers, for the calls ``allowed`` accepts."""

    def __init__(
        self,
        inner: AsyncRetryHandler,
        allowed: Callable[[HttpRequest, HttpResponse | None], bool],
    ) -> None:
        super().__init__(inner.max_retry_count, inner.interval_calculator)
        self.inner = inner
        self.allowed = allowed

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return self.allowed(request, response) and await self.inner._can_retry_async(
            state=state, request=request, response=response, error=error
        )

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        # The rate-limit handler waits out Retry-After; the others back off.
        await self.inner.prepare_for_next_attempt_async(
            state=state, request=request, response=response, error=error
        )


def retry_handlers() -> list[AsyncRetryHandler]:
    return [
        Only(AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES), _short_wait),
        Only(AsyncServerErrorRetryHandler(max_retry_count=1), _repeatable),
        Only(AsyncConnectionErrorRetryHandler(max_retry_count=1), _repeatable),
    ]


def slack_session(tls: ssl.SSLContext, timeout: float = TIMEOUT) -> aiohttp.ClientSession:
    """The session every Web API call shares; each call may take ``timeout`` seconds."""
    return aiohttp_session(tls, timeout=timeout)


def web_client(
    token: str,
    base_url: str,
    *,
    tls: ssl.SSLContext,
    session: aiohttp.ClientSession | None = None,
    timeout: int = TIMEOUT,
) -> AsyncWebClient:
    """A Web API client for ``token``. With ``session`` (``slack_session``), every call reuses
    its pooled connections and the session's timeout applies; without one, slack_sdk opens (and
    closes) a connection for each call, each given ``timeout`` seconds."""
    client = AsyncWebClient(
        token=token,
        base_url=base_url,
        timeout=timeout,
        ssl=tls,
        session=session,
        retry_handlers=retry_handlers(),
    )
    # slack_sdk reads HTTPS_PROXY itself but not NO_PROXY: name the proxy (or none) here.
    client.proxy = proxy_for(base_url)
    return client


async def call(client: AsyncWebClient, method: str, **args: Any) -> dict[str, Any]:
    """Call a Web API method with a JSON body, leaving out arguments that are None; Slack's
    answer (a ``SlackApiError`` when it is not ok)."""
    response = await client.api_call(method, json={k: v for k, v in args.items() if v is not None})
    return dict(response.data) if isinstance(response.data, dict) else {}
