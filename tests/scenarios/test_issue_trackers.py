"""Issue trackers through the real app (signed HTTP, the Slack stand-in, and local fakes of
Linear, Jira and GitHub): "Create issue" on a review card files the ticket once with the
customer's question, its summary, a link back to the Slack thread and the ticket id; the card
and the trail link to it; a failure is a card line with "Try again"; a close (a signed webhook,
or a poll in Socket Mode) tells the ticket's owner in the card's thread and offers the customer
a message, sent once when a reviewer sends it; bad signatures and malformed payloads are
refused with a log line, and nothing happens."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.ops.trace import trace_lines
from bot.sandbox.signed import SlackSender
from bot.sandbox.standin import SlackStandIn
from bot.slack import ids
from tests.conftest import BotFactory
from tests.fakes.issue_trackers import FakeTracker, GitHubAPI, JiraAPI, LinearAPI, hmac_hex
from tests.fakes.openai_api import FakeOpenAI
from tests.scenarios.test_cli import run
from tests.utils.harness import (
    CUSTOMER,
    CUSTOMER_TEAM,
    ESCALATION,
    HOME_TEAM,
    OUTSIDER,
    REVIEWER,
    SIGNING_SECRET,
    SUPPORT,
    RunningBot,
    card_buttons,
    card_text,
    classification,
    click,
    draft,
    import_kb,
    settings_for,
)
from tests.utils.process import bot_env, free_port

QUESTION = "hey, the CSV export keeps timing out on big reports 😩 @octocat pls help"
SUMMARY = "CSV export of large reports times out."
SECRET = "whsec-tracker-test"
MODEL_MESSAGE = "Good news: the export timeouts on large reports are fixed. Give it another go!"


def responder(request: dict[str, Any]) -> str:
    system = request["messages"][0]["content"]
    if "You triage customer questions" in system:
        return json.dumps(classification("complex_issue", 0.9, summary=SUMMARY))
    if "You write replies to customers" in system:
        return json.dumps(draft("Let me check that with the team.", [], grounded=False))
    if "that issue is now closed" in system:
        return json.dumps({"message": MODEL_MESSAGE})
    return "{}"


def fake_for(name: str) -> FakeTracker:
    fakes: dict[str, type[FakeTracker]] = {
        "linear": LinearAPI,
        "jira": JiraAPI,
        "github": GitHubAPI,
    }
    return fakes[name]()


def tracker_settings(name: str, fake: FakeTracker, **overrides: Any) -> dict[str, Any]:
    if isinstance(fake, LinearAPI):
        values: dict[str, Any] = {
            "linear_api_key": fake.api_key,
            "linear_team_id": fake.team_id,
            "linear_api_url": fake.url,
        }
    elif isinstance(fake, JiraAPI):
        values = {
            "jira_url": fake.origin,
            "jira_email": fake.email,
            "jira_api_token": fake.api_token,
            "jira_project_key": fake.project,
        }
    else:
        assert isinstance(fake, GitHubAPI)
        values = {
            "github_token": fake.token,
            "github_repo": fake.repo,
            "github_api_url": fake.origin,
        }
    return {"issue_tracker": name, "tracker_webhook_secret": SECRET, **values, **overrides}


async def card_with_tracker(
    make_bot: BotFactory, llm: FakeOpenAI, name: str, fake: FakeTracker, **overrides: Any
) -> tuple[RunningBot, str]:
    llm.set_responder(responder)
    bot = await make_bot(**tracker_settings(name, fake, **overrides))
    ts = await bot.ask(QUESTION)
    await bot.drained()
    assert await bot.ticket_states() == ["awaiting_review"]
    return bot, ts


async def post_webhook(bot: RunningBot, name: str, headers: dict[str, str], body: bytes):
    assert bot.runtime is not None
    url = f"http://127.0.0.1:{bot.runtime.port}/trackers/{name}"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as response,
    ):
        return response.status, await response.json()


async def trail(bot: RunningBot) -> list[str]:
    rows = await bot.db.fetchall("SELECT step FROM ticket_events ORDER BY id")
    return [r["step"] for r in rows]


def ephemerals(slack: SlackStandIn, user: str = REVIEWER) -> list[str]:
    return [c["text"] for c in slack.calls_to("chat.postEphemeral") if c["user"] == user]


def card_thread(bot: RunningBot) -> list[dict[str, Any]]:
    card = bot.cards()[-1]
    return bot.slack.posts(channel=ESCALATION, thread_ts=card["ts"])


@pytest.mark.parametrize("name", ["linear", "jira", "github"])
async def test_create_issue_files_the_ticket_once_and_links_it(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI, name: str
) -> None:
    async with fake_for(name) as fake:
        bot, ts = await card_with_tracker(make_bot, llm, name, fake)
        assert ids.ACTION_CREATE_ISSUE in card_buttons(bot.cards()[-1])

        # Someone who is not a reviewer cannot file it.
        await click(bot, ids.ACTION_CREATE_ISSUE, user=OUTSIDER)
        await bot.drained()
        assert fake.creates() == []
        assert "Only support reviewers" in ephemerals(slack, OUTSIDER)[-1]

        # A double click files one issue.
        await asyncio.gather(
            click(bot, ids.ACTION_CREATE_ISSUE), click(bot, ids.ACTION_CREATE_ISSUE)
        )
        await bot.drained()
        assert len(fake.creates()) == 1 and len(fake.issues) == 1
        issue = fake.issues[0]
        text = issue.text()
        assert "CSV export keeps timing out" in text
        assert SUMMARY in text
        thread_link = f"archives/{SUPPORT}/p{ts.replace('.', '')}"
        assert thread_link in text
        assert "Support ticket #1" in text and "(support #1)" in issue.title
        if name != "jira":  # an @name in the question pings nobody: it is in a code block
            assert "```text\n" + QUESTION in text
        seen = fake.creates()[0]
        if name == "github":
            assert seen.headers["x-github-api-version"] == "2022-11-28"
            assert seen.headers["authorization"] == "Bearer github_pat_test"

        # The card links it and has no "Create issue" any more; the trail records it.
        card = bot.cards()[-1]
        assert issue.key in card_text(card) and issue.url in card_text(card)
        assert ids.ACTION_CREATE_ISSUE not in card_buttons(card)
        steps = await trail(bot)
        assert steps.count("issue_requested") == 1 and steps.count("issue_created") == 1
        row = await bot.db.fetchone("SELECT * FROM tracker_issues")
        assert row is not None and row["issue_key"] == issue.key and row["url"] == issue.url

        # Clicking again (an old card, a second tab) says where the issue is.
        await click(bot, ids.ACTION_CREATE_ISSUE, card=card)
        await bot.drained()
        assert len(fake.issues) == 1
        assert "already has" in ephemerals(slack)[-1] and issue.key in ephemerals(slack)[-1]


@pytest.mark.parametrize(
    ("name", "status", "said"),
    [
        ("jira", 500, "Jira answered HTTP 500"),
        ("github", 503, "GitHub answered HTTP 503"),
        ("linear", 401, "Linear refused the token (HTTP 401): check LINEAR_API_KEY"),
    ],
)
async def test_a_failed_create_says_why_on_the_card_and_try_again_works(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI, name: str, status: int, said: str
) -> None:
    async with fake_for(name) as fake:
        bot, _ts = await card_with_tracker(make_bot, llm, name, fake)
        fake.fail(status, times=None)
        await click(bot, ids.ACTION_CREATE_ISSUE)
        await bot.drained()
        card = bot.cards()[-1]
        assert said in card_text(card)
        assert fake.issues == []
        buttons = card_buttons(card)
        assert ids.ACTION_CREATE_ISSUE in buttons
        labels = [
            e["text"]["text"]
            for b in card["blocks"]
            if b.get("type") == "actions"
            for e in b["elements"]
        ]
        assert "Try again: create issue" in labels
        assert "issue_failed" in await trail(bot)

        fake.heal()
        await click(bot, ids.ACTION_CREATE_ISSUE, card=card)
        await bot.drained()
        assert len(fake.issues) == 1
        card = bot.cards()[-1]
        assert fake.issues[0].key in card_text(card) and said not in card_text(card)


@pytest.mark.parametrize("name", ["linear", "jira", "github"])
async def test_an_issue_filed_but_answered_502_is_not_filed_twice(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI, name: str
) -> None:
    async with fake_for(name) as fake:
        bot, _ts = await card_with_tracker(make_bot, llm, name, fake)
        fake.lose_answer()
        await click(bot, ids.ACTION_CREATE_ISSUE)
        await bot.drained()
        assert len(fake.issues) == 1
        assert "answered HTTP 502" in card_text(bot.cards()[-1])
        lost = fake.issues[0]
        if isinstance(fake, GitHubAPI):
            # Others filed issues since: the lost one is on the listing's second page.
            for n in (2, 3, 4):
                fake.issues.append(
                    replace(lost, issue_id=str(n), key=f"#{n}", number=n, description="other")
                )
        await click(bot, ids.ACTION_CREATE_ISSUE)
        await bot.drained()
        assert len(fake.creates()) == 1, "the second attempt found the first issue"
        assert lost.key in card_text(bot.cards()[-1])
        if isinstance(fake, GitHubAPI):
            pages = [r for r in fake.requests if r.method == "GET" and r.path.endswith("/issues")]
            assert [r.query.get("page") for r in pages] == [None, "2"]


async def test_a_rate_limit_is_waited_out(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    async with GitHubAPI() as fake:
        bot, _ts = await card_with_tracker(make_bot, llm, "github", fake)
        fake.rate_limit(retry_after="1")
        await click(bot, ids.ACTION_CREATE_ISSUE)
        await bot.drained()
        assert [r.path for r in fake.requests].count("/repos/acme/support/issues") == 2
        assert len(fake.issues) == 1


@pytest.mark.parametrize("name", ["linear", "jira", "github"])
async def test_a_closed_issue_tells_the_owner_and_the_customer_once(
    make_bot: BotFactory,
    slack: SlackStandIn,
    llm: FakeOpenAI,
    name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with fake_for(name) as fake:
        bot, ts = await card_with_tracker(make_bot, llm, name, fake)
        await click(bot, ids.ACTION_CLAIM)
        await click(bot, ids.ACTION_CREATE_ISSUE)
        await bot.drained()
        issue = fake.issues[0]
        before = len(bot.thread(ts))

        # A bad signature: 401, a log line, nothing happens.
        fake.close(issue)
        headers, body = fake.webhook(issue, "not-the-secret")  # type: ignore[attr-defined]
        with caplog.at_level(logging.WARNING):
            status, _ = await post_webhook(bot, name, headers, body)
        assert status == 401
        assert "signature does not match TRACKER_WEBHOOK_SECRET" in caplog.text
        await bot.drained()
        row = await bot.db.fetchone("SELECT state FROM tracker_issues")
        assert row is not None and row["state"] == "open"
        assert card_thread(bot) == []

        # Malformed, though signed: 400 and a log line.
        junk = b"{not json"
        signed = dict(headers)
        for header in ("Linear-Signature", "X-Hub-Signature", "X-Hub-Signature-256"):
            if header in signed:
                mac = fake_mac(junk)
                signed[header] = mac if header == "Linear-Signature" else "sha256=" + mac
        status, answer = await post_webhook(bot, name, signed, junk)
        assert status == 400 and "not JSON" in answer["result"]

        # The real one.
        headers, body = fake.webhook(issue, SECRET)  # type: ignore[attr-defined]
        status, _ = await post_webhook(bot, name, headers, body)
        assert status == 200
        await bot.drained()
        notes = card_thread(bot)
        assert len(notes) == 1
        note = notes[0]
        assert f"<@{REVIEWER}>" in note["text"]  # the owner, who claimed it
        assert issue.key in card_text(note)
        assert MODEL_MESSAGE in card_text(note)
        assert len(bot.thread(ts)) == before, "nothing reaches the customer before approval"
        assert "closed" in card_text(bot.cards()[-1])

        # A replay of the same delivery changes nothing.
        status, _ = await post_webhook(bot, name, headers, body)
        assert status == 200
        await bot.drained()
        assert len(card_thread(bot)) == 1

        # Only a reviewer sends it; it is sent once.
        await click(bot, ids.ACTION_ISSUE_TELL, user=OUTSIDER, card=note)
        await bot.drained()
        assert len(bot.thread(ts)) == before
        await asyncio.gather(
            click(bot, ids.ACTION_ISSUE_TELL, card=note),
            click(bot, ids.ACTION_ISSUE_TELL, card=note),
        )
        await bot.drained()
        told = bot.thread(ts)[before:]
        assert [m["text"] for m in told] == [MODEL_MESSAGE]
        assert any("Already sent" in e for e in ephemerals(slack))
        assert "issue_customer_told" in await trail(bot)

        # The ticket's trail (Why?, `report trace`) links the issue and says how it closed.
        repos = bot.runtime.services.repos  # type: ignore[union-attr]
        ticket = await repos.tickets.get(1)
        assert ticket is not None
        timeline = "\n".join(trace_lines(ticket, await repos.trail.for_ticket(1)))
        created = next(line for line in timeline.splitlines() if "issue_created" in line)
        assert REVIEWER in created and f"tracker={name} key={issue.key} url={issue.url}" in created
        closed = next(line for line in timeline.splitlines() if "issue_closed  " in line)
        assert "via=webhook" in closed
        assert "issue_closed@v1" in timeline  # the model's draft, with its prompt and tokens


def fake_mac(body: bytes) -> str:
    return hmac_hex(SECRET, body)


async def test_the_message_can_be_edited_or_not_sent_offline(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    """Offline the message is a plain template; Edit and send sends the reviewer's words."""
    async with JiraAPI() as fake:
        bot = await make_bot(offline=True, **tracker_settings("jira", fake))
        ts = await bot.ask(QUESTION)
        await bot.drained()
        await click(bot, ids.ACTION_CREATE_ISSUE)
        await bot.drained()
        issue = fake.issues[0]
        fake.close(issue, "Won't Do")
        status, _ = await post_webhook(bot, "jira", *fake.webhook(issue, SECRET))
        assert status == 200
        await bot.drained()
        note = card_thread(bot)[0]
        assert "<@UREVIEWER>" in note["text"] and "<@UREVIEWER2>" in note["text"]  # no owner
        assert "closed the issue" in card_text(note) and "fixed" not in card_text(note)
        before = len(bot.thread(ts))
        await click(bot, ids.ACTION_ISSUE_EDIT, card=note)
        view = slack.calls_to("views.open")[-1]["view"]
        status, _ = await bot.send.view_submission(
            REVIEWER,
            ids.VIEW_ISSUE_MESSAGE,
            {
                ids.BLOCK_ISSUE_MESSAGE: {
                    ids.ACTION_ISSUE_MESSAGE: {
                        "type": "plain_text_input",
                        "value": "we closed this one, ping us if it's still bugging you 🙏",
                    }
                }
            },
            private_metadata=view["private_metadata"],
        )
        assert status == 200
        await bot.drained()
        assert [m["text"] for m in bot.thread(ts)[before:]] == [
            "we closed this one, ping us if it's still bugging you 🙏"
        ]
        await click(bot, ids.ACTION_ISSUE_DISMISS, card=note)
        assert "Already sent" in ephemerals(slack)[-1]


