"""Model calls through the official ``openai`` client against the fake OpenAI server over real
HTTP: answers and usage, OpenAI's and Azure's headers, paths and query parameters, which
failures the client retries and how often, Retry-After, timeouts, unreachable endpoints and
broken bodies, and the reasons a reviewer reads for each."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from openai import AsyncAzureOpenAI, AsyncOpenAI
from pydantic import BaseModel, SecretStr

from bot.kb.embeddings import EndpointEmbedder
from bot.llm.model import (
    LlmFailure,
    LlmResult,
    SupportModel,
    is_azure,
    openai_client,
    with_images,
)
from bot.llm.prompts import Prompt
from bot.ops.health import llm_health
from bot.settings.environment import DEFAULT_AZURE_API_VERSION, Settings, problems_for_start
from tests.fakes.openai_api import FakeOpenAI, count_tokens

KEY = "sk-client"
API_VERSION = "2024-06-01"
PROMPT = Prompt(
    name="draft",
    version="7",
    variables=frozenset({"question"}),
    system="Reply with a JSON object.",
    user="{{question}}",
)


class Answer(BaseModel):
    ok: bool


def settings(
    base_url: str,
    *,
    api_version: str | None = None,
    model: str = "gpt-test",
    retries: int = 2,
    timeout: float = 5.0,
) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        openai_api_key=SecretStr(KEY),
        openai_base_url=base_url,
        openai_api_version=api_version,
        support_bot_model=model,
        llm_max_retries=retries,
        llm_timeout=timeout,
    )


async def ask(config: Settings) -> LlmResult[Answer]:
    model = SupportModel(config)
    try:
        return await model.structured(PROMPT, Answer, question="hello there")
    finally:
        await model.close()


async def failure(config: Settings) -> LlmFailure:
    with pytest.raises(LlmFailure) as caught:
        await ask(config)
    return caught.value


async def test_an_answer_comes_back_with_its_usage_and_a_bearer_key() -> None:
    async with FakeOpenAI(api_key=KEY) as llm:
        llm.script('{"ok": true}')
        result = await ask(settings(llm.url))
    assert result.value.ok is True
    usage = result.usage
    assert (usage.model, usage.prompt_name, usage.prompt_version) == ("gpt-test", "draft", "7")
    assert usage.tokens_in == count_tokens("Reply with a JSON object.") + count_tokens(
        "hello there"
    )
    assert usage.tokens_out == count_tokens('{"ok": true}') and usage.attempts == 1
    (call,) = llm.received
    assert (call.method, call.path) == ("POST", "/v1/chat/completions")
    assert call.headers["authorization"] == f"Bearer {KEY}"
    assert "api-key" not in call.headers and "api-version" not in call.query
    body = llm.requests[0]
    assert body["model"] == "gpt-test"
    assert body["response_format"] == {"type": "json_object"}
    assert body["messages"][1] == {"role": "user", "content": "hello there"}


async def test_azure_sends_its_api_key_and_version_on_the_deployment_path() -> None:
    async with FakeOpenAI(api_key=KEY) as llm:
        llm.script('{"ok": true}')
        config = settings(llm.azure_endpoint, api_version=API_VERSION, model="support-gpt")
        result = await ask(config)
    assert result.value.ok is True and result.usage.tokens_out == count_tokens('{"ok": true}')
    (call,) = llm.received
    assert call.path == "/openai/deployments/support-gpt/chat/completions"
    assert call.headers["api-key"] == KEY and "authorization" not in call.headers
    assert call.query == {"api-version": API_VERSION}


async def test_an_azure_endpoint_given_with_its_openai_suffix_works_too() -> None:
    async with FakeOpenAI(api_key=KEY) as llm:
        llm.script('{"ok": false}')
        config = settings(llm.azure_endpoint + "/openai/", api_version=API_VERSION, model="d")
        assert (await ask(config)).value.ok is False
    assert llm.received[0].path == "/openai/deployments/d/chat/completions"


def test_which_settings_mean_azure() -> None:
    plain = settings("https://api.openai.com/v1")
    assert not is_azure(plain) and type(openai_client(plain)) is AsyncOpenAI
    for host in ("https://acme.openai.azure.com", "https://acme.cognitiveservices.azure.com/"):
        config = settings(host)
        assert is_azure(config)
        client = openai_client(config)
        assert isinstance(client, AsyncAzureOpenAI)
        assert str(client.base_url) == host.rstrip("/") + "/openai/"
        assert client._api_version == DEFAULT_AZURE_API_VERSION
    local = settings("http://127.0.0.1:8000", api_version=API_VERSION)
    assert isinstance(openai_client(local), AsyncAzureOpenAI)
    client = openai_client(local)
    assert (client.max_retries, client.timeout) == (2, 5.0)


async def test_embeddings_on_azure_go_to_the_embedding_deployment() -> None:
    async with FakeOpenAI(api_key=KEY) as llm:
        config = settings(llm.azure_endpoint, api_version=API_VERSION)
        vectors = await EndpointEmbedder(config, "embed-deployment").embed(["a", "b"])
    assert vectors.shape[0] == 2
    (call,) = llm.received
    assert call.path == "/openai/deployments/embed-deployment/embeddings"
    assert call.headers["api-key"] == KEY and call.query == {"api-version": API_VERSION}


async def test_the_health_check_reaches_azure() -> None:
    async with FakeOpenAI(api_key=KEY) as llm:
        check = await llm_health(settings(llm.azure_endpoint, api_version=API_VERSION))
    assert check.ok, check.detail
    assert llm.received[0].path == "/openai/models"
    assert llm.received[0].query == {"api-version": API_VERSION}


async def test_server_errors_are_retried_then_the_answer_is_used() -> None:
    async with FakeOpenAI(api_key=KEY) as llm:
        llm.fail_next(500, times=2)
        llm.script('{"ok": true}')
        result = await ask(settings(llm.url, retries=2))
    assert result.value.ok is True
    assert len(llm.requests) == 3


async def test_random_server_errors_are_retried_until_the_retries_run_out() -> None:
    async with FakeOpenAI(api_key=KEY) as llm:
        llm.random_faults(seed=3, error_rate=1.0)
        llm.script('{"ok": true}')
        caught = await failure(settings(llm.url, retries=1))
    assert caught.reason == "the LLM answered HTTP 500 (after retries)"
    assert len(llm.requests) == 2 and llm.injected["500"] == 2


async def test_retries_are_bounded_and_the_status_is_reported() -> None:
    async with FakeOpenAI(api_key=KEY) as llm:
        llm.fail_next(503, times=5)
        caught = await failure(settings(llm.url, retries=1))
    assert caught.reason == "the LLM answered HTTP 503 (after retries)"
    assert caught.usage is not None and caught.usage.tokens_in == 0
    assert len(llm.requests) == 2  # the first try and one retry


async def test_a_client_error_is_not_retried() -> None:
    async with FakeOpenAI(api_key="another-key") as llm:  # our key is refused: 401
        caught = await failure(settings(llm.url, retries=3))
    assert "HTTP 401" in caught.reason
    assert len(llm.requests) == 1


async def test_a_rate_limit_is_retried_after_what_retry_after_says() -> None:
    async with FakeOpenAI(api_key=KEY) as llm:
        llm.fail_next(429, retry_after="1")
        llm.script('{"ok": true}')
        started = time.monotonic()
        result = await ask(settings(llm.url, retries=1))
        waited = time.monotonic() - started
    assert result.value.ok is True and len(llm.requests) == 2
    # Retry-After: 1 s, where the client's own first backoff is at most 0.5 s.
    assert 0.95 <= waited < 3.0


async def test_a_rate_limit_that_outlasts_the_retries_says_so() -> None:
    async with FakeOpenAI(api_key=KEY) as llm:
        llm.fail_next(429, times=3, retry_after="0.05")
        caught = await failure(settings(llm.url, retries=1))
    assert caught.reason == "the LLM kept answering HTTP 429, rate limited (after retries)"
    assert len(llm.requests) == 2


async def test_a_stalled_answer_times_out_after_the_retries() -> None:
    async with FakeOpenAI(api_key=KEY) as llm:
        llm.delay_next(5.0, times=3)
        caught = await failure(settings(llm.url, retries=1, timeout=0.3))
    assert caught.reason == "the LLM timed out (after retries)"
    assert len(llm.requests) == 2


async def test_a_withheld_answer_times_out_like_a_stall() -> None:
    async with FakeOpenAI(api_key=KEY) as llm:
        llm.random_faults(seed=5, timeout_rate=1.0, stall_seconds=5.0)
        llm.script('{"ok": true}')
        caught = await failure(settings(llm.url, retries=0, timeout=0.3))
    assert caught.reason == "the LLM timed out (after retries)"
    assert len(llm.requests) == 1 and llm.injected["timeout"] == 1


async def test_an_endpoint_nobody_listens_on_is_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    caught = await failure(settings(f"http://127.0.0.1:{port}/v1", retries=0, timeout=2.0))
    assert caught.reason == "the LLM endpoint could not be reached"


async def test_a_truncated_body_is_unreadable_and_neither_retried_nor_reasked() -> None:
    async with FakeOpenAI(api_key=KEY) as llm:
        llm.random_faults(seed=1, malformed_body_rate=1.0)
        llm.responder = lambda request: '{"ok": true}'
        caught = await failure(settings(llm.url, retries=3))
    assert caught.reason.startswith("the LLM endpoint sent an unreadable response (")
    assert len(llm.requests) == 1


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("", "application/json"),
        ("[]", "application/json"),
        ('{"choices": [{}]}', "application/json"),
        ('{"choices": [{"message": null}]}', "application/json"),
        ("{not json", "application/json"),
        ("<html>bad gateway</html>", "text/html"),
    ],
)
async def test_bodies_that_are_not_completions_are_unreadable(body: str, content_type: str) -> None:
    async with FakeOpenAI(api_key=KEY) as llm:
        llm.answer_raw_next(body, content_type=content_type)
        llm.script('{"ok": true}')
        caught = await failure(settings(llm.url, retries=2))
    assert caught.reason.startswith("the LLM endpoint sent an unreadable response (")
    assert len(llm.requests) == 1


async def test_a_completion_without_usage_counts_no_tokens() -> None:
    async with FakeOpenAI(api_key=KEY) as llm:
        llm.answer_raw_next('{"choices": [{"message": {"content": "{\\"ok\\": true}"}}]}')
        result = await ask(settings(llm.url))
    assert result.value.ok is True
    assert (result.usage.tokens_in, result.usage.tokens_out) == (0, 0)


async def test_malformed_model_output_is_reasked_with_the_problem() -> None:
    async with FakeOpenAI(api_key=KEY) as llm:
        llm.script("not json at all", '{"ok": true}')
        result = await ask(settings(llm.url))
    assert result.value.ok is True and result.usage.attempts == 2
    assert result.usage.tokens_out == count_tokens("not json at all") + count_tokens('{"ok": true}')
    reask = llm.requests[1]["messages"]
    assert reask[2] == {"role": "assistant", "content": "not json at all"}
    assert reask[3]["content"].startswith("That reply was not valid: ")


async def test_malformed_output_every_time_escalates_after_the_reasks() -> None:
    async with FakeOpenAI(api_key=KEY) as llm:
        llm.random_faults(seed=2, malformed_rate=1.0)
        llm.responder = lambda request: '{"ok": true}'
        config = settings(llm.url)
        caught = await failure(config)
    assert caught.reason.startswith("the LLM's reply was malformed 3 times (")
    assert len(llm.requests) == config.llm_parse_retries + 1 == 3


def test_an_api_version_without_an_endpoint_is_a_start_up_problem() -> None:
    config = Settings(  # type: ignore[call-arg]
        _env_file=None, openai_api_key=SecretStr(KEY), openai_api_version=API_VERSION
    )
    assert any(p.startswith("OPENAI_API_VERSION is set") for p in problems_for_start(config))


async def test_a_draft_beside_a_classification_waits_behind_other_drafts_when_saturated() -> None:
    # One slot, held by a slow call: the draft made beside a new ticket's classification (its
    # first step) lets a waiting redraft of an older ticket go first, however they queued.
    async with FakeOpenAI(api_key=KEY) as fake:
        fake.set_responder(lambda request: '{"ok": true}')
        model = SupportModel(settings(fake.url).model_copy(update={"llm_concurrency": 1}))
        try:
            fake.delay_next(0.3)
            holder = asyncio.create_task(model.structured(PROMPT, Answer, question="holder"))
            await fake.wait_for_requests(1)
            beside = asyncio.create_task(
                model.structured_first_step(PROMPT, Answer, question="new ticket")
            )
            await asyncio.sleep(0.05)
            later = asyncio.create_task(model.structured(PROMPT, Answer, question="older ticket"))
            await asyncio.gather(holder, beside, later)
        finally:
            await model.close()
        asked = [r["messages"][-1]["content"] for r in fake.requests]
        assert asked == ["holder", "older ticket", "new ticket"]


def test_images_become_image_parts_of_the_user_message_only() -> None:
    rendered = [
        {"role": "system", "content": "rules"},
        {"role": "user", "content": "question"},
    ]
    assert with_images(rendered, ()) == rendered
    url = "data:image/png;base64,AAAA"
    system, user = with_images(rendered, [url, url])
    assert system == {"role": "system", "content": "rules"}
    assert user == {
        "role": "user",
        "content": [
            {"type": "text", "text": "question"},
            {"type": "image_url", "image_url": {"url": url}},
            {"type": "image_url", "image_url": {"url": url}},
        ],
    }
