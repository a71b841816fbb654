"""Fast checks that the test fakes behave like the services they stand in for.

Each test drives a fake through the real client library the bot uses (slack_sdk's
AsyncWebClient, openai's AsyncOpenAI, slack_bolt's signature checks and payload parsing), so
a fake that drifts from the real wire format fails here rather than in a bot test.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond, AsyncSay
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.signed import SlackSender, sign
from bot.sandbox.standin import SlackStandIn, validate_blocks, validate_view
from tests.conftest import BotFactory
from tests.fakes.openai_api import EMBEDDING_DIM, FakeOpenAI, fake_embedding

SECRET = "test-signing-secret"


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn() as fake:
        yield fake


@pytest.fixture
async def llm() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(api_key="sk-test") as fake:
        yield fake


def web_client(slack: SlackStandIn, **kwargs: Any) -> AsyncWebClient:
    return AsyncWebClient(token=slack.token, base_url=slack.url, timeout=5, **kwargs)


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


# ---------------------------------------------------------------------- SlackStandIn


async def test_post_and_replies_round_trip_metadata(slack: SlackStandIn) -> None:
    client = web_client(slack)
    auth = await client.auth_test()
    assert (auth["user_id"], auth["team_id"], auth["url"]) == ("UBOT", "THOME", slack.team_url)

    root = slack.add_message("CSUP", None, "How do I export?", "UCUST", team="TCUST")
    metadata = {"event_type": "support_reply", "event_payload": {"key": "ticket-1"}}
    posted = await client.chat_postMessage(
        channel="CSUP", thread_ts=root["ts"], text="Like this.", metadata=metadata
    )
    assert posted["message"]["metadata"] == metadata
    assert float(posted["ts"]) > float(root["ts"])

    with_meta = await client.conversations_replies(
        channel="CSUP", ts=root["ts"], include_all_metadata=True
    )
    assert [m["text"] for m in with_meta["messages"]] == ["How do I export?", "Like this."]
    assert with_meta["messages"][0]["reply_count"] == 1
    assert with_meta["messages"][1]["metadata"] == metadata
    assert with_meta["has_more"] is False

    without = await client.conversations_replies(channel="CSUP", ts=root["ts"])
    assert "metadata" not in without["messages"][1]

    # Only thread roots are in history, newest first; oldest= is compared with wall time.
    top = await client.chat_postMessage(channel="CSUP", text="Announcement")
    history = await client.conversations_history(
        channel="CSUP", oldest=f"{float(root['ts']) - 60:.6f}", include_all_metadata=True
    )
    assert [m["ts"] for m in history["messages"]] == [top["ts"], root["ts"]]

    assert slack.posts("CSUP", thread_ts=root["ts"])[0]["metadata"] == metadata
    assert len(slack.calls_to("chat.postMessage")) == 2


async def test_form_encoded_get_and_auth(slack: SlackStandIn) -> None:
    client = web_client(slack)
    blocks = [section("*hi*")]
    # Form posts carry JSON fields as strings; the fake decodes them.
    await client.api_call(
        "chat.postMessage", data={"channel": "C1", "text": "hi", "blocks": json.dumps(blocks)}
    )
    assert slack.posts("C1")[0]["blocks"] == blocks

    slack.users["UEXT"] = {"team_id": "TOTHER"}
    user = await client.users_info(user="UEXT")
    assert (user["user"]["team_id"], user["user"]["name"]) == ("TOTHER", "uext")
    info = await client.conversations_info(channel="CSUP")
    assert info["channel"]["is_ext_shared"] is False

    with pytest.raises(SlackApiError) as bad_auth:
        await AsyncWebClient(token="xoxb-wrong", base_url=slack.url).auth_test()
    assert bad_auth.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as unknown:
        await client.api_call("chat.frobnicate")
    assert unknown.value.response["error"] == "unknown_method"


async def test_rate_limit_then_success_with_sdk_retry_handler(slack: SlackStandIn) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=0)
    client = web_client(slack, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])
    response = await client.chat_postMessage(channel="C1", text="hello")
    assert response["ok"] is True
    assert [c.status for c in slack.calls if c.method == "chat.postMessage"] == [429, 200]
    assert len(slack.posts("C1")) == 1

    slack.fail_next("chat.postMessage", status=503)
    with pytest.raises(SlackApiError) as unavailable:
        await web_client(slack).chat_postMessage(channel="C1", text="again")
    assert unavailable.value.response.status_code == 503
    assert len(slack.posts("C1")) == 1


async def test_error_next_and_hold(slack: SlackStandIn) -> None:
    client = web_client(slack)
    slack.error_next("chat.postMessage", "channel_not_found")
    with pytest.raises(SlackApiError) as failed:
        await client.chat_postMessage(channel="C1", text="lost")
    assert failed.value.response["error"] == "channel_not_found"
    assert slack.posts() == []

    # Held: Slack stores the message, the caller hears nothing until release.
    slack.hold("chat.postMessage")
    task = asyncio.create_task(client.chat_postMessage(channel="C1", text="limbo"))
    posts = await slack.wait_for_posts(1, channel="C1", timeout=5)
    await slack.wait_for(lambda s: s.held_count("chat.postMessage") == 1, timeout=5)
    assert not task.done()
    slack.release("chat.postMessage")
    response = await asyncio.wait_for(task, 5)
    assert response["ts"] == posts[0]["ts"]

    with pytest.raises(AssertionError, match=r"chat\.postMessage"):
        await slack.wait_for(lambda s: len(s.posts()) > 5, timeout=0.1)


async def test_block_kit_limits(slack: SlackStandIn) -> None:
    client = web_client(slack)
    with pytest.raises(SlackApiError) as too_many:
        await client.chat_postMessage(
            channel="C1", text="x", blocks=[section(f"b{i}") for i in range(51)]
        )
    assert too_many.value.response["error"] == "invalid_blocks"
    assert any("no more than 50 items" in e for e in too_many.value.response["errors"])
    assert slack.posts() == []

    with pytest.raises(SlackApiError) as too_long:
        await client.chat_postMessage(channel="C1", text="x" * 40001)
    assert too_long.value.response["error"] == "msg_too_long"

    assert validate_blocks([section(f"b{i}") for i in range(100)], surface="modal") == []
    assert validate_blocks([section("x" * 3001)], surface="message") == [
        "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"
    ]
    assert validate_blocks(
        [{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}], surface="home"
    )
    button = {"type": "button", "action_id": "go", "text": {"type": "plain_text", "text": "Go"}}
    duplicate = [{"type": "actions", "elements": [button]}, section("s", accessory=button)]
    assert any("already used" in e for e in validate_blocks(duplicate, surface="message"))
    assert validate_blocks([section("")], surface="message")

    modal = {"type": "modal", "title": {"type": "plain_text", "text": "x" * 25}, "blocks": []}
    assert validate_view(modal)
    with pytest.raises(SlackApiError) as bad_view:
        await client.views_open(trigger_id="T1", view=modal)
    assert bad_view.value.response["error"] == "invalid_arguments"
    modal["title"] = {"type": "plain_text", "text": "Edit reply"}
    opened = await client.views_open(trigger_id="T1", view=modal)
    assert opened["view"]["id"].startswith("V")
    assert slack.views[0]["title"]["text"] == "Edit reply"


# ---------------------------------------------------------------------- FakeOpenAI


async def test_chat_completion_and_faults(llm: FakeOpenAI) -> None:
    async with openai.AsyncOpenAI(
        api_key="sk-test", base_url=llm.url, max_retries=0, timeout=5
    ) as client:
        llm.script("scripted reply")
        llm.set_responder(lambda request: "from responder")
        first = await client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "12345678"}]
        )
        assert first.choices[0].message.content == "scripted reply"
        assert first.choices[0].finish_reason == "stop"
        assert first.usage is not None
        assert (first.usage.prompt_tokens, first.usage.completion_tokens) == (2, 4)
        second = await client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "again"}]
        )
        assert second.choices[0].message.content == "from responder"

        llm.fail_next(500)
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "boom"}]
            )
        requests = await llm.wait_for_requests(3)
        assert requests[2]["messages"][0]["content"] == "boom"

        # The timed-out request must not eat the scripted reply meant for the retry.
        llm.delay_next(2)
        llm.script("after timeout")
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "slow"}], timeout=0.3
            )
        retry = await client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "slow"}]
        )
        assert retry.choices[0].message.content == "after timeout"

        models = await client.models.list()
        assert [m.id for m in models.data] == ["gpt-test"]

        embedded = await client.embeddings.create(model="emb", input=["a", "b"])
        assert len(embedded.data) == 2
        assert embedded.data[0].embedding == pytest.approx(fake_embedding("a"), abs=1e-6)
        floats = await client.embeddings.create(model="emb", input="a", encoding_format="float")
        assert len(floats.data[0].embedding) == EMBEDDING_DIM

    async with openai.AsyncOpenAI(api_key="sk-wrong", base_url=llm.url, max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError):
            await bad.models.list()


# ---------------------------------------------------------------------- signed requests


def test_sign_matches_slack_sdk_verifier() -> None:
    body = json.dumps({"type": "event_callback", "text": "héllo & ünïcode"})
    headers = sign(body, SECRET)
    assert SignatureVerifier(SECRET).is_valid_request(body, headers)
    assert not SignatureVerifier("other-secret").is_valid_request(body, headers)
    stale = sign(body, SECRET, timestamp=1_000_000)
    assert not SignatureVerifier(SECRET).is_valid_request(body, stale)


async def test_sender_payloads_parse_in_bolt(slack: SlackStandIn) -> None:
    """A real bolt app verifies and routes every kind of request SlackSender sends."""
    seen: dict[str, Any] = {}
    # process_before_response: handlers finish before the ack, so no waiting on side effects.
    app = AsyncApp(signing_secret=SECRET, client=web_client(slack), process_before_response=True)

    @app.event("message")
    async def on_message(event: dict[str, Any], say: AsyncSay) -> None:
        seen["message"] = event
        await say(text="ack", thread_ts=event["ts"])

    @app.action("approve")
    async def on_approve(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        seen["action"] = body
        await respond(text="approved")

    @app.view("edit")
    async def on_edit(ack: AsyncAck, view: dict[str, Any]) -> None:
        await ack()
        seen["view"] = view

    @app.command("/support")
    async def on_command(ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack(text=f"got {command['text']}")

    runner = web.AppRunner(app.web_app(path="/slack/events"), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        send = SlackSender(
            f"http://127.0.0.1:{port}", SECRET, response_url=slack.response_url, mirror=slack
        )
        status, _, event_id, ts = await send.message_event("CSUP", "UCUST", "help", user_team="TX")
        assert status == 200 and event_id.startswith("Ev")
        reply = (await slack.wait_for_posts(1, channel="CSUP", thread_ts=ts))[0]
        assert reply["text"] == "ack"
        assert seen["message"]["user_team"] == "TX"
        thread = await web_client(slack).conversations_replies(channel="CSUP", ts=ts)
        assert [m["text"] for m in thread["messages"]] == ["help", "ack"]

        status, _ = await send.block_action(
            "UREV", "approve", "42", channel="CESC", message_ts=reply["ts"]
        )
        assert status == 200
        assert seen["action"]["actions"][0]["value"] == "42"
        assert [r["text"] for r in slack.responses] == ["approved"]

        status, _ = await send.view_submission("UREV", "edit", {"b": {"a": "new text"}}, "meta")
        assert status == 200
        assert seen["view"]["state"]["values"]["b"]["a"]["value"] == "new text"
        assert seen["view"]["private_metadata"] == "meta"

        status, text = await send.slash_command("UCUST", "status")
        assert (status, text) == (200, "got status")  # bolt acks text-only as plain text

        status, _ = await send.raw(b"{}", {"Content-Type": "application/json"})
        assert status == 401
    finally:
        await runner.cleanup()


async def test_reactions_get_add_and_remove_answer_as_slack_does(slack: SlackStandIn) -> None:
    client = web_client(slack)
    root = slack.add_message("CSUP", None, "export is broken", "UCUST", team="TCUST")
    reply = slack.add_message("CSUP", None, "still broken", "UCUST", thread_ts=root["ts"])
    got = await client.reactions_get(channel="CSUP", timestamp=reply["ts"], full=True)
    assert (got["type"], got["channel"]) == ("message", "CSUP")
    assert got["message"]["thread_ts"] == root["ts"] and "reactions" not in got["message"]
    assert got["message"]["permalink"].endswith(f"?thread_ts={root['ts']}&cid=CSUP")

    # A person reacts (the app is told; here no app listens) and the bot reacts through the API.
    assert await slack.react("UREV", "CSUP", reply["ts"], "eyes") == {"ok": True}
    await client.reactions_add(channel="CSUP", timestamp=reply["ts"], name="eyes")
    await client.reactions_add(channel="CSUP", timestamp=reply["ts"], name="+1::skin-tone-2")
    got = await client.reactions_get(channel="CSUP", timestamp=reply["ts"])
    assert got["message"]["reactions"] == [
        {"name": "eyes", "users": ["UREV", "UBOT"], "count": 2},
        {"name": "+1::skin-tone-2", "users": ["UBOT"], "count": 1},
    ]
    replies = await client.conversations_replies(channel="CSUP", ts=root["ts"])
    assert replies["messages"][1]["reactions"][0]["count"] == 2

    for call, args, error in [
        (client.reactions_add, {"timestamp": reply["ts"], "name": "eyes"}, "already_reacted"),
        (client.reactions_add, {"timestamp": "1.000001", "name": "eyes"}, "message_not_found"),
        (client.reactions_add, {"timestamp": reply["ts"], "name": ":eyes:"}, "invalid_name"),
        (client.reactions_remove, {"timestamp": reply["ts"], "name": "tada"}, "no_reaction"),
        (client.reactions_get, {"timestamp": "1.000001"}, "message_not_found"),
    ]:
        with pytest.raises(SlackApiError) as refused:
            await call(channel="CSUP", **args)
        assert refused.value.response["error"] == error
    with pytest.raises(SlackApiError) as nothing:
        await client.reactions_get()
    assert nothing.value.response["error"] == "no_item_specified"

    await client.reactions_remove(channel="CSUP", timestamp=reply["ts"], name="eyes")
    assert slack.remove_reaction("UREV", "CSUP", reply["ts"], "eyes") == {"ok": True}
    got = await client.reactions_get(channel="CSUP", timestamp=reply["ts"])
    assert [r["name"] for r in got["message"]["reactions"]] == ["+1::skin-tone-2"]
    # Every answer names the token's scopes, as Slack's do.
    assert "reactions:read" in got.headers["X-OAuth-Scopes"].split(",")


async def test_a_reaction_reaches_the_app_as_a_signed_event(
    make_bot: BotFactory, slack: SlackStandIn
) -> None:
    bot = await make_bot(offline=True)
    ts = await bot.ask("where are my invoices")
    await bot.drained()
    await slack.react("UREVIEWER", "CSUPPORT", ts, "tada")
    (delivered,) = slack.delivered_events
    assert delivered["status"] == 200
    event = delivered["event"]
    assert event["type"] == "reaction_added" and event["reaction"] == "tada"
    assert event["item"] == {"type": "message", "channel": "CSUPPORT", "ts": ts}
    assert event["item_user"] == "UCUSTOMER" and event["user"] == "UREVIEWER"
