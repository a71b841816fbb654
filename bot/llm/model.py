"""Calls to the OpenAI-compatible chat endpoint that must come back as validated models.

Every model call goes through the ``openai`` package: ``AsyncOpenAI``, or ``AsyncAzureOpenAI``
for Azure (``openai_client``), one client per ``SupportModel``, with the proxy and certificates
of ``bot/settings/network.py``. The client retries what is worth retrying: 408, 409, 429 and 5xx
answers, timeouts and connection failures, up to
``LLM_MAX_RETRIES`` times with exponential backoff, honouring ``Retry-After``; each try may take
``LLM_TIMEOUT`` seconds. Other answers fail at once. What happens next is ours: a reply that is
not valid JSON for the model is re-asked with the validation error, at most
``LLM_PARSE_RETRIES`` times; an HTTP body that is not a chat completion (truncated JSON, missing
fields) is neither retried nor re-asked. Everything else becomes ``LlmFailure`` with a reason a
reviewer can read; the workflow escalates on it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

import openai
from openai import AsyncAzureOpenAI, AsyncOpenAI
from openai.types.shared_params import ResponseFormatJSONObject
from pydantic import BaseModel, ValidationError

from bot.llm.prompts import Prompt
from bot.settings.environment import AZURE_HOST_SUFFIXES, DEFAULT_AZURE_API_VERSION, Settings
from bot.settings.network import httpx_client, tls_context

T = TypeVar("T", bound=BaseModel)
log = logging.getLogger(__name__)

OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
# Plain JSON mode rather than json_schema: vLLM, Ollama and llama.cpp servers all accept it.
JSON_OBJECT: ResponseFormatJSONObject = {"type": "json_object"}


def is_azure(settings: Settings) -> bool:
    """Azure OpenAI: ``OPENAI_API_VERSION`` is set or ``OPENAI_BASE_URL`` is an Azure host."""
    if settings.openai_api_version:
        return True
    host = urlsplit(settings.openai_base_url or "").hostname or ""
    return host.endswith(AZURE_HOST_SUFFIXES)


def _azure_endpoint(base_url: str) -> str:
    # AsyncAzureOpenAI appends /openai itself: https://RESOURCE.openai.azure.com/openai works too.
    endpoint = base_url.rstrip("/")
    return endpoint.removesuffix("/openai")


def openai_client(
    settings: Settings, *, timeout: float | None = None, max_retries: int | None = None
) -> AsyncOpenAI:
    """The ``openai`` client for the configured endpoint; ``LLM_TIMEOUT``/``LLM_MAX_RETRIES``
    unless told otherwise. For Azure the model name (``SUPPORT_BOT_MODEL``, the embedding
    model) is the deployment's name."""
    key = settings.openai_api_key
    if key is None:
        raise ValueError("the LLM client needs OPENAI_API_KEY")
    timeout = settings.llm_timeout if timeout is None else timeout
    retries = settings.llm_max_retries if max_retries is None else max_retries
    http = httpx_client(tls_context(settings.support_bot_ca_bundle), model_url(settings))
    if is_azure(settings):
        if not settings.openai_base_url:
            raise ValueError(
                "Azure OpenAI needs OPENAI_BASE_URL: https://RESOURCE.openai.azure.com"
            )
        return AsyncAzureOpenAI(
            azure_endpoint=_azure_endpoint(settings.openai_base_url),
            api_version=settings.openai_api_version or DEFAULT_AZURE_API_VERSION,
            api_key=key.get_secret_value(),
            timeout=timeout,
            max_retries=retries,
            http_client=http,
        )
    return AsyncOpenAI(
        api_key=key.get_secret_value(),
        base_url=settings.openai_base_url,
        timeout=timeout,
        max_retries=retries,
        http_client=http,
    )


def model_url(settings: Settings) -> str:
    """Where model calls go (its proxy is chosen by this URL)."""
    return settings.openai_base_url or OPENAI_DEFAULT_URL


@dataclass(frozen=True)
class LlmUsage:
    model: str
    prompt_name: str
    prompt_version: str
    tokens_in: int
    tokens_out: int
    duration_ms: int
    attempts: int


