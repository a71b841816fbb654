"""Calls to the OpenAI-compatible chat endpoint that must come back as validated models.

Transport failures (429, 5xx, timeouts) are retried with backoff by ``bot/chat_transport.py``
(``LLM_MAX_RETRIES``). A reply that is not valid JSON for the model is re-asked with the
validation error, at most ``LLM_PARSE_RETRIES`` times. Anything else becomes ``LlmFailure`` with
a reason a reviewer can read; the workflow escalates on it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from bot.chat_transport import (
    ChatStatusError,
    ChatTimeout,
    ChatTransport,
    ChatUnreachable,
    ChatUnreadable,
)
from bot.config import Settings
from bot.prompts import Prompt

T = TypeVar("T", bound=BaseModel)

# Plain JSON mode rather than json_schema: vLLM, Ollama and llama.cpp servers all accept it.
JSON_OBJECT = {"type": "json_object"}


@dataclass(frozen=True)
class LlmUsage:
    model: str
    prompt_name: str
    prompt_version: str
    tokens_in: int
    tokens_out: int
    duration_ms: int
    attempts: int


@dataclass(frozen=True)
class LlmResult(Generic[T]):
    value: T
    usage: LlmUsage


class LlmFailure(Exception):
    def __init__(self, reason: str, usage: LlmUsage | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.usage = usage


def _strip_fences(content: str) -> str:
    text = content.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        if text.rstrip().endswith("```"):
            text = text.rstrip()[:-3]
    return text.strip()


# Calls for a ticket's first step wait behind every other call: with the model saturated, a
# ticket already classified gets its draft before new tickets are classified, so answers go out
# as the queue moves instead of all at the end of a burst (same throughput, earlier answers).
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


class SupportModel:
    """The one place that talks to the LLM."""

    def __init__(self, settings: Settings) -> None:
        key = settings.openai_api_key
        if key is None:
            raise ValueError("SupportModel needs OPENAI_API_KEY")
        self.model = settings.support_bot_model
        self.parse_retries = settings.llm_parse_retries
        self._chat = ChatTransport(
            api_key=key.get_secret_value(),
            base_url=settings.openai_base_url,
            timeout=settings.llm_timeout,
            max_retries=settings.llm_max_retries,
        )
        self._slots = LlmSlots(settings.llm_concurrency)

    async def close(self) -> None:
        await self._chat.close()

    async def structured(self, prompt: Prompt, output: type[T], **variables: str) -> LlmResult[T]:
        messages: list[dict[str, str]] = list(prompt.render(**variables))
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
                async with self._slots.held(first=prompt.name != FIRST_STEP):
                    response = await self._chat.complete(
                        {"model": self.model, "messages": messages, "response_format": JSON_OBJECT}
                    )
            except ChatTimeout:
                raise LlmFailure("the LLM timed out (after retries)", usage()) from None
            except ChatStatusError as exc:
                raise LlmFailure(
                    f"the LLM answered HTTP {exc.status} (after retries)", usage()
                ) from None
            except ChatUnreachable:
                raise LlmFailure("the LLM endpoint could not be reached", usage()) from None
            except ChatUnreadable as exc:
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
