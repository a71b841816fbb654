"""The Slack and OpenAI fakes for the throughput benchmark, in a process of their own.

``bench/throughput.py`` starts this module as a subprocess so the fakes' work (Block Kit checks,
JSON, fake completions) does not slow the load generator that times the acknowledgements: on a
two-core machine the bot under test, the fakes and the load generator each get a fair share.

It prints one JSON line with the ports, then serves until stdin closes:

* the fake Slack Web API (``bot/sandbox/standin.py``) with every ``chat.postMessage`` also
  noted with its wall-clock arrival time, channel and thread;
* the fake OpenAI API (``tests/fakes/openai_api.py``) answering with :class:`BenchModel`
  after a configurable latency, every completion noted with its start and end times, its
  prompt's kind, the customer's text and its token counts, and the most completions it ever
  had in flight at once;
* a control API: ``GET /posts?since=N``, ``GET /llm?since=N``, ``POST /latency`` (JSON
  ``{"seconds": 2.0}``), ``POST /reset`` (forget notes and stored messages, keep the ports).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from typing import Any

from aiohttp import web

from bot.sandbox.standin import SlackStandIn
from tests.fakes.openai_api import FakeOpenAI, count_tokens

Json = dict[str, Any]

ARTICLE_ID = re.compile(r"^\[article (\d+)\]", re.MULTILINE)
WORD = re.compile(r"[a-z]{4,}")
LATEST = "Customer's latest message:"


def _prompt_kind(system: str) -> str:
    if "You triage customer questions" in system:
        return "classify"
    if "You write replies to customers" in system:
        return "draft"
    return "other"


def _question(user: str) -> str:
    return user.rsplit(LATEST, 1)[-1].strip()


class BenchModel:
    """A confident, obedient model: every question is a simple FAQ (confidence 0.92) and the
    draft answers from the first article it was shown, so whether the bot answers by itself is
    decided by the bot's own retrieval verdict, as in production."""

    def __call__(self, request: Json) -> str:
        messages = request["messages"]
        system = str(messages[0]["content"])
        user = str(messages[-1]["content"])
        kind = _prompt_kind(system)
        question = _question(user)
        if kind == "classify":
            words = list(dict.fromkeys(WORD.findall(question.lower())))[:5]
            return json.dumps(
                {
                    "category": "simple_faq",
                    "confidence": 0.92,
                    "keywords": words,
                    "summary": f"The customer asks: {question[:120]}",
                    "wants_human": False,
                }
            )
        if kind == "draft":
            ids = [int(i) for i in ARTICLE_ID.findall(user)]
            return json.dumps(
                {
                    "answer": "Here is how that works: follow the steps in the linked article, "
                    "and tell us if anything looks different on your screen.",
                    "used_article_ids": ids[:1],
                    "grounded": bool(ids),
                    "missing_information": "",
                }
            )
        return "{}"


class TimedOpenAI(FakeOpenAI):
    """FakeOpenAI with a fixed latency per completion and a note of each one."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.latency = 0.0
        self.notes: list[Json] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        started = time.time()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            body = await request.json()  # aiohttp keeps the body: the parent reads it again
            if self.latency > 0:
                await asyncio.sleep(self.latency)
            response = await super()._chat_completions(request)
        finally:
            self.in_flight -= 1
        self.requests.clear()  # bodies are summarised in notes; keep memory flat
        messages = body.get("messages") or [] if isinstance(body, dict) else []
        system = str(messages[0].get("content")) if messages else ""
        user = str(messages[-1].get("content")) if messages else ""
        prompt_tokens = sum(
            count_tokens(str(m.get("content") or "")) for m in messages if isinstance(m, dict)
        )
        self.notes.append(
            {
                "start": started,
                "end": time.time(),
                "kind": _prompt_kind(system),
                "question": _question(user),
                "prompt_tokens": prompt_tokens,
                "status": response.status,
            }
        )
        return response


class NotingSlack(SlackStandIn):
    """SlackStandIn that notes every chat.postMessage with its wall-clock arrival time."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.post_notes: list[Json] = []
        original = self._methods["chat.postMessage"]

        def noted(args: Json) -> Json:
            self.post_notes.append(
                {
                    "at": time.time(),
                    "channel": args.get("channel"),
                    "thread_ts": args.get("thread_ts"),
                    "text": str(args.get("text") or "")[:200],
                }
            )
            return original(args)

        self._methods["chat.postMessage"] = noted

    def forget(self) -> None:
        self.calls.clear()
        self.messages.clear()
        self._posted.clear()
        self.post_notes.clear()
        self.ephemerals.clear()
        self.views.clear()


def control_app(slack: NotingSlack, llm: TimedOpenAI) -> web.Application:
    async def posts(request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        return web.json_response({"posts": slack.post_notes[since:]})

    async def completions(request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        return web.json_response(
            {"completions": llm.notes[since:], "max_in_flight": llm.max_in_flight}
        )

    async def latency(request: web.Request) -> web.Response:
        body = await request.json()
        llm.latency = float(body["seconds"])
        llm.max_in_flight = llm.in_flight
        return web.json_response({"ok": True})

    async def reset(request: web.Request) -> web.Response:
        slack.forget()
        llm.notes.clear()
        llm.max_in_flight = llm.in_flight
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/posts", posts)
    app.router.add_get("/llm", completions)
    app.router.add_post("/latency", latency)
    app.router.add_post("/reset", reset)
    return app


async def serve(token: str, llm_key: str) -> None:
    slack = NotingSlack(token=token)
    llm = TimedOpenAI(api_key=llm_key, model="gpt-5.4-mini", responder=BenchModel())
    await slack.start()
    await llm.start()
    runner = web.AppRunner(control_app(slack, llm), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    control_port = int(runner.addresses[0][1])
    print(
        json.dumps({"slack_url": slack.url, "llm_url": llm.url, "control_port": control_port}),
        flush=True,
    )
    # Serve until the parent closes our stdin (or dies).
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()
    await llm.stop()
    await slack.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--token", default="xoxb-test")
    parser.add_argument("--llm-key", default="sk-test-key")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.token, args.llm_key))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
