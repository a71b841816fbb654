"""The chat-completion transport against the fake OpenAI server over real HTTP: answers, usage,
which failures are retried and how often, Retry-After, timeouts, unreachable and broken bodies."""

from __future__ import annotations

import json
import socket
import time

import pytest

from bot.chat_transport import (
    ChatStatusError,
    ChatTimeout,
    ChatTransport,
    ChatUnreachable,
    ChatUnreadable,
    backoff,
    parse_completion,
)
from tests.fakes.openai_api import FakeOpenAI, count_tokens

KEY = "sk-transport"
BODY = {"model": "gpt-test", "messages": [{"role": "user", "content": "hello there"}]}


def transport(llm: FakeOpenAI, *, retries: int = 2, timeout: float = 5.0) -> ChatTransport:
    return ChatTransport(api_key=KEY, base_url=llm.url, timeout=timeout, max_retries=retries)


async def test_an_answer_comes_back_with_its_content_and_usage() -> None:
    async with FakeOpenAI(api_key=KEY) as llm:
        llm.script('{"ok": true}')
        chat = transport(llm)
        try:
            completion = await chat.complete(BODY)
        finally:
            await chat.close()
    assert completion.content == '{"ok": true}'
    assert completion.tokens_in == count_tokens("hello there")
    assert completion.tokens_out == count_tokens('{"ok": true}')
    assert llm.requests[0]["messages"] == BODY["messages"]


async def test_server_errors_are_retried_then_the_answer_is_used() -> None:
    async with FakeOpenAI(api_key=KEY) as llm:
        llm.fail_next(500, times=2)
        llm.script("fine")
        chat = transport(llm, retries=2)
        try:
            completion = await chat.complete(BODY)
        finally:
            await chat.close()
    assert completion.content == "fine"
    assert len(llm.requests) == 3


async def test_retries_are_bounded_and_the_status_is_reported() -> None:
    async with FakeOpenAI(api_key=KEY) as llm:
        llm.fail_next(503, times=5)
        chat = transport(llm, retries=1)
        try:
            with pytest.raises(ChatStatusError) as caught:
                await chat.complete(BODY)
        finally:
            await chat.close()
    assert caught.value.status == 503
    assert len(llm.requests) == 2  # the first try and one retry


async def test_a_client_error_is_not_retried() -> None:
    async with FakeOpenAI(api_key="another-key") as llm:  # our key is refused: 401
        chat = transport(llm, retries=3)
        try:
            with pytest.raises(ChatStatusError) as caught:
                await chat.complete(BODY)
        finally:
            await chat.close()
    assert caught.value.status == 401
    assert len(llm.requests) == 1


async def test_a_rate_limit_is_retried_after_what_retry_after_says() -> None:
    async with FakeOpenAI(api_key=KEY) as llm:
        llm.fail_next(429)  # the fake says retry-after: 0
        llm.script("after the limit")
        chat = transport(llm, retries=1)
        started = time.monotonic()
        try:
            completion = await chat.complete(BODY)
        finally:
            await chat.close()
    assert completion.content == "after the limit"
    assert time.monotonic() - started < 0.4  # Retry-After 0, not the 0.5 s default backoff


def test_backoff_grows_and_is_capped_and_retry_after_wins() -> None:
    assert 0.375 <= backoff(0, None) <= 0.5
    assert 0.75 <= backoff(1, None) <= 1.0
    assert backoff(10, None) <= 8.0
    assert backoff(3, 2.5) == 2.5


async def test_a_stalled_answer_times_out_after_the_retries() -> None:
    async with FakeOpenAI(api_key=KEY) as llm:
        llm.delay_next(5.0, times=3)
        chat = transport(llm, retries=1, timeout=0.3)
        try:
            with pytest.raises(ChatTimeout):
                await chat.complete(BODY)
        finally:
            await chat.close()
    assert len(llm.requests) == 2


async def test_an_endpoint_nobody_listens_on_is_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    chat = ChatTransport(
        api_key=KEY, base_url=f"http://127.0.0.1:{port}/v1", timeout=2.0, max_retries=0
    )
    try:
        with pytest.raises(ChatUnreachable):
            await chat.complete(BODY)
    finally:
        await chat.close()


async def test_a_broken_body_is_unreadable_and_not_retried() -> None:
    async with FakeOpenAI(api_key=KEY) as llm:
        llm.random_faults(seed=1, malformed_body_rate=1.0)
        llm.responder = lambda request: "x"
        chat = transport(llm, retries=3)
        try:
            with pytest.raises(ChatUnreadable):
                await chat.complete(BODY)
        finally:
            await chat.close()
    assert len(llm.requests) == 1


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b'{"choices": [{}]}', b'{"choices": [{"message": null}]}', b"{not json"],
)
def test_bodies_that_are_not_completions_are_unreadable(body: bytes) -> None:
    with pytest.raises(ChatUnreadable):
        parse_completion(body)


def test_a_completion_without_usage_counts_no_tokens() -> None:
    body = json.dumps({"choices": [{"message": {"content": "hi"}}]}).encode()
    completion = parse_completion(body)
    assert (completion.content, completion.tokens_in, completion.tokens_out) == ("hi", 0, 0)
