"""A running bot under test: the real ``BotRuntime`` in HTTP mode, a real database, and the
local Slack and OpenAI fakes, with helpers to send signed requests and wait for outcomes."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from bot.kb.base import KnowledgeBase
from bot.runtime.runtime import BotRuntime
from bot.sandbox.signed import SlackSender
from bot.sandbox.standin import SlackStandIn
from bot.settings.environment import Settings
from bot.slack import ids
from persistence.connect import database_from_url
from persistence.db import Database
from persistence.knowledge import KnowledgeRepository
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.databases import database_url

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test"
LLM_KEY = "sk-test-key"
SUPPORT = "CSUPPORT"
ESCALATION = "CESCALATE"
CUSTOMER = "UCUSTOMER"
CUSTOMER_TEAM = "TCUSTOMER"
REVIEWER = "UREVIEWER"
OTHER_REVIEWER = "UREVIEWER2"
OUTSIDER = "UOUTSIDER"
ADMIN = "UADMIN"
HOME_TEAM = "THOME"
# Jobs due further ahead than this are timers, not work in flight (see RunningBot.drained).
TIMER_HORIZON = 30.0
KB_DIR = Path(__file__).resolve().parent.parent / "data" / "kb"


def settings_for(
    tmp_path: Path, slack: SlackStandIn, llm: FakeOpenAI | None, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack.url,
        "host": "127.0.0.1",
        "port": 0,
        "database_url": database_url(tmp_path),
        "support_channels": [SUPPORT],
        "escalation_channel": ESCALATION,
        "support_reviewers": [REVIEWER, OTHER_REVIEWER],
        "llm_timeout": 2.0,
        "llm_max_retries": 1,
        "job_retry_base_seconds": 0.05,
        "job_lease_seconds": 30.0,
        "digest_hour": None,  # no daily digest card unless a test asks for one
    }
    if llm is not None:
        values["openai_api_key"] = LLM_KEY
        values["openai_base_url"] = llm.url
        values["openai_api_version"] = None  # the fake's OpenAI paths, whatever the shell says
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def import_kb(settings: Settings, path: Path = KB_DIR) -> None:
    db = database_from_url(settings.database_url)
    await db.open()
    try:
        await KnowledgeBase(KnowledgeRepository(db)).import_paths([path])
    finally:
        await db.close()


class RunningBot:
    def __init__(self, settings: Settings, slack: SlackStandIn) -> None:
        self.settings = settings
        self.slack = slack
        self.runtime: BotRuntime | None = None
        self.sender: SlackSender | None = None

    async def start(self) -> RunningBot:
        self.runtime = BotRuntime(self.settings)
        await self.runtime.start()
        url = f"http://127.0.0.1:{self.runtime.port}/slack/events"
        self.sender = SlackSender(url, SIGNING_SECRET, team_id=HOME_TEAM, mirror=self.slack)
        return self

    async def stop(self) -> None:
        if self.runtime is not None:
            await self.runtime.stop()
            self.runtime = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    @property
    def send(self) -> SlackSender:
        assert self.sender is not None
        return self.sender

    @property
    def db(self) -> Database:
        assert self.runtime is not None and self.runtime.db is not None
        return self.runtime.db

    async def ask(self, text: str, *, user: str = CUSTOMER, team: str = CUSTOMER_TEAM, **kw: Any):
        status, _body, _event_id, ts = await self.send.message_event(
            SUPPORT, user, text, user_team=team, team=team, **kw
        )
        assert status == 200, status
        return ts

    async def drained(self, timeout: float = 15.0) -> None:
        """Wait until no job is waiting or running. Retries due soon count as waiting; timers
        due later than ``TIMER_HORIZON`` (reminders, auto-close) do not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = await self.db.fetchone(
                "SELECT COUNT(*) AS n FROM jobs WHERE state = 'running'"
                " OR (state = 'pending' AND available_at <= ?)",
                (time.time() + TIMER_HORIZON,),
            )
            if row is not None and row["n"] == 0:
                return
            await asyncio.sleep(0.03)
        rows = await self.db.fetchall("SELECT kind, dedupe_key, state, last_error FROM jobs")
        raise AssertionError(f"jobs did not drain: {[dict(r) for r in rows]}")

    async def ticket_states(self) -> list[str]:
        rows = await self.db.fetchall("SELECT state FROM tickets ORDER BY id")
        return [r["state"] for r in rows]

    async def ignored_reasons(self) -> list[str]:
        rows = await self.db.fetchall("SELECT reason FROM ignored_messages ORDER BY id")
        return [r["reason"] for r in rows]

    def cards(self) -> list[dict[str, Any]]:
        """Review cards: the top-level posts of the escalation channel (not reminders in their
        threads)."""
        return [m for m in self.slack.posts(channel=ESCALATION) if not m.get("thread_ts")]

    def thread(self, ts: str) -> list[dict[str, Any]]:
        return self.slack.posts(channel=SUPPORT, thread_ts=ts)