async def test_without_a_secret_webhooks_are_refused_and_the_bot_polls(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    async with LinearAPI() as fake:
        bot, _ts = await card_with_tracker(
            make_bot, llm, "linear", fake, tracker_webhook_secret=None, tracker_poll_interval=1
        )
        for text in ("export still broken??", "csv is empty now", "reports page is blank"):
            await bot.ask(text)
        await bot.drained()
        cards = bot.cards()
        assert len(cards) == 4
        for card in cards:
            await click(bot, ids.ACTION_CREATE_ISSUE, card=card)
        await bot.drained()
        assert len(fake.issues) == 4
        for issue in fake.issues[:3]:
            fake.close(issue)
        with caplog.at_level(logging.WARNING):
            status, _ = await post_webhook(bot, "linear", *fake.webhook(fake.issues[0], SECRET))
        assert status == 401 and "TRACKER_WEBHOOK_SECRET is not set" in caplog.text

        def notes() -> list[dict[str, Any]]:
            return [n for c in cards for n in slack.posts(channel=ESCALATION, thread_ts=c["ts"])]

        for _ in range(200):
            if len(notes()) >= 3:
                break
            await asyncio.sleep(0.05)
        await bot.drained()
        assert sorted(n["text"].split(" issue ")[1].split()[0] for n in notes()) == [
            "ENG-1",
            "ENG-2",
            "ENG-3",
        ]
        rows = await bot.db.fetchall("SELECT issue_key, state FROM tracker_issues ORDER BY id")
        assert [r["state"] for r in rows] == ["closed", "closed", "closed", "open"]
        polls = [r.body for r in fake.requests if r.body and "issues(" in str(r.body["query"])]
        assert any(p["variables"].get("after") for p in polls), "the poll read a second page"


async def test_polling_closes_it_in_socket_mode(
    tmp_path: Path, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    llm.set_responder(responder)
    async with GitHubAPI() as fake:
        settings = settings_for(
            tmp_path,
            slack,
            llm,
            slack_app_token=slack.app_token,
            slack_signing_secret=None,
            **tracker_settings("github", fake, tracker_poll_interval=1),
        )
        await import_kb(settings)
        bot = RunningBot(settings, slack)
        await bot.start()
        try:
            builder = SlackSender("http://unused", SIGNING_SECRET, team_id=HOME_TEAM, mirror=slack)
            ts = builder.new_ts()
            event = {
                "type": "message",
                "channel": SUPPORT,
                "user": CUSTOMER,
                "text": QUESTION,
                "ts": ts,
                "team": CUSTOMER_TEAM,
                "user_team": CUSTOMER_TEAM,
            }
            slack.add_message(SUPPORT, ts, QUESTION, CUSTOMER, team=CUSTOMER_TEAM)
            envelope = await slack.socket_send(
                "events_api", builder.envelope(event, builder.new_event_id())
            )
            await slack.socket_ack(envelope)
            await bot.drained()
            card = slack.posts(channel=ESCALATION)[0]
            payload = {
                "type": "block_actions",
                "user": {"id": REVIEWER, "team_id": HOME_TEAM},
                "team": {"id": HOME_TEAM},
                "api_app_id": "AAPP",
                "trigger_id": "T1",
                "channel": {"id": ESCALATION},
                "container": {
                    "type": "message",
                    "channel_id": ESCALATION,
                    "message_ts": card["ts"],
                },
                "message": card,
                "actions": [
                    {
                        "action_id": ids.ACTION_CREATE_ISSUE,
                        "block_id": "more",
                        "type": "button",
                        "value": card_buttons(card)[ids.ACTION_CREATE_ISSUE],
                    }
                ],
            }
            envelope = await slack.socket_send("interactive", payload)
            await slack.socket_ack(envelope)
            await bot.drained()
            assert len(fake.issues) == 1
            fake.close(fake.issues[0], "completed")
            for _ in range(100):
                if slack.posts(channel=ESCALATION, thread_ts=card["ts"]):
                    break
                await asyncio.sleep(0.05)
            await bot.drained()
            notes = slack.posts(channel=ESCALATION, thread_ts=card["ts"])
            assert len(notes) == 1 and "#1" in notes[0]["text"]
            polled = [r for r in fake.requests if r.path == "/repos/acme/support/issues/1"]
            assert polled
        finally:
            await bot.stop()


async def test_doctor_checks_the_trackers_token(
    tmp_path: Path, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    async with JiraAPI() as fake:
        env = bot_env(tmp_path, slack, llm, free_port()) | {
            "SUPPORT_BOT_MODEL": llm.model,
            "ISSUE_TRACKER": "jira",
            "JIRA_URL": fake.origin,
            "JIRA_EMAIL": fake.email,
            "JIRA_API_TOKEN": fake.api_token,
            "JIRA_PROJECT_KEY": fake.project,
            # This checkout's code, whichever checkout the support-bot script was installed from.
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        }
        await run(env, tmp_path, "migrate")
        code, out, _ = await run(env, tmp_path, "doctor")
        assert code == 0, out
        assert "[ok] issue tracker: Jira: the API token is Support Bot's" in out
        assert "TRACKER_WEBHOOK_SECRET is not set" in out
        assert any(r.path == "/rest/api/3/myself" for r in fake.requests)

        env["JIRA_API_TOKEN"] = "jira-wrong-token"
        code, out, _ = await run(env, tmp_path, "doctor")
        assert code == 1
        assert (
            "[FAIL] issue tracker: Jira: Jira refused the token (HTTP 401): check JIRA_EMAIL"
            " and JIRA_API_TOKEN" in out
        )
        assert "jira-wrong-token" not in out

        del env["JIRA_PROJECT_KEY"]
        env["ISSUE_TRACKER"] = "jira,github"
        code, out, _ = await run(env, tmp_path, "doctor")
        assert code != 0
        assert "name exactly one issue tracker" in out + _


async def test_webhooks_for_another_tracker_or_too_large_are_refused_with_a_log_line(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    async with GitHubAPI() as fake:
        bot, _ts = await card_with_tracker(make_bot, llm, "github", fake)
        with caplog.at_level(logging.WARNING):
            status, _ = await post_webhook(bot, "linear", {}, b"{}")
            assert status == 404 and "that tracker is not configured" in caplog.text
            status, _ = await post_webhook(bot, "github", {}, b"x" * (2 * 1024 * 1024))
            assert status == 413 and "github webhook" in caplog.text
        # A signed event the bot does not act on (a ping, a reopened issue, another repo's).
        for headers, body in (
            ({"X-GitHub-Event": "ping"}, b'{"zen": "hi"}'),
            ({"X-GitHub-Event": "issues"}, b'{"action": "reopened", "issue": {"number": 1}}'),
        ):
            signed = {**headers, "X-Hub-Signature-256": "sha256=" + hmac_hex(SECRET, body)}
            status, answer = await post_webhook(bot, "github", signed, body)
            assert status == 200 and answer["result"] == "ignored"
        await click(bot, ids.ACTION_CREATE_ISSUE)
        await bot.drained()
        fake.close(fake.issues[0])
        status, answer = await post_webhook(
            bot, "github", *fake.webhook(fake.issues[0], SECRET, repo="someone/else")
        )
        assert status == 200 and answer["result"] == "ignored"
        await bot.drained()
        assert card_thread(bot) == []


async def test_a_deleted_issue_does_not_stop_the_poll(
    make_bot: BotFactory, slack: SlackStandIn, llm: FakeOpenAI
) -> None:
    async with JiraAPI() as fake:
        bot, _ts = await card_with_tracker(
            make_bot, llm, "jira", fake, tracker_webhook_secret=None, tracker_poll_interval=1
        )
        await bot.ask("and the pdf export too pls")
        await bot.drained()
        for card in bot.cards():
            await click(bot, ids.ACTION_CREATE_ISSUE, card=card)
        await bot.drained()
        gone, kept = fake.issues
        fake.issues.remove(gone)  # someone deleted it in Jira: 404 from now on
        fake.close(kept)
        for _ in range(200):
            row = await bot.db.fetchone(
                "SELECT state FROM tracker_issues WHERE issue_key = ?", (kept.key,)
            )
            if row is not None and row["state"] == "closed":
                break
            await asyncio.sleep(0.05)
        await bot.drained()
        rows = await bot.db.fetchall("SELECT issue_key, state FROM tracker_issues ORDER BY id")
        assert [(r["issue_key"], r["state"]) for r in rows] == [
            (gone.key, "open"),
            (kept.key, "closed"),
        ]
