"""The one Slack client (bot/slack/api.py) against the Slack stand-in over real HTTP: posts and
updates, Slack's errors, and which failures slack_sdk's retry handlers repeat within the call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.standin import SlackStandIn
from bot.settings.network import tls_context
from bot.slack.api import call, slack_session, web_client
from bot.slack.text import slack_error
from tests.utils.harness import BOT_TOKEN, SUPPORT


@pytest.fixture
async def api(slack: SlackStandIn) -> AsyncIterator[AsyncWebClient]:
    context = tls_context()
    session = slack_session(context, timeout=2)
    yield web_client(BOT_TOKEN, slack.url, tls=context, session=session)
    await session.close()


async def test_a_post_and_its_update_land_with_every_argument(
    slack: SlackStandIn, api: AsyncWebClient
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Hi*"}}]
    metadata = {"event_type": "outbox", "event_payload": {"key": "k1"}}
    posted = await call(
        api,
        "chat.postMessage",
        channel=SUPPORT,
        text="Hi",
        blocks=blocks,
        metadata=metadata,
        thread_ts=None,  # left out
        unfurl_links=False,
    )
    updated = await call(api, "chat.update", channel=SUPPORT, ts=posted["ts"], text="Hi again")
    assert posted["ok"] and updated["ts"] == posted["ts"]
    args = slack.calls_to("chat.postMessage")[0]
    assert args["blocks"] == blocks and args["metadata"] == metadata
    assert args["unfurl_links"] is False and "thread_ts" not in args
    message = slack.find_message(SUPPORT, posted["ts"])
    assert message is not None and message["text"] == "Hi again"


async def test_slacks_own_errors_come_back_by_name(
    slack: SlackStandIn, api: AsyncWebClient
) -> None:
    slack.error_next("chat.postMessage", "channel_not_found")
    with pytest.raises(SlackApiError) as failed:
        await call(api, "chat.postMessage", channel="CNOPE", text="x")
    assert slack_error(failed.value) == "channel_not_found"
    wrong = web_client("xoxb-wrong", slack.url, tls=tls_context())
    with pytest.raises(SlackApiError) as refused:
        await call(wrong, "chat.postMessage", channel=SUPPORT, text="x")
    assert slack_error(refused.value) == "invalid_auth"


async def test_a_short_rate_limit_is_waited_out_within_the_call(
    slack: SlackStandIn, api: AsyncWebClient
) -> None:
    slack.fail_next("chat.postMessage", 429, times=2, retry_after=1)
    started = time.monotonic()
    assert (await call(api, "chat.postMessage", channel=SUPPORT, text="x"))["ok"]
    assert time.monotonic() - started >= 2.0  # waited as asked, twice
    assert len(slack.calls_to("chat.postMessage")) == 1


async def test_a_long_rate_limit_is_left_to_the_caller_with_its_retry_after(
    slack: SlackStandIn, api: AsyncWebClient
) -> None:
    slack.fail_next("chat.postMessage", 429, retry_after=70)  # too long to wait for here
    started = time.monotonic()
    with pytest.raises(SlackApiError) as failed:
        await call(api, "chat.postMessage", channel=SUPPORT, text="x")
    assert time.monotonic() - started < 5
    response = failed.value.response
    assert (slack_error(failed.value), response.status_code) == ("ratelimited", 429)
    assert response.headers.get("Retry-After") == "70"
    assert (await call(api, "chat.postMessage", channel=SUPPORT, text="x"))["ok"]


async def test_a_server_error_on_a_post_is_not_repeated_by_the_client(
    slack: SlackStandIn, api: AsyncWebClient
) -> None:
    # Slack may have posted before it failed: repeating blindly could post twice, so the
    # outbox's look-up decides (tests/scenarios/test_delivery_failures.py).
    slack.fail_next_after_store("chat.postMessage")
    with pytest.raises(SlackApiError) as failed:
        await call(api, "chat.postMessage", channel=SUPPORT, text="once")
    assert slack_error(failed.value) == "http_500"
    assert [m["text"] for m in slack.posts(channel=SUPPORT)] == ["once"]


async def test_a_server_error_on_a_read_or_an_update_is_repeated_once(
    slack: SlackStandIn, api: AsyncWebClient
) -> None:
    posted = await call(api, "chat.postMessage", channel=SUPPORT, text="x")
    slack.fail_next("chat.update", 503)
    assert (await call(api, "chat.update", channel=SUPPORT, ts=posted["ts"], text="y"))["ok"]
    slack.fail_next("conversations.history", 500)
    history = await api.conversations_history(channel=SUPPORT)
    assert [m["text"] for m in history["messages"]] == ["y"]
    slack.fail_next("conversations.history", 500, times=2)  # once is all it repeats
    with pytest.raises(SlackApiError) as failed:
        await api.conversations_history(channel=SUPPORT)
    assert slack_error(failed.value) == "http_500"


async def test_a_load_balancers_plain_text_5xx_is_named_by_status(
    slack: SlackStandIn, api: AsyncWebClient
) -> None:
    slack.fail_next("chat.update", 502)
    with pytest.raises(SlackApiError) as failed:
        await call(api, "chat.update", channel=SUPPORT, ts="1.0", text="x")
    assert slack_error(failed.value) == "http_502"


async def test_a_stalled_answer_times_out(slack: SlackStandIn, api: AsyncWebClient) -> None:
    slack.hold("chat.postMessage")
    try:
        with pytest.raises(asyncio.TimeoutError):
            await call(api, "chat.postMessage", channel=SUPPORT, text="x")
        assert len(slack.calls_to("chat.postMessage")) == 1  # not repeated
    finally:
        slack.release("chat.postMessage")


async def test_block_kit_limits_are_slacks_to_enforce(
    slack: SlackStandIn, api: AsyncWebClient
) -> None:
    too_long = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    with pytest.raises(SlackApiError) as failed:
        await call(api, "chat.postMessage", channel=SUPPORT, text="x", blocks=too_long)
    assert slack_error(failed.value) == "invalid_blocks"
