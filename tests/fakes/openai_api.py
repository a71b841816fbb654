"""A fake OpenAI-compatible API served over real HTTP for end-to-end tests.

This module owns :class:`FakeOpenAI`: an aiohttp server on 127.0.0.1 answering
``POST /v1/chat/completions``, ``GET /v1/models`` (and ``/v1/models/{id}``) and
``POST /v1/embeddings`` with the JSON shapes the real ``openai`` client parses, and the same
as Azure OpenAI serves them (``POST /openai/deployments/{deployment}/chat/completions`` and
``.../embeddings``, ``GET /openai/models``), which want an ``api-key`` header and an
``api-version`` query parameter where OpenAI's paths want ``Authorization: Bearer``. The test
decides what the "model" says (a scripted queue, then a responder function) and can inject
faults: HTTP errors, slow answers (client timeouts) and answers held indefinitely (crashes
mid-call). Malformed model output needs no special support: script a non-JSON string.

For fault runs, :meth:`FakeOpenAI.random_faults` injects faults at seeded random rates: answers
withheld until the client gives up (timeouts), HTTP 500s, model output that is malformed JSON
(a truncated object), and HTTP bodies that are themselves truncated JSON. Every injected fault
is counted by kind in :attr:`FakeOpenAI.injected`.

Only chat-completion bodies are kept in :attr:`FakeOpenAI.requests` (every body that arrived,
including those answered with an injected fault); embedding bodies go to
:attr:`FakeOpenAI.embedding_requests`. Every request's method, path, headers and query
parameters, whatever the route, are kept in :attr:`FakeOpenAI.received`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import math
import random
import ssl
import struct
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.sandbox.local_server import LocalServer

__all__ = ["FakeOpenAI", "Received", "content_text", "count_tokens", "fake_embedding", "image_urls"]

Json = dict[str, Any]
Responder = Callable[[Json], str]

EMBEDDING_DIM = 8
AZURE_PREFIX = "/openai/"


@dataclass(frozen=True)
class Received:
    """One HTTP request as it arrived: header names are lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]


@dataclass(frozen=True)
class _Failure:
    status: int
    retry_after: str | None


@dataclass(frozen=True)
class _RawAnswer:
    status: int
    body: str
    content_type: str


_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


def count_tokens(text: str) -> int:
    """The fake's token count: ceil(characters / 4), close enough to real tokenizers."""
    return math.ceil(len(text) / 4)


IMAGE_TOKENS = 85  # what a low-detail image costs on OpenAI's models


def _content_text(content: object) -> str:
    # Content is a string or a list of parts ({"type": "text", "text": ...}, {"type":
    # "image_url", "image_url": {"url": ...}}): the text parts, joined.
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def content_text(message: object) -> str:
    """A chat message's text, whether its content is a string or a list of content parts."""
    return _content_text(message.get("content")) if isinstance(message, dict) else ""


def image_urls(body: Json) -> list[str]:
    """The image URLs (``data:`` URLs, as the bot sends them) of a chat-completion request's
    messages, in order."""
    urls: list[str] = []
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        for part in content:
            if isinstance(part, dict) and part.get("type") == "image_url":
                image = part.get("image_url")
                if isinstance(image, dict) and isinstance(image.get("url"), str):
                    urls.append(image["url"])
    return urls


def _bad_content(body: Json) -> str | None:
    """Why the messages are not what OpenAI's chat API accepts, or None: content is a string
    or a list of text and image_url parts (images only in user messages)."""
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            return "each message must be an object"
        content = message.get("content")
        if isinstance(content, str):
            continue
        if not isinstance(content, list) or not content:
            return "content must be a string or a non-empty array of content parts"
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                continue
            if kind == "image_url" and message.get("role") == "user":
                url = (part.get("image_url") or {}).get("url")
                if isinstance(url, str) and url.startswith(("data:image/", "https://")):
                    continue
                return "image_url.url must be a data:image/... or https URL"
            return f"unsupported content part {kind!r} in a {message.get('role')} message"
    return None


