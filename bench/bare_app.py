"""The reference floor for ``bench/throughput.py``: a bare Bolt ``AsyncApp`` that answers every
message in its thread with a fixed text.

Served the way the bot serves HTTP mode (Bolt's aiohttp web app on ``/slack/events``, the same
``AsyncWebClient`` against ``SLACK_API_URL``), so the difference between the two is what the
bot itself does: durable jobs, classification, search, drafting and the outbox. Run::

    SLACK_BOT_TOKEN=... SLACK_SIGNING_SECRET=... SLACK_API_URL=... PORT=3000 \\
        python -m bench.bare_app
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

REPLY = "Thanks for your question! Someone will look at it."


def build(token: str, signing_secret: str, api_url: str) -> AsyncApp:
    client = AsyncWebClient(token=token, base_url=api_url, timeout=15)
    app = AsyncApp(client=client, signing_secret=signing_secret)

    @app.event("message")
    async def answer(event: dict[str, Any], say: Any) -> None:
        if event.get("subtype") or event.get("bot_id") or event.get("thread_ts"):
            return
        await say(text=REPLY, thread_ts=event["ts"])

    return app


async def serve() -> None:
    app = build(
        os.environ["SLACK_BOT_TOKEN"],
        os.environ["SLACK_SIGNING_SECRET"],
        os.environ["SLACK_API_URL"],
    )
    port = int(os.environ.get("PORT", "3000"))
    runner = web.AppRunner(app.server(path="/slack/events", port=port).web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, os.environ.get("HOST", "127.0.0.1"), port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(serve())
