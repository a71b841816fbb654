"""Calls to the OpenAI-compatible chat endpoint that must come back as validated models.

Transport failures (429, 5xx, timeouts) are retried with backoff by the openai client itself
(``LLM_MAX_RETRIES``). A reply that is not valid JSON for the model is re-asked with the
validation error, at most ``LLM_PARSE_RETRIES`` times. Anything else becomes ``LlmFailure`` with
a reason a reviewer can read; the workflow escalates on it.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Generic, TypeVar

import openai
from openai import AsyncOpenAI
from openai.types.shared_params import ResponseFormatJSONObject
from pydantic import BaseModel, ValidationError

from bot.config import Settings
from bot.prompts import Prompt

T = TypeVar("T", bound=BaseModel)

# Plain JSON mode rather than json_schema: vLLM, Ollama and llama.cpp servers all accept it.
JSON_OBJECT: ResponseFormatJSONObject = {"type": "json_object"}


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


class SupportModel:
    """The one place that talks to the LLM."""

    def __init__(self, settings: Settings) -> None:
        key = settings.openai_api_key
        if key is None:
            raise ValueError("SupportModel needs OPENAI_API_KEY")
        self.model = settings.support_bot_model
        self.parse_retries = settings.llm_parse_retries
        self._client = AsyncOpenAI(
            api_key=key.get_secret_value(),
            base_url=settings.openai_base_url,
            timeout=settings.llm_timeout,
            max_retries=settings.llm_max_retries,
        )
        self._slots = asyncio.Semaphore(settings.llm_concurrency)

    async def close(self) -> None:
        await self._client.close()

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
                async with self._slots:
                    response = await self._client.chat.completions.create(
                        model=self.model,
                        messages=messages,  # type: ignore[arg-type]
                        response_format=JSON_OBJECT,
                    )
            except openai.APITimeoutError:
                raise LlmFailure("the LLM timed out (after retries)", usage()) from None
            except openai.APIStatusError as exc:
                raise LlmFailure(
                    f"the LLM answered HTTP {exc.status_code} (after retries)", usage()
                ) from None
            except openai.APIConnectionError:
                raise LlmFailure("the LLM endpoint could not be reached", usage()) from None
            except (ValueError, KeyError, TypeError) as exc:
                # A broken HTTP body (truncated JSON, missing fields): not the model's words, so
                # not worth a re-ask; the round escalates with the reason.
                raise LlmFailure(
                    f"the LLM endpoint sent an unreadable response ({type(exc).__name__})",
                    usage(),
                ) from None
            if response.usage is not None:
                tokens_in += response.usage.prompt_tokens
                tokens_out += response.usage.completion_tokens
            content = response.choices[0].message.content if response.choices else None
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