def fake_embedding(text: str) -> list[float]:
    """A deterministic unit vector of :data:`EMBEDDING_DIM` floats derived from ``text``."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    raw = [(b / 255.0) * 2.0 - 1.0 for b in digest[:EMBEDDING_DIM]]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


# Kinds counted in FakeOpenAI.injected.
FAULT_TIMEOUT = "timeout"
FAULT_500 = "500"
FAULT_MALFORMED_JSON = "malformed_json"
FAULT_MALFORMED_BODY = "malformed_body"


class _RandomFaults:
    def __init__(
        self,
        seed: int | None,
        timeout_rate: float,
        error_rate: float,
        malformed_rate: float,
        malformed_body_rate: float,
        stall_seconds: float,
    ) -> None:
        rates = (timeout_rate, error_rate, malformed_rate, malformed_body_rate)
        if min(rates) < 0 or sum(rates) > 1:
            raise ValueError("fault rates must be >= 0 and add up to at most 1")
        self.rng = random.Random(seed)
        self.table = [
            (FAULT_TIMEOUT, timeout_rate),
            (FAULT_500, error_rate),
            (FAULT_MALFORMED_JSON, malformed_rate),
            (FAULT_MALFORMED_BODY, malformed_body_rate),
        ]
        self.stall_seconds = stall_seconds

    def roll(self) -> str | None:
        roll = self.rng.random()
        for kind, rate in self.table:
            if roll < rate:
                return kind
            roll -= rate
        return None


def _truncated(text: str) -> str:
    """Cut a JSON document short (always unparseable: an object loses its closing brace)."""
    return text[: max(1, len(text) // 2)]


def _error_body(status: int, message: str) -> Json:
    kind, code = _ERROR_TYPES.get(status, ("server_error", None))
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class FakeOpenAI(LocalServer):
    """A fake OpenAI server; see the module docstring.

    Reply precedence for each chat completion: scripted replies (:meth:`script`) in order,
    then :attr:`responder`. With neither, the request is answered with a 500 whose message
    says so, so a test that forgot to set up the model fails loudly.
    """

    name = "FakeOpenAI"

    def __init__(
        self,
        api_key: str = "sk-test",
        model: str = "gpt-test",
        responder: Responder | None = None,
        tls: ssl.SSLContext | None = None,  # serve https (a test's own CA)
    ) -> None:
        super().__init__(tls=tls)
        self.api_key = api_key
        self.model = model
        self.responder: Responder | None = responder
        self.requests: list[Json] = []
        self.embedding_requests: list[Json] = []
        self.received: list[Received] = []
        # True: play a text-only model, answering any request with an image part with a 400.
        self.refuse_images = False
        self._script: deque[str] = deque()
        self._failures: deque[_Failure | _RawAnswer] = deque()
        self._delays: deque[float] = deque()
        self._random: _RandomFaults | None = None
        # Injected faults by kind: "timeout", "500", "malformed_json", "malformed_body" (random
        # ones), "status_<n>" for those queued with fail_next, "raw" for answer_raw_next's.
        self.injected: Counter[str] = Counter()
        self._unhung = asyncio.Event()
        self._unhung.set()
        self._stopping = asyncio.Event()
        self._ids = itertools.count(1)

    # ------------------------------------------------------------------ lifecycle

    def application(self) -> web.Application:
        self._stopping = asyncio.Event()

        @web.middleware
        async def record(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            self.received.append(
                Received(
                    method=request.method,
                    path=request.path,
                    headers={name.lower(): value for name, value in request.headers.items()},
                    query=dict(request.query),
                )
            )
            return await handler(request)

        app = web.Application(middlewares=[record])
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/v1/models/{model}", self._model)
        app.router.add_post("/v1/embeddings", self._embeddings)
        # Azure OpenAI: the deployment in the path, api-key and ?api-version=.
        app.router.add_post(
            "/openai/deployments/{deployment}/chat/completions", self._chat_completions
        )
        app.router.add_post("/openai/deployments/{deployment}/embeddings", self._embeddings)
        app.router.add_get("/openai/models", self._models)
        return app

    async def wake_waiting(self) -> None:
        # Wake delayed and hung handlers so cleanup does not wait on them.
        self._stopping.set()
        self._unhung.set()

    @property
    def url(self) -> str:
        """Base URL for ``AsyncOpenAI(base_url=...)``."""
        return f"{self.origin}/v1"

    @property
    def azure_endpoint(self) -> str:
        """Endpoint for ``AsyncAzureOpenAI(azure_endpoint=...)`` (it appends ``/openai``)."""
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ behaviour

    def script(self, *contents: str) -> None:
        """Queue replies, consumed one per chat completion before the responder is asked."""
        self._script.extend(contents)

    def set_responder(self, fn: Responder | None) -> None:
        self.responder = fn

    def fail_next(self, status: int = 500, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next ``times`` chat completions with ``status`` and OpenAI error JSON.

        ``retry_after`` is sent as the ``Retry-After`` header; a 429 without it says ``0``.
        """
        if retry_after is None and status == 429:
            retry_after = "0"
        self._failures.extend([_Failure(status, retry_after)] * times)

    def answer_raw_next(
        self, body: str, status: int = 200, content_type: str = "application/json"
    ) -> None:
        """Answer the next chat completion with exactly ``body`` (queued with fail_next's)."""
        self._failures.append(_RawAnswer(status, body, content_type))

    def delay_next(self, seconds: float, times: int = 1) -> None:
        """Sleep ``seconds`` before answering the next ``times`` chat completions."""
        self._delays.extend([seconds] * times)

    def random_faults(
        self,
        *,
        seed: int | None = None,
        timeout_rate: float = 0.0,
        error_rate: float = 0.0,
        malformed_rate: float = 0.0,
        malformed_body_rate: float = 0.0,
        stall_seconds: float = 30.0,
    ) -> None:
        """Fault chat completions at random, with a RNG seeded by ``seed``.

        Per request: with ``timeout_rate`` the answer is withheld until the client hangs up
        (or ``stall_seconds`` pass); with ``error_rate`` an HTTP 500 with OpenAI error JSON;
        with ``malformed_rate`` a normal completion whose content is the reply cut short
        (malformed JSON); with ``malformed_body_rate`` an HTTP 200 whose body itself is cut
        short. Queued faults (fail_next, delay_next) come first. :meth:`stop_random_faults`
        ends it.
        """
        self._random = _RandomFaults(
            seed, timeout_rate, error_rate, malformed_rate, malformed_body_rate, stall_seconds
        )

    def stop_random_faults(self) -> None:
        self._random = None

    def hang(self) -> None:
        """Withhold every chat-completion answer until :meth:`unhang` (requests still recorded)."""
        self._unhung.clear()

    def unhang(self) -> None:
        self._unhung.set()

    # ------------------------------------------------------------------ waiting

    async def wait_for_requests(
        self,
        n: int,
        timeout: float = 10.0,
    ) -> list[Json]:
        """Wait until at least ``n`` chat-completion requests arrived; return them all."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < n:
            if time.monotonic() >= deadline:
                models = [r.get("model") for r in self.requests]
                raise AssertionError(
                    f"FakeOpenAI: expected {n} chat completion request(s) within {timeout}s, "
                    f"got {len(self.requests)} (models: {models})"
                )
            await asyncio.sleep(0.02)
        return list(self.requests)

    # ------------------------------------------------------------------ HTTP handlers

    def _authorized(self, request: web.Request) -> bool:
        if request.path.startswith(AZURE_PREFIX):
            return (
                request.headers.get("api-key", "") == self.api_key
                and "Authorization" not in request.headers
                and bool(request.query.get("api-version"))
            )
        return request.headers.get("Authorization", "") == f"Bearer {self.api_key}"

    @staticmethod
    def _gone(request: web.Request) -> bool:
        # The client hung up (e.g. its timeout fired) while we were delaying or hung.
        transport = request.transport
        return transport is None or transport.is_closing()

    async def _stall(self, request: web.Request, seconds: float) -> None:
        """Withhold the answer until the client hangs up, ``seconds`` pass, or stop()."""
        deadline = time.monotonic() + seconds
        while not self._gone(request) and not self._stopping.is_set():
            if time.monotonic() >= deadline:
                return
            await asyncio.sleep(0.05)

    async def _wait(self, seconds: float | None) -> None:
        if seconds is not None:
            stop = asyncio.ensure_future(self._stopping.wait())
            try:
                await asyncio.wait({stop}, timeout=seconds)
            finally:
                stop.cancel()
        if not self._unhung.is_set():
            hung = asyncio.ensure_future(self._unhung.wait())
            stop = asyncio.ensure_future(self._stopping.wait())
            try:
                await asyncio.wait({hung, stop}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                hung.cancel()
                stop.cancel()

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response(_error_body(400, "request body is not JSON"), status=400)
        if not isinstance(body, dict):
            return web.json_response(_error_body(400, "request body must be an object"), status=400)
        self.requests.append(body)
        if not self._authorized(request):
            return web.json_response(_error_body(401, "Incorrect API key provided"), status=401)
        bad = _bad_content(body)
        if bad is not None:
            return web.json_response(_error_body(400, bad), status=400)
        if self.refuse_images and image_urls(body):
            # As a text-only model behind an OpenAI-compatible server answers.
            self.injected["images_refused"] += 1
            return web.json_response(
                _error_body(400, "this model does not support image input"), status=400
            )

        await self._wait(self._delays.popleft() if self._delays else None)
        if self._gone(request):
            # The caller gave up: don't let a dead request consume a scripted reply or fault.
            return web.Response(status=499)
        if self._failures:
            failure = self._failures.popleft()
            if isinstance(failure, _RawAnswer):
                self.injected["raw"] += 1
                return web.Response(
                    status=failure.status, text=failure.body, content_type=failure.content_type
                )
            status = failure.status
            self.injected[f"status_{status}"] += 1
            headers = {"retry-after": failure.retry_after} if failure.retry_after else None
            return web.json_response(
                _error_body(status, f"fake injected failure {status}"),
                status=status,
                headers=headers,
            )
        fault = self._random.roll() if self._random is not None else None
        if fault == FAULT_TIMEOUT:
            assert self._random is not None
            self.injected[FAULT_TIMEOUT] += 1
            await self._stall(request, self._random.stall_seconds)
            return web.Response(status=499 if self._gone(request) else 504)
        if fault == FAULT_500:
            self.injected[FAULT_500] += 1
            return web.json_response(
                _error_body(500, "fake injected failure 500 (random)"), status=500
            )
        if body.get("stream"):
            return web.json_response(
                _error_body(400, "FakeOpenAI does not implement stream=true"), status=400
            )
        if self._script and fault == FAULT_MALFORMED_JSON:
            # Malformed instead of the scripted reply, which stays for the next request.
            content = self._script[0]
        elif self._script:
            content = self._script.popleft()
        elif self.responder is not None:
            try:
                content = self.responder(body)
            except Exception as exc:  # a responder bug should read as a server error
                return web.json_response(_error_body(500, f"responder raised {exc!r}"), status=500)
        else:
            return web.json_response(
                _error_body(500, "FakeOpenAI has no scripted reply and no responder"), status=500
            )
        if fault == FAULT_MALFORMED_JSON:
            self.injected[FAULT_MALFORMED_JSON] += 1
            content = _truncated(content)
        messages = body.get("messages") or []
        prompt_tokens = sum(
            count_tokens(_content_text(m.get("content"))) for m in messages if isinstance(m, dict)
        ) + IMAGE_TOKENS * len(image_urls(body))
        completion_tokens = count_tokens(content)
        completion: Json = {
            "id": f"chatcmpl-fake{next(self._ids):06d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "system_fingerprint": "fp_fake",
        }
        if fault == FAULT_MALFORMED_BODY:
            self.injected[FAULT_MALFORMED_BODY] += 1
            return web.Response(
                status=200,
                text=_truncated(json.dumps(completion)),
                content_type="application/json",
            )
        return web.json_response(completion)

    def _model_object(self, model: str) -> Json:
        return {"id": model, "object": "model", "created": 1700000000, "owned_by": "fake-openai"}

    async def _models(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response(_error_body(401, "Incorrect API key provided"), status=401)
        return web.json_response({"object": "list", "data": [self._model_object(self.model)]})

    async def _model(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response(_error_body(401, "Incorrect API key provided"), status=401)
        model = request.match_info["model"]
        if model != self.model:
            return web.json_response(_error_body(404, f"model {model} not found"), status=404)
        return web.json_response(self._model_object(model))

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response(_error_body(400, "request body is not JSON"), status=400)
        if not isinstance(body, dict):
            return web.json_response(_error_body(400, "request body must be an object"), status=400)
        self.embedding_requests.append(body)
        if not self._authorized(request):
            return web.json_response(_error_body(401, "Incorrect API key provided"), status=401)
        raw_input = body.get("input")
        inputs = raw_input if isinstance(raw_input, list) else [raw_input]
        # Token-id inputs (lists of ints) are hashed via their repr: still deterministic.
        texts = [item if isinstance(item, str) else repr(item) for item in inputs]
        # The openai client asks for base64 unless told otherwise, then decodes float32s.
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for index, text in enumerate(texts):
            vector = fake_embedding(text)
            embedding: list[float] | str = vector
            if as_base64:
                packed = struct.pack(f"<{len(vector)}f", *vector)
                embedding = base64.b64encode(packed).decode("ascii")
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = sum(count_tokens(t) for t in texts)
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body.get("model") or self.model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )
