"""The sandbox: the real bot against the Slack stand-in, driven through the page's JSON API over
real HTTP, as the page drives it (every role, offline mode, the example knowledge base)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.sandbox.server import ADMIN, CUSTOMER, ESCALATIONS, REVIEWER, SUPPORT, Sandbox, serve
from tests.utils.process import SUPPORT_BOT, base_env

Json = dict[str, Any]


class Page:
    """What the page does: GET /api/state, POST /api/…"""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def state(self) -> Json:
        async with self.session.get(f"{self.url}/api/state") as response:
            assert response.status == 200
            return dict(await response.json())

    async def post(self, path: str, body: Json, status: int = 200) -> Json:
        async with self.session.post(f"{self.url}/api/{path}", json=body) as response:
            payload = dict(await response.json())
            assert response.status == status, payload
            return payload

    async def until(self, check: Callable[[Json], Any], timeout: float = 15.0) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            state = await self.state()
            found = check(state)
            if found:
                return found
            assert asyncio.get_running_loop().time() < deadline, "the page never showed it"
            await asyncio.sleep(0.05)


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[Page]:
    sandbox = Sandbox(tmp_path / "sandbox")
    (tmp_path / "sandbox").mkdir()
    await sandbox.start()
    runner: web.AppRunner = await serve(sandbox, "127.0.0.1", 0)
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as session:
            yield Page(session, f"http://127.0.0.1:{port}")
    finally:
        await runner.cleanup()
        await sandbox.stop()


def messages(state: Json, channel: str) -> list[Json]:
    return [m for m in state["messages"] if m["channel"] == channel]


def buttons(message: Json) -> dict[str, Json]:
    return {
        e["action_id"]: {"block_id": b.get("block_id"), **e}
        for b in message.get("blocks") or []
        if b["type"] == "actions"
        for e in b["elements"]
    }


async def test_a_question_escalates_and_an_edited_reply_reaches_the_customer(page: Page) -> None:
    sent = await page.post(
        "message",
        {
            "user": CUSTOMER.id,
            "channel": SUPPORT.id,
            "text": (
                "Hi team! I printed a label by mistake yesterday for order #55123, can I still"
                " void it and get my money back?"
            ),
        },
    )
    card = await page.until(lambda s: next(iter(messages(s, ESCALATIONS.id)), None))
    # Offline, the best passage is the draft, and the other sections found are named for the
    # reviewer: the answer is among them.
    assert "Void a label you did not use" in str(card["blocks"])
    holding = await page.until(
        lambda s: [m for m in messages(s, SUPPORT.id) if m["thread_ts"] == sent["ts"]]
    )
    assert "passed it to the team" in holding[0]["text"]

    edit = buttons(card)["escalation_edit"]
    await page.post(
        "action",
        {
            "user": REVIEWER.id,
            "channel": ESCALATIONS.id,
            "message_ts": card["ts"],
            "action_id": edit["action_id"],
            "block_id": edit["block_id"],
            "value": edit["value"],
        },
    )
    modal = await page.until(lambda s: s["modals"].get(REVIEWER.id))
    view = modal["view"]
    assert view["title"]["text"] == "Edit reply"
    field = next(b for b in view["blocks"] if b["type"] == "input")
    # The draft to edit: offline, the passage that shares most words with the message.
    assert "Buy and print" in field["element"]["initial_value"]

    text = "Open the order, click the label and choose Void label (within 14 days)."
    await page.post(
        "submit",
        {
            "user": REVIEWER.id,
            "view_id": view["id"],
            "values": {
                field["block_id"]: {
                    field["element"]["action_id"]: {"type": "plain_text_input", "value": text}
                }
            },
        },
    )
    reply = await page.until(lambda s: [m for m in messages(s, SUPPORT.id) if m["text"] == text])
    assert reply[0]["thread_ts"] == sent["ts"]  # in the customer's thread
    state = await page.state()
    assert REVIEWER.id not in state["modals"]  # the form closed
    # The card is updated by its own delivery, which may land after the reply.
    assert await page.until(lambda s: "Edited reply sent" in messages(s, ESCALATIONS.id)[0]["text"])


async def test_slash_commands_the_home_tab_and_who_sees_what(page: Page) -> None:
    await page.post(
        "command",
        {"user": ADMIN.id, "channel": ESCALATIONS.id, "command": "/support", "text": "status"},
    )
    note = await page.until(
        lambda s: [e for e in s["ephemerals"] if e["user"] == ADMIN.id and "status" in e["text"]]
    )
    assert note[0]["channel"] == ESCALATIONS.id
    await page.post("home", {"user": REVIEWER.id})
    home = await page.until(lambda s: s["home"].get(REVIEWER.id))
    assert home["type"] == "home" and "Support desk" in str(home["blocks"])
    state = await page.state()
    channels = {c["id"]: c for c in state["channels"]}
    assert CUSTOMER.id not in channels[ESCALATIONS.id]["members"]  # customers never see cards
    assert state["mode"].startswith("offline")


@pytest.mark.parametrize(
    ("path", "body", "error"),
    [
        ("message", {"user": "UNOBODY", "channel": SUPPORT.id, "text": "hi"}, "no such person"),
        ("message", {"user": CUSTOMER.id, "channel": ESCALATIONS.id, "text": "hi"}, "is not in"),
        ("message", {"user": CUSTOMER.id, "channel": SUPPORT.id, "text": "  "}, "type a message"),
        (
            "command",
            {"user": ADMIN.id, "channel": SUPPORT.id, "command": "/deploy"},
            "not a command",
        ),
        ("submit", {"user": REVIEWER.id, "view_id": "V404", "values": {}}, "no longer open"),
        (
            "action",
            {
                "user": REVIEWER.id,
                "channel": ESCALATIONS.id,
                "message_ts": "1.2",
                "action_id": "escalation_edit",
            },
            "message is gone",
        ),
    ],
)
async def test_bad_requests_get_a_clear_message(
    page: Page, path: str, body: Json, error: str
) -> None:
    answer = await page.post(path, body, status=400)
    assert answer["ok"] is False and error in answer["error"]


async def test_the_page_and_its_assets_are_served(page: Page) -> None:
    async with page.session.get(page.url + "/") as response:
        assert response.status == 200 and "Support bot sandbox" in await response.text()
    for asset in ("app.js", "style.css"):
        async with page.session.get(f"{page.url}/static/{asset}") as response:
            assert response.status == 200 and len(await response.read()) > 1000
    async with page.session.post(
        page.url + "/api/message", data="not json", headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 400 and "not JSON" in (await response.json())["error"]


# -- only the sandbox's own page drives it ---------------------------------------------------

ASK = {"user": CUSTOMER.id, "channel": SUPPORT.id, "text": "Where is my invoice?"}


async def test_a_post_from_another_site_is_refused_and_nothing_happens(page: Page) -> None:
    async with page.session.post(
        f"{page.url}/api/message", json=ASK, headers={"Origin": "https://evil.example"}
    ) as response:
        assert response.status == 403
        assert "only takes requests from its own page" in (await response.json())["error"]
    # Nor a page on another port of this machine.
    async with page.session.post(
        f"{page.url}/api/home", json={"user": REVIEWER.id}, headers={"Origin": "http://127.0.0.1:1"}
    ) as response:
        assert response.status == 403
    state = await page.state()
    assert state["messages"] == [] and state["home"] == {}


async def test_a_request_for_another_host_name_is_refused(page: Page) -> None:
    """DNS rebinding: evil.example resolves to 127.0.0.1, and its page reads the sandbox."""
    for path in ("/api/state", "/"):
        async with page.session.get(page.url + path, headers={"Host": "evil.example"}) as response:
            assert response.status == 403
            assert "only answers at http://127.0.0.1:" in (await response.json())["error"]
    async with page.session.post(
        f"{page.url}/api/message", json=ASK, headers={"Host": "evil.example:80"}
    ) as response:
        assert response.status == 403
    assert (await page.state())["messages"] == []


async def test_a_json_post_must_say_it_is_json(page: Page) -> None:
    """A cross-site form or fetch can send text/plain without asking the sandbox first."""
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        async with page.session.post(
            f"{page.url}/api/message",
            data=json.dumps(ASK),
            headers={"Content-Type": content_type},
        ) as response:
            assert response.status == 415
            assert "Content-Type: application/json" in (await response.json())["error"]
    assert (await page.state())["messages"] == []


async def test_the_pages_own_requests_still_work(page: Page) -> None:
    port = page.url.rsplit(":", 1)[1]
    for origin in (page.url, f"http://localhost:{port}"):
        host = origin.removeprefix("http://")
        async with page.session.get(f"{page.url}/api/state", headers={"Host": host}) as response:
            assert response.status == 200
        async with page.session.post(
            f"{page.url}/api/message",
            json={**ASK, "text": f"Asked from {origin}"},
            headers={"Origin": origin, "Host": host},
        ) as response:
            assert response.status == 200, await response.text()
    texts = {m["text"] for m in (await page.state())["messages"]}
    assert {f"Asked from {page.url}", f"Asked from http://localhost:{port}"} <= texts


async def test_support_bot_sandbox_runs_without_any_slack_settings(tmp_path: Path) -> None:
    """The command a newcomer runs: no tokens, no key; it says where to look and stops
    cleanly on SIGTERM."""
    proc = await asyncio.create_subprocess_exec(
        SUPPORT_BOT,
        "sandbox",
        "--port",
        "0",
        "--dir",
        str(tmp_path / "box"),
        env=base_env(tmp_path),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = ""
        while "Sandbox running" not in line:
            raw = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
            assert raw, "the sandbox exited before it was ready"
            line = raw.decode()
        assert "offline" in line
        url = re.search(r"http://\S+/", line)
        assert url is not None
        async with (
            aiohttp.ClientSession() as session,
            session.get(url.group(0) + "api/state") as response,
        ):
            state = await response.json()
        assert {c["name"] for c in state["channels"]} == {"acme-help", "support-escalations"}
        assert (tmp_path / "box" / "sandbox.db").exists()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=30) == 0


async def test_with_an_openai_key_the_sandbox_uses_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakes.openai_api import FakeOpenAI
    from tests.utils.harness import LLM_KEY, classification, draft, scripted_llm

    shipping_labels = 5  # article ids follow the sorted file names in bot/sandbox/kb
    answer = "Open the order, click the label and choose Void label within 14 days."
    async with FakeOpenAI(api_key=LLM_KEY) as llm:
        llm.set_responder(
            scripted_llm(
                classification(keywords=["void", "label"], summary="How to void a label."),
                draft(answer, [shipping_labels]),
            )
        )
        monkeypatch.setenv("OPENAI_BASE_URL", llm.url)
        (tmp_path / "box").mkdir()
        sandbox = Sandbox(tmp_path / "box", llm_key=LLM_KEY)
        await sandbox.start()
        runner = await serve(sandbox, "127.0.0.1", 0)
        try:
            async with aiohttp.ClientSession() as session:
                page = Page(session, f"http://127.0.0.1:{runner.addresses[0][1]}")
                assert (await page.state())["mode"].startswith("the real model")
                sent = await page.post(
                    "message",
                    {"user": CUSTOMER.id, "channel": SUPPORT.id, "text": "How do I void a label?"},
                )
                reply = await page.until(
                    lambda s: [
                        m
                        for m in messages(s, SUPPORT.id)
                        if m["thread_ts"] == sent["ts"] and answer in (m["text"] or "")
                    ]
                )
                assert "Shipping labels" in reply[0]["text"]  # it names its source
                assert messages(await page.state(), ESCALATIONS.id) == []  # answered by itself
                assert len(llm.requests) == 2  # classified, then drafted
        finally:
            await runner.cleanup()
            await sandbox.stop()


async def test_make_run_without_a_slack_token_starts_the_sandbox_and_says_so(
    tmp_path: Path,
) -> None:
    root = Path(__file__).resolve().parents[2]
    env = {**base_env(tmp_path), "PYTHON": str(Path(SUPPORT_BOT).with_name("python"))}
    proc = await asyncio.create_subprocess_exec(
        "make",
        "--no-print-directory",
        "run",
        "ENV_FILE=/nonexistent",
        f"SANDBOX_ARGS=--port 0 --dir {tmp_path / 'box'}",
        env=env,
        cwd=root,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        seen = ""
        while "Sandbox running" not in seen:
            raw = await asyncio.wait_for(proc.stdout.readline(), timeout=120)
            assert raw, f"make run ended early: {seen}"
            seen += raw.decode()
        assert "No Slack token configured (SLACK_BOT_TOKEN): starting the sandbox" in seen
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), timeout=30)


async def test_each_run_starts_with_a_fresh_workspace(tmp_path: Path) -> None:
    (tmp_path / "box").mkdir()
    first = Sandbox(tmp_path / "box")
    await first.start()
    try:
        await first.say(
            {"user": CUSTOMER.id, "channel": SUPPORT.id, "text": "Where is my invoice?"}
        )
        assert first.runtime is not None
        await asyncio.sleep(0.5)
    finally:
        await first.stop()
    again = Sandbox(tmp_path / "box")
    await again.start()
    try:
        assert again.state()["messages"] == []
        assert again.runtime is not None and again.runtime.db is not None
        row = await again.runtime.db.fetchone("SELECT COUNT(*) AS n FROM tickets")
        assert row is not None and row["n"] == 0  # no ticket pointing at a vanished thread
        articles = await again.runtime.db.fetchone("SELECT COUNT(*) AS n FROM kb_articles")
        assert articles is not None and articles["n"] == 6  # the example knowledge base
    finally:
        await again.stop()


async def test_the_customer_rates_the_conversation_from_the_page(page: Page) -> None:
    """An admin turns the survey on, a reviewer resolves, and Dana presses a score and writes a
    comment in the page, as in Slack."""
    await page.post(
        "command",
        {
            "user": ADMIN.id,
            "channel": ESCALATIONS.id,
            "command": "/support",
            "text": f"csat on <#{SUPPORT.id}|{SUPPORT.name}>",
        },
    )
    await page.until(lambda s: [e for e in s["ephemerals"] if "From now on" in e["text"]])
    sent = await page.post(
        "message",
        {"user": CUSTOMER.id, "channel": SUPPORT.id, "text": "hey, can i void a label i printed?"},
    )
    card = await page.until(lambda s: next(iter(messages(s, ESCALATIONS.id)), None))
    resolve = buttons(card)["ticket_resolve"]
    await page.post(
        "action",
        {
            "user": REVIEWER.id,
            "channel": ESCALATIONS.id,
            "message_ts": card["ts"],
            "action_id": resolve["action_id"],
            "block_id": resolve["block_id"],
            "value": resolve["value"],
        },
    )

    def survey(state: Json) -> Json | None:
        thread = [m for m in messages(state, SUPPORT.id) if m["thread_ts"] == sent["ts"]]
        return next((m for m in thread if "How did we do?" in m["text"]), None)

    asked = await page.until(survey)
    four = buttons(asked)["csat_rate.4"]
    await page.post(
        "action",
        {
            "user": CUSTOMER.id,
            "channel": SUPPORT.id,
            "message_ts": asked["ts"],
            "action_id": four["action_id"],
            "block_id": four["block_id"],
            "value": four["value"],
        },
    )
    note = await page.until(
        lambda s: [e for e in s["ephemerals"] if e["user"] == CUSTOMER.id and "4/5" in e["text"]]
    )
    assert note[0]["channel"] == SUPPORT.id
    rated = await page.until(lambda s: (m := survey(s)) and "csat_comment" in buttons(m) and m)
    add = buttons(rated)["csat_comment"]
    await page.post(
        "action",
        {
            "user": CUSTOMER.id,
            "channel": SUPPORT.id,
            "message_ts": rated["ts"],
            "action_id": add["action_id"],
            "block_id": add["block_id"],
            "value": add["value"],
        },
    )
    modal = await page.until(lambda s: s["modals"].get(CUSTOMER.id))
    view = modal["view"]
    field = next(b for b in view["blocks"] if b["type"] == "input")
    await page.post(
        "submit",
        {
            "user": CUSTOMER.id,
            "view_id": view["id"],
            "values": {
                field["block_id"]: {
                    field["element"]["action_id"]: {
                        "type": "plain_text_input",
                        "value": "super quick, thx 🙏",
                    }
                }
            },
        },
    )
    thanks = await page.until(
        lambda s: (m := s["modals"].get(CUSTOMER.id)) and "comment was recorded" in str(m) and m
    )
    assert thanks
    # The reviewer sees it in the numbers.
    await page.post(
        "command",
        {"user": REVIEWER.id, "channel": ESCALATIONS.id, "command": "/support", "text": "stats 1d"},
    )
    assert await page.until(
        lambda s: [e for e in s["ephemerals"] if "Satisfaction: 4.0/5 from 1" in e["text"]]
    )


async def test_a_teammate_reacts_on_the_page_and_the_bot_acts_on_it(page: Page) -> None:
    # Dana's thanks is nothing for the bot to answer; Riley opens a ticket for it anyway.
    sent = await page.post(
        "message", {"user": CUSTOMER.id, "channel": SUPPORT.id, "text": "thanks so much!! 🙏"}
    )
    await page.post(
        "react", {"user": REVIEWER.id, "channel": SUPPORT.id, "ts": sent["ts"], "name": ":ticket:"}
    )
    card = await page.until(lambda s: next(iter(messages(s, ESCALATIONS.id)), None))
    assert f"Opened by <@{REVIEWER.id}> with :ticket:" in str(card["blocks"])
    shown = next(m for m in messages(await page.state(), SUPPORT.id) if m["ts"] == sent["ts"])
    assert shown["reactions"] == [{"name": "ticket", "users": [REVIEWER.id], "count": 1}]

    # The same emoji twice, a message that is not there, no emoji: each says why.
    twice = await page.post(
        "react",
        {"user": REVIEWER.id, "channel": SUPPORT.id, "ts": sent["ts"], "name": "ticket"},
        status=400,
    )
    assert twice["error"] == "Slack says already_reacted"
    gone = {"user": REVIEWER.id, "channel": SUPPORT.id, "ts": "1.000001", "name": "eyes"}
    assert "gone" in (await page.post("react", gone, status=400))["error"]
    empty = {"user": REVIEWER.id, "channel": SUPPORT.id, "ts": sent["ts"], "name": " "}
    assert "pick an emoji" in (await page.post("react", empty, status=400))["error"]

    # Taking it off again is the reactor's own toggle.
    await page.post(
        "react",
        {
            "user": REVIEWER.id,
            "channel": SUPPORT.id,
            "ts": sent["ts"],
            "name": "ticket",
            "remove": True,
        },
    )
    shown = next(m for m in messages(await page.state(), SUPPORT.id) if m["ts"] == sent["ts"])
    assert shown["reactions"] == []


def card_text(card: Json) -> str:
    return json.dumps(card["blocks"])


async def test_the_page_attaches_files_to_a_customer_message(page: Page) -> None:
    log = b"2024-05-01 ERROR label printer: void failed for order 55123\n"
    sent = await page.post(
        "message",
        {
            "user": CUSTOMER.id,
            "channel": SUPPORT.id,
            "text": "cant void my label, log + backup attached",
            "files": [
                {
                    "name": "printer.log",
                    "mimetype": "text/plain",
                    "data": base64.b64encode(log).decode(),
                },
                {
                    "name": "backup.zip",
                    "mimetype": "application/zip",
                    "data": base64.b64encode(b"PK\x03\x04").decode(),
                },
            ],
        },
    )
    state = await page.state()
    asked = next(m for m in messages(state, SUPPORT.id) if m["ts"] == sent["ts"])
    assert [f["name"] for f in asked["files"]] == ["printer.log", "backup.zip"]
    assert asked["files"][0]["size"] == len(log)
    card = await page.until(lambda s: next(iter(messages(s, ESCALATIONS.id)), None))
    text = card_text(card)
    # Offline (no model): both are listed, neither read, and the card says so.
    assert "printer.log" in text and "backup.zip" in text
    assert "zip files are not read" in text
    assert "2 files not read" in text


async def test_a_message_of_only_a_file_is_sent_and_bad_file_data_is_refused(page: Page) -> None:
    image = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32).decode()
    sent = await page.post(
        "message",
        {
            "user": CUSTOMER.id,
            "channel": SUPPORT.id,
            "text": "",
            "files": [{"name": "screen.png", "mimetype": "image/png", "data": image}],
        },
    )
    assert sent["ok"]
    card = await page.until(lambda s: next(iter(messages(s, ESCALATIONS.id)), None))
    assert "1 screenshot not read" in card_text(card)
    refused = await page.post(
        "message",
        {
            "user": CUSTOMER.id,
            "channel": SUPPORT.id,
            "text": "hi",
            "files": [{"name": "x.txt", "mimetype": "text/plain", "data": "%%% not base64"}],
        },
        status=400,
    )
    assert refused == {"ok": False, "error": "x.txt: its data is not base64"}
    nothing = await page.post(
        "message", {"user": CUSTOMER.id, "channel": SUPPORT.id, "text": " "}, status=400
    )
    assert nothing["error"] == "type a message or attach a file first"
