"""bot/slack_api.py against the Slack stand-in over real HTTP: posts, updates and each failure."""

from __future__ import annotations

import time

import pytest

from bot.sandbox.standin import SlackStandIn
from bot.slack_api import SlackCallFailed, SlackWriter
from tests.utils.harness import BOT_TOKEN, SUPPORT


def writer(slack: SlackStandIn, token: str = BOT_TOKEN) -> SlackWriter:
    return SlackWriter(token, slack.url, timeout=5.0)


async def test_a_post_and_its_update_land_with_every_argument(slack: SlackStandIn) -> None:
    api = writer(slack)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Hi*"}}]
    metadata = {"event_type": "outbox", "event_payload": {"key": "k1"}}
    posted = await api.call(
        "chat.postMessage",
        channel=SUPPORT,
        text="Hi",
        blocks=blocks,
        metadata=metadata,
        thread_ts=None,  # left out, as slack_sdk leaves it out
        unfurl_links=False,
    )
    updated = await api.call("chat.update", channel=SUPPORT, ts=posted["ts"], text="Hi again")
    await api.close()
    assert posted["ok"] and updated["ts"] == posted["ts"]
    args = slack.calls_to("chat.postMessage")[0]
    assert args["blocks"] == blocks and args["metadata"] == metadata
    assert args["unfurl_links"] is False and "thread_ts" not in args
    message = slack.find_message(SUPPORT, posted["ts"])
    assert message is not None and message["text"] == "Hi again"


async def test_slacks_own_errors_come_back_by_name(slack: SlackStandIn) -> None:
    slack.error_next("chat.postMessage", "channel_not_found")
    api = writer(slack)
    with pytest.raises(SlackCallFailed) as failed:
        await api.call("chat.postMessage", channel="CNOPE", text="x")
    assert (failed.value.error, failed.value.status) == ("channel_not_found", 200)
    with pytest.raises(SlackCallFailed) as refused:
        await writer(slack, token="xoxb-wrong").call("chat.postMessage", channel=SUPPORT, text="x")
    assert refused.value.error == "invalid_auth"
    await api.close()


async def test_a_short_rate_limit_is_waited_out_within_the_call(slack: SlackStandIn) -> None:
    slack.fail_next("chat.postMessage", 429, times=2, retry_after=1)
    api = writer(slack)
    started = time.monotonic()
    assert (await api.call("chat.postMessage", channel=SUPPORT, text="x"))["ok"]
    assert time.monotonic() - started >= 2.0  # waited as asked, twice
    assert len(slack.calls_to("chat.postMessage")) == 1
    await api.close()


async def test_a_rate_limit_beyond_the_retries_carries_its_retry_after(slack: SlackStandIn) -> None:
    slack.fail_next("chat.postMessage", 429, retry_after=70)  # too long to wait for here
    api = writer(slack)
    with pytest.raises(SlackCallFailed) as failed:
        await api.call("chat.postMessage", channel=SUPPORT, text="x")
    assert (failed.value.error, failed.value.status, failed.value.retry_after) == (
        "ratelimited",
        429,
        "70",
    )
    assert (await api.call("chat.postMessage", channel=SUPPORT, text="x"))["ok"]
    await api.close()


async def test_a_load_balancers_plain_text_5xx_is_named_by_status(slack: SlackStandIn) -> None:
    slack.fail_next("chat.update", 503)
    api = writer(slack)
    with pytest.raises(SlackCallFailed) as failed:
        await api.call("chat.update", channel=SUPPORT, ts="1.0", text="x")
    assert (failed.value.error, failed.value.status) == ("http_503", 503)
    await api.close()


async def test_block_kit_limits_are_slacks_to_enforce(slack: SlackStandIn) -> None:
    api = writer(slack)
    too_long = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    with pytest.raises(SlackCallFailed) as failed:
        await api.call("chat.postMessage", channel=SUPPORT, text="x", blocks=too_long)
    assert failed.value.error == "invalid_blocks"
    await api.close()