async def deliver(
    bot: RunningBot,
    ts: str,
    event_id: str,
    retry: int | None = None,
    text: str = "How do I export a report as CSV?",
) -> int:
    """A customer's question with a fixed ts and event id, as Slack sends (and resends) it."""
    status, _, _, _ = await bot.send.message_event(
        SUPPORT,
        CUSTOMER,
        text,
        ts=ts,
        user_team=CUSTOMER_TEAM,
        team=CUSTOMER_TEAM,
        event_id=event_id,
        retry_num=retry,
    )
    return status


def classification(
    category: str = "simple_faq", confidence: float = 0.9, **extra: Any
) -> dict[str, Any]:
    return {
        "category": category,
        "confidence": confidence,
        "keywords": extra.pop("keywords", ["export", "csv"]),
        "summary": extra.pop("summary", "Customer asks how to export a report."),
        **extra,
    }


def draft(answer: str, used: list[int], grounded: bool = True, missing: str = "") -> dict[str, Any]:
    return {
        "answer": answer,
        "used_article_ids": used,
        "grounded": grounded,
        "missing_information": missing,
    }


def scripted_llm(classify: dict[str, Any] | str, draft_reply: dict[str, Any] | str | None = None):
    """A responder for FakeOpenAI answering the classify and draft prompts by their text."""

    def respond(request: dict[str, Any]) -> str:
        system = request["messages"][0]["content"]
        reply: dict[str, Any] | str | None
        if "You triage customer questions" in system:
            reply = classify
        elif "You write replies to customers" in system:
            reply = draft_reply if draft_reply is not None else "{}"
        else:
            reply = "{}"
        return reply if isinstance(reply, str) else json.dumps(reply)

    return respond


def card_buttons(card: dict[str, Any]) -> dict[str, str]:
    """action_id -> value of the buttons on a posted card (empty once decided)."""
    buttons: dict[str, str] = {}
    for block in card.get("blocks") or []:
        if block.get("type") == "actions":
            for element in block["elements"]:
                buttons[element["action_id"]] = element["value"]
    return buttons


def decision_buttons(card: dict[str, Any]) -> dict[str, str]:
    """The Approve / Edit / Reject buttons still on a card (none once it is decided)."""
    return {k: v for k, v in card_buttons(card).items() if k in ids.REVIEW_ACTIONS}


def card_text(card: dict[str, Any]) -> str:
    parts: list[str] = []
    for block in card.get("blocks") or []:
        if "text" in block and isinstance(block["text"], dict):
            parts.append(block["text"]["text"])
        for element in block.get("elements") or []:
            if isinstance(element.get("text"), str):
                parts.append(element["text"])
    return "\n".join(parts)


async def click(
    bot: RunningBot, action_id: str, *, user: str = REVIEWER, team: str = HOME_TEAM, card=None
) -> tuple[int, str]:
    card = card or bot.cards()[-1]
    value = card_buttons(card).get(action_id) or next(iter(card_buttons(card).values()), "0")
    return await bot.send.block_action(
        user, action_id, value, team_id=team, channel=ESCALATION, message=card
    )
