"""HTTP mode's front door through the real app: forged, stale, replayed, oversized and
unparseable requests are refused with the right status, logged, and nothing is processed."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from urllib.parse import urlencode

import pytest

from bot.sandbox.signed import FORM_TYPE, JSON_TYPE, sign
from bot.sandbox.standin import SlackStandIn
from bot.slack import ids
from tests.conftest import BotFactory
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.harness import (
    CUSTOMER,
    CUSTOMER_TEAM,
    REVIEWER,
    SIGNING_SECRET,
    SUPPORT,
    RunningBot,
    classification,
    click,
    draft,
    scripted_llm,
)


def message_body(bot: RunningBot, text: str = "How do I export a report?") -> str:
    ts = bot.send.new_ts()
    event = {
        "type": "message",
        "channel": SUPPORT,
        "user": CUSTOMER,
        "text": text,
        "ts": ts,
        "team": CUSTOMER_TEAM,
        "user_team": CUSTOMER_TEAM,
    }
    return json.dumps(bot.send.envelope(event, bot.send.new_event_id()))


async def nothing_processed(bot: RunningBot, slack: SlackStandIn) -> None:
    await bot.drained()
    jobs = await bot.db.fetchall("SELECT kind FROM jobs")
    assert jobs == []
    assert await bot.ticket_states() == []
    assert slack.calls_to("chat.postMessage") == []


@pytest.fixture
async def bot(make_bot: BotFactory, llm: FakeOpenAI) -> RunningBot:
    llm.set_responder(scripted_llm(classification(), draft("Click Export.", [2])))
    return await make_bot()


async def test_a_wrong_signature_is_refused(
    bot: RunningBot, slack: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    body = message_body(bot)
    headers = sign(body, "not-the-secret")
    with caplog.at_level(logging.WARNING, logger="bot.slack.guard"):
        status, text = await bot.send.raw(body, headers)
    assert status == 401 and "invalid_signature" in text
    assert "invalid_signature" in caplog.text
    await nothing_processed(bot, slack)


async def test_a_stale_timestamp_is_refused_even_when_correctly_signed(
    bot: RunningBot, slack: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    body = message_body(bot)
    with caplog.at_level(logging.WARNING, logger="bot.slack.guard"):
        status, text = await bot.send.send(body, timestamp=int(time.time()) - 6 * 60)
        future, _ = await bot.send.send(message_body(bot), timestamp=int(time.time()) + 6 * 60)
    assert status == 401 and future == 401 and "stale_or_bad_timestamp" in text
    assert caplog.text.count("stale_or_bad_timestamp") == 2
    await nothing_processed(bot, slack)


@pytest.mark.parametrize("drop", ["X-Slack-Signature", "X-Slack-Request-Timestamp", "both"])
async def test_missing_headers_are_refused(bot: RunningBot, slack: SlackStandIn, drop: str) -> None:
    body = message_body(bot)
    headers = sign(body, SIGNING_SECRET)
    for name in ("X-Slack-Signature", "X-Slack-Request-Timestamp"):
        if drop in (name, "both"):
            del headers[name]
    status, text = await bot.send.raw(body, headers)
    assert status == 401 and "missing_signature_headers" in text
    await nothing_processed(bot, slack)


async def test_a_replayed_command_is_refused_and_runs_once(
    bot: RunningBot, slack: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    form = urlencode(
        {
            "team_id": "THOME",
            "user_id": REVIEWER,
            "command": "/support",
            "text": "help",
            "channel_id": "C0",
            "trigger_id": "T1.2.3",
            "response_url": "https://hooks.slack.com/commands/THOME/1/fake",
        }
    )
    headers = sign(form, SIGNING_SECRET, content_type=FORM_TYPE)
    first, _ = await bot.send.raw(form, headers)
    with caplog.at_level(logging.WARNING, logger="bot.slack.guard"):
        second, text = await bot.send.raw(form, headers)
    assert first == 200
    assert second == 409 and "replayed_request" in text and "replayed_request" in caplog.text


async def test_a_replayed_message_event_is_acknowledged_and_handled_once(
    bot: RunningBot, slack: SlackStandIn
) -> None:
    body = message_body(bot)
    headers = sign(body, SIGNING_SECRET)
    assert (await bot.send.raw(body, headers))[0] == 200
    # The same signed delivery again: acknowledged (an error would only make Slack send it
    # again), not handled.
    assert (await bot.send.raw(body, headers))[0] == 200
    # Slack's own redelivery is signed anew (a later timestamp), with the same event_id and
    # X-Slack-Retry-Num: acknowledged, and the event id keeps it to one ticket.
    later = int(headers["X-Slack-Request-Timestamp"]) + 1
    retry = sign(body, SIGNING_SECRET, later) | {
        "X-Slack-Retry-Num": "1",
        "X-Slack-Retry-Reason": "http_timeout",
    }
    assert (await bot.send.raw(body, retry))[0] == 200
    await bot.drained()
    assert await bot.ticket_states() == ["answered"]
    assert len(slack.calls_to("chat.postMessage")) == 1


async def test_a_forged_retry_header_does_not_get_a_replay_handled_again(
    bot: RunningBot, slack: SlackStandIn
) -> None:
    """X-Slack-Retry-Num is not signed: anyone replaying a request can add it."""
    event = {
        "type": "app_home_opened",
        "user": REVIEWER,
        "channel": "DREVIEWER",
        "tab": "home",
        "event_ts": f"{time.time():.6f}",
    }
    body = json.dumps(bot.send.envelope(event, bot.send.new_event_id()))
    headers = sign(body, SIGNING_SECRET)
    assert (await bot.send.raw(body, headers))[0] == 200
    await bot.drained()
    assert len(slack.calls_to("views.publish")) == 1
    forged = headers | {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    for _ in range(3):
        assert (await bot.send.raw(body, forged))[0] == 200
    await bot.drained()
    assert len(slack.calls_to("views.publish")) == 1


async def test_identical_clicks_sent_at_once_are_handled_once(
    make_bot: BotFactory, llm: FakeOpenAI, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm.set_responder(
        scripted_llm(
            classification("complex_issue"),
            draft("Please retry the export in an hour.", [2], grounded=False),
        )
    )
    bot = await make_bot()
    ts = await bot.ask("The CSV export crashes every time for our big report!")
    await bot.drained()
    assert await bot.ticket_states() == ["awaiting_review"]
    # One signed Approve click, captured as it would go on the wire, then sent three times.
    captured: list[tuple[str | bytes, dict[str, str]]] = []

    async def capture(body: str | bytes, headers: dict[str, str] | None = None) -> tuple[int, str]:
        captured.append((body, dict(headers or {})))
        return 200, ""

    monkeypatch.setattr(bot.send, "raw", capture)
    await click(bot, ids.ACTION_APPROVE)
    monkeypatch.undo()
    [(body, headers)] = captured
    results = await asyncio.gather(*(bot.send.raw(body, headers) for _ in range(3)))
    assert sorted(status for status, _ in results) == [200, 409, 409]
    await bot.drained()
    rows = await bot.db.fetchall("SELECT state FROM escalations")
    assert [r["state"] for r in rows] == ["approved"]
    replies = [m for m in bot.thread(ts)[1:] if m["text"].startswith("Please retry the export")]
    assert len(replies) == 1
    # Nobody was told "someone already decided": the copies never reached the handler.
    assert slack.ephemerals == [] and slack.responses == []


async def test_an_oversized_body_is_refused(bot: RunningBot, slack: SlackStandIn) -> None:
    body = message_body(bot, "x" * (2 * 1024 * 1024))
    status, _ = await bot.send.send(body)
    assert status == 413
    await nothing_processed(bot, slack)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", JSON_TYPE),
        ("[1, 2, 3]", JSON_TYPE),
        ("\udcff".encode("utf-8", "surrogatepass").decode("latin-1"), JSON_TYPE),
        ("payload=%7Bnot+json", FORM_TYPE),
        ("payload=%5B%5D", FORM_TYPE),
        ("just some text", FORM_TYPE),
    ],
)
async def test_an_unparseable_body_is_refused(
    bot: RunningBot, slack: SlackStandIn, body: str, content_type: str
) -> None:
    status, text = await bot.send.send(body, content_type=content_type)
    assert status == 400 and "unparseable_body" in text
    await nothing_processed(bot, slack)


async def test_after_all_that_a_real_question_still_gets_its_answer(
    bot: RunningBot, slack: SlackStandIn
) -> None:
    for forged in ("{", "payload=x"):
        await bot.send.raw(forged, {"X-Slack-Signature": "v0=00", "X-Slack-Request-Timestamp": "1"})
    ts = await bot.ask("How do I export a report as CSV?")
    await bot.drained()
    assert bot.thread(ts)[0]["text"].startswith("Click Export.")