def usage_fields(usage: LlmUsage | None) -> dict[str, Any]:
    """A model call's figures as the ticket's trail records them (nothing without a call)."""
    if usage is None:
        return {}
    return {
        "duration_ms": usage.duration_ms,
        "model": usage.model,
        "prompt_name": usage.prompt_name,
        "prompt_version": usage.prompt_version,
        "tokens_in": usage.tokens_in,
        "tokens_out": usage.tokens_out,
    }


@dataclass(frozen=True)
class LlmResult(Generic[T]):
    value: T
    usage: LlmUsage


class LlmFailure(Exception):
    def __init__(self, reason: str, usage: LlmUsage | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.usage = usage


class Unreadable(Exception):
    """The endpoint answered with a body that is not a chat completion."""


@dataclass(frozen=True)
class Completion:
    content: str | None
    tokens_in: int
    tokens_out: int


def read_completion(raw: Any) -> Completion:
    """The reply's text and token usage from a raw ``chat.completions`` response.

    No choices, or no text, is an empty reply (re-asked like malformed output); a body that
    is not JSON or not shaped like a completion is ``Unreadable``.
    """
    try:
        completion = raw.parse()
        choices = completion.choices or []
        content = choices[0].message.content if choices else None
        usage = completion.usage
        return Completion(
            content=content if isinstance(content, str) else None,
            tokens_in=int(getattr(usage, "prompt_tokens", 0) or 0) if usage else 0,
            tokens_out=int(getattr(usage, "completion_tokens", 0) or 0) if usage else 0,
        )
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, openai.APIError) as exc:
        raise Unreadable(type(exc).__name__) from None


def transport_failure(exc: openai.APIError) -> str:
    """A reviewer's words for a failed call (the client's retries already spent)."""
    if isinstance(exc, openai.APITimeoutError):
        return "the LLM timed out (after retries)"
    if isinstance(exc, openai.RateLimitError):
        return "the LLM kept answering HTTP 429, rate limited (after retries)"
    if isinstance(exc, openai.APIStatusError):
        return f"the LLM answered HTTP {exc.status_code} (after retries)"
    if isinstance(exc, openai.APIConnectionError):
        return "the LLM endpoint could not be reached"
    return f"the LLM endpoint sent an unreadable response ({type(exc).__name__})"


def _strip_fences(content: str) -> str:
    text = content.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        if text.rstrip().endswith("```"):
            text = text.rstrip()[:-3]
    return text.strip()


# Calls of a ticket's first step (its classification, and the draft made beside it) wait
# behind every other call: with the model saturated, a ticket whose first step is done gets its
# redraft before new tickets start, so answers go out as the queue moves instead of all at the
# end of a burst (same throughput, earlier answers).
FIRST_STEP = "classify"


class LlmSlots:
    """At most ``size`` calls at once; waiting ``first`` calls are let in before the others."""

    def __init__(self, size: int) -> None:
        self.free = size
        self._first: collections.deque[asyncio.Future[None]] = collections.deque()
        self._later: collections.deque[asyncio.Future[None]] = collections.deque()

    @contextlib.asynccontextmanager
    async def held(self, *, first: bool) -> AsyncIterator[None]:
        if self.free > 0 and not self._first and not self._later:
            self.free -= 1
        else:
            lane = self._first if first else self._later
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            lane.append(waiter)
            try:
                await waiter  # the slot is handed over with the result
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._release()
                else:
                    lane.remove(waiter)
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        for lane in (self._first, self._later):
            while lane:
                waiter = lane.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self.free += 1


def with_images(messages: list[dict[str, str]], images: Sequence[str]) -> list[dict[str, Any]]:
    """The rendered prompt with ``images`` (data URLs) as image parts of its user message, in
    OpenAI's content-part form; unchanged without images."""
    if not images:
        return list(messages)
    out: list[dict[str, Any]] = []
    for message in messages:
        if message["role"] == "user":
            parts: list[dict[str, Any]] = [{"type": "text", "text": message["content"]}]
            parts += [{"type": "image_url", "image_url": {"url": url}} for url in images]
            out.append({"role": "user", "content": parts})
        else:
            out.append(dict(message))
    return out


class SupportModel:
    """The one place that talks to the LLM."""

    def __init__(self, settings: Settings) -> None:
        if settings.openai_api_key is None:
            raise ValueError("SupportModel needs OPENAI_API_KEY")
        self.model = settings.support_bot_model
        self.parse_retries = settings.llm_parse_retries
        self._client = openai_client(settings)
        self._slots = LlmSlots(settings.llm_concurrency)
        # False once the model refused a request with images (a text-only model behind
        # LLM_VISION=true): no image is sent to it again while the bot runs.
        self.sees_images = True

    async def close(self) -> None:
        await self._client.close()

    async def complete(self, messages: list[dict[str, Any]], *, first: bool = False) -> Completion:
        """One chat completion in JSON mode: ``openai.APIError`` or ``Unreadable`` if it fails."""
        async with self._slots.held(first=first):
            raw = await self._client.chat.completions.with_raw_response.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]  # role/content dicts
                response_format=JSON_OBJECT,
            )
        return read_completion(raw)

    async def structured(
        self, prompt: Prompt, output: type[T], *, images: Sequence[str] = (), **variables: str
    ) -> LlmResult[T]:
        """The prompt's reply as ``output``; a classification waits behind other calls.
        ``images``: data URLs shown to the model after the prompt's user text."""
        return await self._structured(
            prompt, output, variables, images, ahead=prompt.name != FIRST_STEP
        )

    async def structured_first_step(
        self, prompt: Prompt, output: type[T], *, images: Sequence[str] = (), **variables: str
    ) -> LlmResult[T]:
        """As ``structured``, for a call made beside a ticket's classification (its first
        draft): it waits where the classification does."""
        return await self._structured(prompt, output, variables, images, ahead=False)

    async def _structured(
        self,
        prompt: Prompt,
        output: type[T],
        variables: dict[str, str],
        images: Sequence[str],
        *,
        ahead: bool,
    ) -> LlmResult[T]:
        images = images if self.sees_images else ()
        messages: list[dict[str, Any]] = with_images(prompt.render(**variables), images)
        tokens_in = tokens_out = 0
        started = time.monotonic()
        attempts = 0

        def usage() -> LlmUsage:
            return LlmUsage(
                model=self.model,
                prompt_name=prompt.name,
                prompt_version=prompt.version,
                tokens_in=tokens_in,
                tokens_out=tokens_out,
                duration_ms=int((time.monotonic() - started) * 1000),
                attempts=attempts,
            )

        problem = ""
        for _ in range(self.parse_retries + 1):
            attempts += 1
            try:
                try:
                    response = await self.complete(messages, first=ahead)
                except openai.BadRequestError:
                    if not images:
                        raise
                    # A model that takes no image input refuses the whole call: ask again
                    # without the images, and send it none from now on (the workflow then says
                    # the screenshots were not read).
                    if self.sees_images:
                        self.sees_images = False
                        log.warning(
                            "the model refused a request with images: sending it none from now"
                            " on (set LLM_VISION=false for a model that does not read images)"
                        )
                    images = ()
                    messages = with_images(prompt.render(**variables), ())
                    response = await self.complete(messages, first=ahead)
            except openai.APIError as exc:
                raise LlmFailure(transport_failure(exc), usage()) from None
            except Unreadable as exc:
                # A broken HTTP body (truncated JSON, missing fields): not the model's words, so
                # not worth a re-ask; the round escalates with the reason.
                raise LlmFailure(
                    f"the LLM endpoint sent an unreadable response ({exc})", usage()
                ) from None
            tokens_in += response.tokens_in
            tokens_out += response.tokens_out
            content = response.content
            try:
                value = output.model_validate(json.loads(_strip_fences(content or "")))
            except (json.JSONDecodeError, ValidationError) as exc:
                problem = str(exc).splitlines()[0][:300]
                messages.append({"role": "assistant", "content": (content or "")[:4000]})
                messages.append(
                    {
                        "role": "user",
                        "content": "That reply was not valid: "
                        f"{problem}. Reply again with only the JSON object described above.",
                    }
                )
                continue
            return LlmResult(value=value, usage=usage())
        raise LlmFailure(f"the LLM's reply was malformed {attempts} times ({problem})", usage())
