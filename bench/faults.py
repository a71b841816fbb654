"""Fault run: the real bot process under SIGKILLs, Slack 429/500s and LLM failures.

Run from the repository root (a benchmark, not a test; ``tests/scenarios/test_faults.py``
runs a short version of the same code and checks the same invariants)::

    .venv/bin/python -m bench.faults [--messages 300] [--kills 20] [--seed N] [--quick]
                                     [--eager-follow-ups SHARE] [--workdir DIR] [--out PATH]
                                     [--replicas N] [--backend sqlite|postgresql]
                                     [--database-url URL] [--slow-reviews SHARE]
                                     [--refusing-channel]

What happens:

* The fake Slack and fake OpenAI servers (``tests/fakes``) run in this process. The fake Slack
  answers ``chat.postMessage``/``chat.update`` with 429 (``Retry-After``), 500, and 500 *after*
  storing the message at seeded random rates; the fake LLM times out, answers 500, returns
  malformed JSON as the model's output, and returns a truncated HTTP body at random.
* The real bot runs as a subprocess (``support-bot start``, HTTP mode, a real SQLite file) with
  ``tests/data/kb`` imported. With ``--replicas N`` (and ``--backend postgresql``: a throwaway
  server) N bot processes share one database; every event and click goes to a random one, as
  Slack spreads them over the app's connections, and each kill takes a random one down.
  Yesterday is seeded with one question, so the daily digest is due at every start: it must be
  posted exactly once. ``--slow-reviews`` leaves some cards alone for a few seconds with
  reminders every second: each reminder must be posted once, whichever replica's timer fires.
* With ``--refusing-channel`` the bot watches a second support channel, and part-way through
  the stream Slack starts answering ``not_in_channel`` to every ``chat.postMessage`` there (the
  bot was removed from it; customers keep writing, as if Slack still delivered their messages).
  Every reply the bot could not deliver must be *surfaced*: a ``delivery_failed`` step on the
  ticket's trail and, in the escalation channel, its card saying "not delivered" or a notice
  saying so. A refused reply that is not surfaced counts as lost.
* Customers post questions (some the scripted model answers, some it escalates) and follow-ups
  in their threads after the bot replied; reviewers act on every review card as it appears
  (Approve, Edit and submit, two reviewers approving at once, an approval racing an edit).
  With ``--eager-follow-ups SHARE`` that share of follow-ups is written before the bot replied,
  possibly while Slack is still retrying the question itself (delivered out of order).
  Everything goes through signed HTTP requests; an event that fails (the bot is down, or no
  answer in Slack's 3 seconds) is sent again with the same ``event_id`` and ts and
  ``X-Slack-Retry-Num``, as Slack does; a click that fails is clicked again.
* Meanwhile the bot is SIGKILLed at random moments (``--kills`` times while the stream flows,
  the last one after the last message was sent, plus some kills during start-up) and restarted.
* After the last restart the run waits for the queue to drain and every card to be decided,
  then checks the fake Slack's record and the bot's database: every question has exactly one
  outcome per round (an answer in its thread, or a holding reply and one card), every
  follow-up is on its ticket and handled, no outbox key was posted twice and no text appears
  twice in a thread, every approved or edited reply was delivered exactly once with the right
  text, and nothing was lost. Lost: a customer question that ends with neither an answer in
  its thread, nor an escalation card, nor a surfaced delivery failure, nor a recorded reason to
  ignore it.

It prints the figures and writes them as JSON to ``bench/results/faults.json``
(``faults-quick.json`` with ``--quick``; ``-refusing-channel`` is added to the name with that
variant). The exit status is 1 when anything was duplicated or lost, 2 when the run could not
complete.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import random
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp

from bench.harness import bench_command, progress_log, work_folder, write_json
from bot.review.deliveries import PURPOSE_WORDS
from bot.sandbox.signed import SlackSender
from bot.sandbox.standin import SlackStandIn
from bot.slack import ids
from persistence.connect import database_from_url
from persistence.db import Database, Row
from persistence.jobs import chain_root
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.databases import postgres_server
from tests.utils.harness import (
    BOT_TOKEN,
    CUSTOMER_TEAM,
    ESCALATION,
    HOME_TEAM,
    KB_DIR,
    LLM_KEY,
    OTHER_REVIEWER,
    REVIEWER,
    SIGNING_SECRET,
    SUPPORT,
    TIMER_HORIZON,
    card_text,
    decision_buttons,
)
from tests.utils.process import SUPPORT_BOT, BotProcess, bot_env, free_port

Json = dict[str, Any]

RESULTS = Path(__file__).resolve().parent / "results"
REVIEWERS = (REVIEWER, OTHER_REVIEWER, "UREVIEWER3", "UREVIEWER4")
# Slack gives up on a request after 3 seconds and retries the event.
SLACK_TIMEOUT = 3.0
IN_PROGRESS = ("received", "classified", "retrieved", "drafted")
HOLDING_KEY = re.compile(r"^ticket:(\d+):round:(\d+):holding$")
# --refusing-channel: the second support channel, and what Slack answers there once it refuses.
REFUSING = "CSUPPORT2"
REFUSAL = "not_in_channel"


# ---------------------------------------------------------------------------- configuration


@dataclass
class FaultRunConfig:
    messages: int = 300
    kills: int = 20
    seed: int = 1
    # Mean gap between two customer messages (uniform between 0 and twice this).
    message_gap: float = 0.2
    follow_up_share: float = 0.25  # of messages: follow-ups in a thread the bot answered in
    # Of follow-ups: ones written before the bot replied (the customer adds a detail at once).
    eager_follow_up_share: float = 0.0
    escalate_share: float = 0.35  # of new questions: ones the scripted model escalates
    # Of kills: an extra SIGKILL while the restarted bot is still starting up.
    startup_kill_share: float = 0.15
    # Seconds the bot stays up, at least, before a kill (then a random extra up to kill_jitter).
    min_uptime: float = 0.2
    kill_jitter: float = 1.8
    slack_429: float = 0.05
    slack_500: float = 0.03
    slack_500_after_store: float = 0.03
    llm_timeout: float = 0.03
    llm_500: float = 0.04
    llm_malformed_json: float = 0.04
    llm_malformed_body: float = 0.01
    # The bot's LLM timeout: a stalled answer costs this long.
    bot_llm_timeout: float = 1.5
    drain_timeout: float = 240.0
    # How long to keep watching after the drain, so a late duplicate can show itself.
    settle_seconds: float = 2.0
    workdir: Path | None = None
    progress: bool = True
    # Bot processes sharing one database; each event and click goes to a random one, and each
    # kill takes a random one down. More than one wants PostgreSQL (--backend postgresql).
    replicas: int = 1
    # Unset: the test suite's choice (a SQLite file in the work folder, or a database on the
    # throwaway PostgreSQL with SUPPORT_BOT_TEST_BACKEND=postgresql).
    database_url: str | None = None
    # Of review cards: ones nobody acts on for slow_review_seconds, so reminders fire.
    slow_review_share: float = 0.0
    slow_review_seconds: float = 4.0
    # REVIEW_REMINDER of the bots when slow reviews are asked for.
    review_reminder_seconds: float = 1.0
    # A second support channel (REFUSING) that starts refusing the bot's posts (REFUSAL) once
    # this share of the messages was sent; new questions go there with refusing_channel_share.
    refusing_channel: bool = False
    refuse_after_share: float = 0.4
    refusing_channel_share: float = 0.5

    @classmethod
    def quick(cls, **overrides: Any) -> FaultRunConfig:
        values: dict[str, Any] = {"messages": 40, "kills": 4, "message_gap": 0.12}
        values.update(overrides)
        return cls(**values)


# ---------------------------------------------------------------------------- the customers


@dataclass(frozen=True)
class Topic:
    """A customer message the scripted model knows: how it classifies it and what it answers."""

    text: str
    kind: Literal["faq", "escalate", "person"]
    article: int  # ids follow the sorted file names in tests/data/kb
    keywords: tuple[str, ...]


# Questions the model answers (confident simple FAQs whose article fits), and questions it
# escalates (bugs, billing problems: category complex_issue). Retrieval "fits" all FAQ texts.
FAQ = (
    Topic("How do I export a report as CSV?", "faq", 2, ("export", "csv", "report")),
    Topic("Can I download a report as a CSV file?", "faq", 2, ("export", "csv", "report")),
    Topic("How can I export a report as PDF?", "faq", 2, ("export", "pdf", "report")),
    Topic("Where do I schedule a weekly export?", "faq", 2, ("schedule", "weekly", "export")),
    Topic("I forgot my password, how do I reset it?", "faq", 3, ("reset", "password", "forgot")),
    Topic("How do I reset my password?", "faq", 3, ("reset", "password", "forgot")),
    Topic("Where can I download my invoices?", "faq", 1, ("invoices", "download", "billing")),
    Topic("When are invoices issued?", "faq", 1, ("invoices", "billing")),
)
ESCALATE = (
    Topic("The CSV export crashes every time for our big report!", "escalate", 2, ("export",)),
    Topic("Export to PDF fails with an error on large reports", "escalate", 2, ("export", "pdf")),
    Topic("My password reset e-mail never arrives", "escalate", 3, ("password", "reset")),
    Topic("We were charged twice this month, please refund one", "escalate", 1, ("invoice",)),
)
FOLLOW_UPS = (
    Topic("And can I schedule that export weekly?", "faq", 2, ("schedule", "weekly", "export")),
    Topic("Also the export is missing some columns", "escalate", 2, ("export", "csv")),
    Topic("It is the Q3 revenue report, if that helps", "escalate", 2, ("report",)),
    Topic("Can I talk to a person about this?", "person", 2, ()),
    *FAQ,
)
ARTICLE_ANSWERS = {
    1: "Invoices are issued on the 1st of each month; download them under *Settings › Billing*.",
    2: "Open the report, click *Export* in the top-right corner and choose CSV or PDF.",
    3: "Click *Forgot password?* on the login page and follow the link we e-mail you.",
}
# Marks the model's drafts, so a reviewer can tell them from a knowledge-base passage.
DRAFT_MARK = "(You asked: “"


class ScriptedModel:
    """FakeOpenAI responder: classifies and drafts by the customer's text (see ``Topic``).

    A draft quotes the round's question, so two answers in one thread never share a text.
    """

    def __init__(self) -> None:
        self.topics = {t.text: t for t in (*FAQ, *ESCALATE, *FOLLOW_UPS)}

    def __call__(self, request: Json) -> str:
        messages = request["messages"]
        system = str(messages[0]["content"])
        user = str(messages[1]["content"])
        question = user.rsplit("Customer's latest message:", 1)[-1].strip()
        lines = [line.strip() for line in question.splitlines() if line.strip()]
        topics = [self.topics.get(line) for line in lines]
        known = [t for t in topics if t is not None]
        escalate = not known or any(t is None or t.kind != "faq" for t in topics)
        main = known[0] if known else None
        article = main.article if main else 2
        if "You triage customer questions" in system:
            return json.dumps(
                {
                    "category": "complex_issue" if escalate else "simple_faq",
                    "confidence": 0.8 if escalate else 0.92,
                    "keywords": list(main.keywords) if main else ["export"],
                    "summary": "The customer needs help with: " + " / ".join(lines)[:200],
                    "wants_human": False,
                }
            )
        if "You write replies to customers" in system:
            quoted = " / ".join(lines)
            return json.dumps(
                {
                    "answer": f"{ARTICLE_ANSWERS[article]} {DRAFT_MARK}{quoted}”)",
                    "used_article_ids": [article],
                    "grounded": not escalate,
                    "missing_information": "",
                }
            )
        return "{}"


@dataclass
class Sent:
    """One customer message and what it took to get it acknowledged."""

    index: int
    kind: str  # "faq" | "escalate" | "follow_up"
    text: str
    user: str
    ts: str
    event_id: str
    root_ts: str | None = None  # for follow-ups: the thread
    channel: str = SUPPORT
    attempts: int = 0
    acked: bool = False
    statuses: list[str] = field(default_factory=list)


@dataclass
class Thread:
    root: Sent
    follow_ups: list[Sent] = field(default_factory=list)

    def texts(self) -> set[str]:
        return {self.root.text, *(f.text for f in self.follow_ups)}


class Customers:
    """Streams questions and follow-ups; retries each event until acknowledged, as Slack does."""

    def __init__(
        self, cfg: FaultRunConfig, rng: random.Random, sender: SlackSender, slack: SlackStandIn
    ) -> None:
        self.cfg = cfg
        self.rng = rng
        self.sender = sender
        self.slack = slack
        self.sent: list[Sent] = []
        self.threads: dict[str, Thread] = {}
        self.dispatched = 0
        self.progress = asyncio.Event()  # pulsed at every message sent
        self.tasks: list[asyncio.Task[None]] = []
        self.requests = 0  # HTTP requests, retries included
        self.retries = 0
        self.undelivered: list[Sent] = []
        self.finished_at: float | None = None
        # --refusing-channel: the message index from which REFUSING refuses the bot's posts
        self.refusing_from: int | None = None

    def _follow_up_target(self) -> Thread | None:
        """A thread the bot already replied in, with room for another follow-up (or, for an
        eager follow-up, one it has not replied in yet)."""
        replied = {p.get("thread_ts") for p in self.slack.posts() if p["channel"] != ESCALATION}
        eager = self.rng.random() < self.cfg.eager_follow_up_share
        candidates = [
            t
            for t in self.threads.values()
            if (t.root.acked or eager) and len(t.follow_ups) < 2 and (t.root.ts in replied) != eager
        ]
        return self.rng.choice(candidates) if candidates else None

    def _next_message(self, index: int) -> Sent:
        rng = self.rng
        if rng.random() < self.cfg.follow_up_share:
            thread = self._follow_up_target()
            if thread is not None:
                used = thread.texts()
                topic = rng.choice([t for t in FOLLOW_UPS if t.text not in used])
                sent = Sent(
                    index=index,
                    kind="follow_up",
                    text=topic.text,
                    user=thread.root.user,
                    ts=self.sender.new_ts(),
                    event_id=self.sender.new_event_id(),
                    root_ts=thread.root.ts,
                    channel=thread.root.channel,
                )
                thread.follow_ups.append(sent)
                return sent
        escalate = rng.random() < self.cfg.escalate_share
        topic = rng.choice(ESCALATE if escalate else FAQ)
        refusing = self.cfg.refusing_channel and rng.random() < self.cfg.refusing_channel_share
        sent = Sent(
            index=index,
            kind=topic.kind,
            text=topic.text,
            user=f"UCUST{rng.randrange(40):03d}",
            ts=self.sender.new_ts(),
            event_id=self.sender.new_event_id(),
            channel=REFUSING if refusing else SUPPORT,
        )
        self.threads[sent.ts] = Thread(sent)
        return sent

    async def run(self) -> None:
        refuse_at = math.floor(self.cfg.refuse_after_share * self.cfg.messages)
        for index in range(self.cfg.messages):
            if self.cfg.refusing_channel and index == refuse_at:
                # The bot was removed from the channel: every post there is refused from now on.
                self.slack.refuse_channel(REFUSING, REFUSAL)
                self.refusing_from = index
            sent = self._next_message(index)
            self.sent.append(sent)
            self.dispatched += 1
            self.progress.set()
            self.progress.clear()
            self.tasks.append(asyncio.create_task(self._deliver(sent)))
            await asyncio.sleep(self.rng.uniform(0, 2 * self.cfg.message_gap))
        await asyncio.gather(*self.tasks)
        self.finished_at = time.monotonic()

    async def _deliver(self, sent: Sent, deadline: float = 180.0) -> None:
        started = time.monotonic()
        while True:
            retry = sent.attempts or None
            sent.attempts += 1
            self.requests += 1
            try:
                status, _body, _event_id, _ts = await self.sender.message_event(
                    sent.channel,
                    sent.user,
                    sent.text,
                    ts=sent.ts,
                    thread_ts=sent.root_ts,
                    team=CUSTOMER_TEAM,
                    user_team=CUSTOMER_TEAM,
                    event_id=sent.event_id,
                    retry_num=retry,
                )
                sent.statuses.append(str(status))
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                status = 0
                sent.statuses.append(type(exc).__name__)
            if status == 200:
                sent.acked = True
                return
            if time.monotonic() - started > deadline:
                self.undelivered.append(sent)
                return
            self.retries += 1
            # Slack's schedule (at once, 1 min, 5 min) squeezed into seconds.
            await asyncio.sleep(
                min(2.0, 0.25 * 2 ** min(sent.attempts, 3)) * self.rng.uniform(0.5, 1)
            )


# ---------------------------------------------------------------------------- the reviewers


@dataclass
class Review:
    escalation_id: int
    card_ts: str
    plan: str  # approve | edit | double_approve | approve_vs_edit | double_edit
    rounds: int = 0
    edits: dict[str, str] = field(default_factory=dict)  # reviewer -> text they submitted
    done: bool = False
    gave_up: bool = False
    slow: bool = False


class Reviewers:
    """Act on every review card as it appears, until it shows a decision; click again if the
    card has not changed a few seconds after a click (the bot may have been down)."""

    def __init__(
        self, cfg: FaultRunConfig, rng: random.Random, sender: SlackSender, slack: SlackStandIn
    ) -> None:
        self.cfg = cfg
        self.rng = rng
        self.sender = sender
        self.slack = slack
        self.reviews: dict[int, Review] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self.clicks: Counter[str] = Counter()  # requests sent, by kind
        self.click_failures = 0  # requests that got no 200
        self.stopping = False
        self.duplicate_cards: list[str] = []

    @property
    def busy(self) -> int:
        return sum(1 for r in self.reviews.values() if not r.done)

    async def watch(self) -> None:
        while not self.stopping:
            for card in self.slack.posts(channel=ESCALATION):
                if card.get("thread_ts"):
                    continue
                buttons = decision_buttons(card)
                if not buttons:
                    continue
                escalation_id = int(next(iter(buttons.values())))
                review = self.reviews.get(escalation_id)
                if review is not None:
                    if review.card_ts != card["ts"] and card["ts"] not in self.duplicate_cards:
                        self.duplicate_cards.append(card["ts"])
                    continue
                review = Review(escalation_id, card["ts"], self._plan(card))
                self.reviews[escalation_id] = review
                self.tasks.append(asyncio.create_task(self._review(review)))
            await asyncio.sleep(0.15)

    def _plan(self, card: Json) -> str:
        buttons = decision_buttons(card)
        drafted_by_model = DRAFT_MARK in json.dumps(card.get("blocks") or [], ensure_ascii=False)
        roll = self.rng.random()
        if ids.ACTION_APPROVE in buttons and drafted_by_model:
            if roll < 0.62:
                return "approve"
            if roll < 0.78:
                return "edit"
            if roll < 0.90:
                return "double_approve"
            return "approve_vs_edit"
        # No draft, or a knowledge-base passage: a reviewer writes the reply.
        return "edit" if roll < 0.8 else "double_edit"

    def _card(self, review: Review) -> Json | None:
        return self.slack.find_message(ESCALATION, review.card_ts)

    def _decided(self, review: Review) -> bool:
        card = self._card(review)
        return card is not None and not decision_buttons(card)

    async def _review(self, review: Review, deadline: float = 200.0) -> None:
        started = time.monotonic()
        if self.rng.random() < self.cfg.slow_review_share:
            review.slow = True  # nobody looks for a while: the bot reminds the reviewers
            await asyncio.sleep(self.cfg.slow_review_seconds)
        await asyncio.sleep(self.rng.uniform(0.1, 1.2))  # a human reads the card
        while not self._decided(review) and not self.stopping:
            if time.monotonic() - started > deadline:
                review.gave_up = True
                break
            review.rounds += 1
            first, second = self.rng.sample(REVIEWERS, 2)
            if review.plan == "approve":
                await self._approve(review, first)
            elif review.plan == "edit":
                await self._edit(review, first)
            elif review.plan == "double_approve":
                await asyncio.gather(self._approve(review, first), self._approve(review, second))
            elif review.plan == "double_edit":
                await asyncio.gather(self._edit(review, first), self._edit(review, second))
            else:
                await asyncio.gather(self._edit(review, first), self._approve(review, second))
            # Give the card time to show the decision before clicking again.
            for _ in range(40):
                if self._decided(review) or self.stopping:
                    break
                await asyncio.sleep(0.1)
        review.done = True

    async def _click(self, kind: str, send: Callable[[], Awaitable[tuple[int, str]]]) -> str | None:
        self.clicks[kind] += 1
        try:
            status, body = await send()
        except (aiohttp.ClientError, TimeoutError, OSError):
            self.click_failures += 1
            return None
        if status != 200:
            self.click_failures += 1
            return None
        return body

    async def _approve(self, review: Review, user: str) -> None:
        card = self._card(review)
        if card is None:
            return
        await self._click(
            "approve",
            lambda: self.sender.block_action(
                user,
                ids.ACTION_APPROVE,
                str(review.escalation_id),
                team_id=HOME_TEAM,
                channel=ESCALATION,
                message=card,
            ),
        )

    async def _edit(self, review: Review, user: str) -> None:
        card = self._card(review)
        if card is None:
            return
        trigger = f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:24]}"
        opened = await self._click(
            "edit_open",
            lambda: self.sender.block_action(
                user,
                ids.ACTION_EDIT,
                str(review.escalation_id),
                team_id=HOME_TEAM,
                channel=ESCALATION,
                message=card,
                trigger_id=trigger,
            ),
        )
        if opened is None:
            return
        view = next(
            (
                c["view"]
                for c in self.slack.calls_to("views.open")
                if c.get("trigger_id") == trigger
            ),
            None,
        )
        if view is None:  # refused: decided already (the clicker was told so)
            return
        await asyncio.sleep(self.rng.uniform(0.05, 0.6))  # typing
        text = review.edits.setdefault(
            user,
            f"Edited by {user} for escalation {review.escalation_id}: we fixed it, please try "
            "again & tell us <here> if it still fails.",
        )
        for _ in range(5):  # Submit again while the request fails, as a person would
            body = await self._click(
                "edit_submit",
                lambda: self.sender.view_submission(
                    user,
                    ids.VIEW_EDIT,
                    {ids.BLOCK_EDIT_TEXT: {ids.ACTION_EDIT_TEXT: text}},
                    str(view.get("private_metadata") or ""),
                    team_id=HOME_TEAM,
                ),
            )
            if body is not None and "Something went wrong" not in body:
                return
            await asyncio.sleep(self.rng.uniform(0.3, 1.0))


# ---------------------------------------------------------------------------- the killer


class Replica:
    """One bot process of the run, on its own port."""

    def __init__(self, number: int, bot: BotProcess, port: int) -> None:
        self.number = number
        self.bot = bot
        self.port = port
        self.up_since = time.monotonic()


class SpreadSender(SlackSender):
    """Sends each request to a random replica, as Slack spreads events and clicks over the
    app's connections."""

    def __init__(self, urls: list[str], rng: random.Random, **kwargs: Any) -> None:
        self._urls = urls
        self._rng = rng
        super().__init__(urls[0], **kwargs)

    @property
    def url(self) -> str:
        return self._rng.choice(self._urls)

    @url.setter
    def url(self, value: str) -> None:
        pass  # SlackSender sets its one URL; this sender picks one per request


class Killer:
    """SIGKILLs a random replica at random moments while the stream flows, and restarts it."""

    def __init__(
        self,
        cfg: FaultRunConfig,
        rng: random.Random,
        replicas: list[Replica],
        customers: Customers,
        log: Callable[[str], None],
    ) -> None:
        self.cfg = cfg
        self.rng = rng
        self.replicas = replicas
        self.customers = customers
        self.log = log
        self.kills = 0
        self.startup_kills = 0
        self.restart_seconds: list[float] = []
        self.start_failures: list[str] = []
        self.last_restart_at = time.monotonic()

    async def start(self, replica: Replica) -> None:
        began = time.monotonic()
        for _ in range(5):
            replica.bot.spawn()
            try:
                await replica.bot.wait_listening(replica.port, timeout=60)
                break
            except AssertionError as exc:
                self.start_failures.append(str(exc)[-3000:])
                self.log(f"replica {replica.number} failed to start: {str(exc)[-300:]}")
                if replica.bot.alive:
                    replica.bot.kill()
        else:
            raise RuntimeError("the bot did not start five times in a row")
        replica.up_since = self.last_restart_at = time.monotonic()
        self.restart_seconds.append(replica.up_since - began)

    async def run(self) -> None:
        total = self.cfg.messages
        for k in range(1, self.cfg.kills + 1):
            target = math.ceil(k * total / self.cfg.kills)
            while self.customers.dispatched < target:
                await self.customers.progress.wait()
            replica = self.rng.choice(self.replicas)
            uptime = self.cfg.min_uptime + self.rng.uniform(0, self.cfg.kill_jitter)
            await asyncio.sleep(max(0.0, replica.up_since + uptime - time.monotonic()))
            replica.bot.kill()
            self.kills += 1
            self.log(
                f"kill {self.kills}: replica {replica.number} (sent"
                f" {self.customers.dispatched}/{total}, up"
                f" {time.monotonic() - replica.up_since:.1f}s)"
            )
            await asyncio.sleep(self.rng.uniform(0, 0.4))
            if k < self.cfg.kills and self.rng.random() < self.cfg.startup_kill_share:
                replica.bot.spawn()
                await asyncio.sleep(self.rng.uniform(0.05, 1.0))
                if replica.bot.alive:
                    replica.bot.kill()
                    self.kills += 1
                    self.startup_kills += 1
                    self.log(f"kill {self.kills} during start-up of replica {replica.number}")
            await self.start(replica)


# ---------------------------------------------------------------------------- the checks


async def db_rows(db: Database, sql: str, params: tuple[Any, ...] = ()) -> list[Row]:
    return await db.fetchall(sql, params)


async def pending_work(db: Database) -> dict[str, int]:
    """What still keeps the bot busy: due jobs, tickets mid-round, undecided escalations."""
    jobs = (
        await db_rows(
            db,
            "SELECT COUNT(*) AS n FROM jobs WHERE state = 'running'"
            " OR (state = 'pending' AND available_at <= ?)",
            (time.time() + TIMER_HORIZON,),
        )
    )[0]["n"]
    marks = ",".join("?" for _ in IN_PROGRESS)
    tickets = (
        await db_rows(
            db, f"SELECT COUNT(*) AS n FROM tickets WHERE state IN ({marks})", IN_PROGRESS
        )
    )[0]["n"]
    escalations = (
        await db_rows(db, "SELECT COUNT(*) AS n FROM escalations WHERE state = 'pending'")
    )[0]["n"]
    stranded = len(await cards_given_up(db))
    return {
        "jobs": int(jobs),
        "tickets": int(tickets),
        "escalations": int(escalations) - stranded,
    }


async def cards_given_up(db: Database) -> set[int]:
    """Pending escalations whose card the outbox gave up posting (the notice in the escalation
    channel says so, with "Try again"): no reviewer can decide them until a person tries again,
    which the run's reviewers do not do."""
    rows = await db_rows(
        db,
        "SELECT e.id, j.state FROM escalations e JOIN jobs j"
        " ON j.dedupe_key = 'escalation:' || e.id || ':card:open'"
        " OR j.dedupe_key LIKE 'escalation:' || e.id || ':card:open:retry:%'"
        " WHERE e.state = 'pending' AND e.card_ts IS NULL ORDER BY j.id",
    )
    latest = {int(r["id"]): str(r["state"]) for r in rows}
    return {e for e, state in latest.items() if state == "dead"}


REMINDER_POST_KEY = re.compile(r"^escalation:\d+:reminder:\d+:post$")


def _purpose(post: Json) -> str | None:
    """What a post of the bot's in the escalation channel was, by its outbox key."""
    key = _key(post) or ""
    if REMINDER_POST_KEY.match(key):
        return "reminder"
    if key.startswith("digest:"):
        return "digest"
    return None


def check_periodic(v: Verdict, slack: SlackStandIn, digest_day: str, reviewers: Reviewers) -> None:
    """The daily digest went out once (whichever replica ran it), and each reminder at most
    once (counted with every outbox key in ``verify``)."""
    digests = [p for p in slack.posts(channel=ESCALATION) if _key(p) == f"digest:{digest_day}"]
    if not digests:
        v.lost.append(f"the daily digest for {digest_day} was never posted")
    for post in slack.posts(channel=ESCALATION):
        if _purpose(post) == "reminder" and not post.get("thread_ts"):
            v.lost.append(f"a reminder outside its card's thread: {_key(post)}")
    v.outcomes["reminders"] = sum(
        1 for p in slack.posts(channel=ESCALATION) if _purpose(p) == "reminder"
    )
    v.outcomes["slow_reviews"] = sum(1 for r in reviewers.reviews.values() if r.slow)


def _key(message: Json) -> str | None:
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != ids.OUTBOX_METADATA_EVENT:
        return None
    key = (metadata.get("event_payload") or {}).get("key")
    return str(key) if key is not None else None


@dataclass
class Verdict:
    """What the checks found. ``duplicates`` and ``lost`` must both be empty."""

    duplicates: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    # Deliveries given up on and shown to people: chain root -> "card" or "notice".
    surfaced: dict[str, str] = field(default_factory=dict)
    # Deliveries Slack refused in the refusing channel (chain roots).
    refused: set[str] = field(default_factory=set)
    # Tickets with a surfaced delivery failure.
    surfaced_tickets: set[int] = field(default_factory=set)
    surfaced_purposes: Counter[str] = field(default_factory=Counter)


async def verify(
    slack: SlackStandIn, db: Database, customers: Customers, reviewers: Reviewers
) -> Verdict:
    v = Verdict()
    posts = slack.posts()

    # -- nothing posted twice: by outbox key, and by text within one thread ------------------
    by_key: dict[str, list[Json]] = {}
    for post in posts:
        key = _key(post)
        if key is None:
            v.warnings.append(f"a post without an outbox key: {post['channel']} {post['ts']}")
            continue
        by_key.setdefault(key, []).append(post)
        if post["channel"] not in (SUPPORT, REFUSING, ESCALATION):
            v.lost.append(f"{key} went to channel {post['channel']}")
    for key, found in by_key.items():
        if len(found) > 1:
            v.duplicates.append(f"{key} posted {len(found)} times: {[p['ts'] for p in found]}")
    by_thread_text: dict[tuple[str, str, str], list[Json]] = {}
    for post in posts:
        if post.get("thread_ts"):
            spot = (post["channel"], str(post["thread_ts"]), str(post.get("text")))
            by_thread_text.setdefault(spot, []).append(post)
    for (channel, thread_ts, text), found in by_thread_text.items():
        keys = {_key(p) for p in found}
        if len(found) < 2 or len(keys) < len(found):
            continue  # single, or already counted as the same key twice
        holding_rounds = [HOLDING_KEY.match(k or "") for k in keys]
        if all(holding_rounds):
            continue  # the same holding reply for different rounds of one ticket
        if all(REMINDER_POST_KEY.match(k or "") for k in keys):
            continue  # successive reminders on one card, reminding of the same wait
        v.duplicates.append(
            f"the same text {len(found)} times in thread {channel}/{thread_ts}"
            f" (keys {sorted(k or '?' for k in keys)}): {text[:80]!r}"
        )
    v.duplicates.extend(
        f"a second card for one escalation: {ts}" for ts in reviewers.duplicate_cards
    )

    # -- every question: a ticket, its turns, one outcome per round --------------------------
    tickets = {r["thread_ts"]: r for r in await db_rows(db, "SELECT * FROM tickets")}
    turns: dict[int, dict[str, Row]] = {}
    for row in await db_rows(db, "SELECT * FROM ticket_turns WHERE role = 'customer'"):
        turns.setdefault(int(row["ticket_id"]), {})[str(row["slack_ts"])] = row
    escalations = {
        (int(r["ticket_id"]), int(r["round"])): r
        for r in await db_rows(db, "SELECT * FROM escalations")
    }
    ignored = {
        str(r["ts"]): str(r["reason"]) for r in await db_rows(db, "SELECT * FROM ignored_messages")
    }
    await check_surfaced(v, slack, db, by_key)

    for sent in customers.undelivered:
        v.lost.append(f"message {sent.index} never acknowledged: {sent.statuses[-5:]}")
    for thread in customers.threads.values():
        root = thread.root
        ticket = tickets.get(root.ts)
        if ticket is None:
            why = ignored.get(root.ts, "no ticket and no reason recorded")
            v.lost.append(f"question {root.index} ({root.ts}) has no ticket: {why}")
            continue
        ticket_id = int(ticket["id"])
        mine = turns.get(ticket_id, {})
        for sent in (root, *thread.follow_ups):
            if sent.ts not in mine:
                why = ignored.get(sent.ts, "not recorded")
                v.lost.append(
                    f"message {sent.index} ({sent.kind}) not on ticket {ticket_id}: {why}"
                )
        if ticket["state"] in IN_PROGRESS:
            v.lost.append(f"ticket {ticket_id} is stuck in {ticket['state']}")
        latest = max((int(t["id"]) for t in mine.values()), default=0)
        if (
            ticket["state"] not in ("rejected", "human")
            and int(ticket["processed_turn_id"]) < latest
        ):
            v.lost.append(
                f"ticket {ticket_id} ({ticket['state']}): follow-up turn {latest} never handled"
                f" (processed up to {ticket['processed_turn_id']})"
            )
        v.outcomes[f"ticket_{ticket['state']}"] += 1
        for rnd in range(1, int(ticket["round"]) + 1):
            _check_round(v, by_key, ticket, rnd, escalations.get((ticket_id, rnd)))
        if str(ticket["channel_id"]) != root.channel:
            v.lost.append(f"ticket {ticket_id} is on channel {ticket['channel_id']}")

    # -- every decided escalation: its reply exactly once, with the decided text -------------
    for esc in escalations.values():
        review = reviewers.reviews.get(int(esc["id"]))
        if review is not None and review.gave_up:
            v.lost.append(f"escalation {esc['id']}: the card never showed a decision")
        if review is not None:
            v.outcomes[f"review_plan_{review.plan}"] += 1
        _check_reply(v, by_key, esc, review)

    # -- dead jobs: the bot gave up on something ---------------------------------------------
    for job in await db_rows(
        db, "SELECT kind, dedupe_key, attempts, last_error FROM jobs WHERE state = 'dead'"
    ):
        v.warnings.append(
            f"dead job {job['kind']} {job['dedupe_key']} after {job['attempts']} attempts:"
            f" {str(job['last_error'])[:200]}"
        )
    for row in await db_rows(
        db, "SELECT detail FROM ticket_events WHERE step IN ('follow_up', 'reopened')"
    ):
        handling = str(json.loads(row["detail"]).get("handling", "?"))
        v.outcomes["follow_up: " + re.sub(r"\d+", "N", handling)] += 1
    return v


def _refused_roots(slack: SlackStandIn) -> set[str]:
    """The deliveries (chain roots of their outbox keys) Slack refused in the refusing channel."""
    roots: set[str] = set()
    for call in slack.calls:
        if call.method != "chat.postMessage" or call.error != REFUSAL:
            continue
        if call.args.get("channel") != REFUSING:
            continue
        metadata = call.args.get("metadata") or {}
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        key = (metadata.get("event_payload") or {}).get("key")
        roots.add(chain_root(str(key)) if key else f"(no key: {call.args.get('text')!r:.60})")
    return roots


def _shown(slack: SlackStandIn, by_key: dict[str, list[Json]], detail: Json) -> str | None:
    """Where people can see that a delivery failed: "card" (its review card says it was not
    delivered), "notice" (a message in the escalation channel says so), or None."""
    what = PURPOSE_WORDS.get(str(detail.get("purpose")), "A message")
    for notice in by_key.get(f"{detail.get('job')}:failed-notice", []):
        text = str(notice.get("text") or "")
        if notice["channel"] == ESCALATION and "was not delivered" in text and what in text:
            return "notice"
    escalation_id = detail.get("escalation_id")
    if escalation_id is not None:
        for posted in by_key.get(f"escalation:{escalation_id}:card:open", []):
            card = slack.find_message(ESCALATION, str(posted["ts"]))
            if card is not None and f"{what} was not delivered" in card_text(card):
                return "card"
    return None


async def check_surfaced(
    v: Verdict, slack: SlackStandIn, db: Database, by_key: dict[str, list[Json]]
) -> None:
    """Every delivery the bot gave up on (and did not try again since) is surfaced: a
    ``delivery_failed`` step on the trail AND its card or a notice in the escalation channel
    saying it was not delivered. Every reply Slack refused is such a delivery."""
    latest: dict[str, tuple[str, Json, int | None]] = {}
    for row in await db_rows(
        db,
        "SELECT ticket_id, step, detail FROM ticket_events"
        " WHERE step IN ('delivery_failed', 'delivery_retried') ORDER BY id",
    ):
        detail = json.loads(row["detail"])
        # Steps without root_job_id are not offered again: card updates, reminders, notices.
        if detail.get("root_job_id"):
            latest[str(detail["root"])] = (str(row["step"]), detail, row["ticket_id"])
    for root, (step, detail, ticket_id) in latest.items():
        if step != "delivery_failed":
            continue
        how = _shown(slack, by_key, detail)
        if how is None:
            v.lost.append(
                f"delivery {root} (ticket {ticket_id}) gave up ({detail.get('error')}) but no"
                " card or notice says it was not delivered"
            )
            continue
        v.surfaced[root] = how
        v.surfaced_purposes[str(detail.get("purpose"))] += 1
        if ticket_id is not None:
            v.surfaced_tickets.add(int(ticket_id))
        v.outcomes[f"not_delivered_{detail.get('purpose')}_shown_on_{how}"] += 1
    v.refused = _refused_roots(slack)
    for root in sorted(v.refused - set(v.surfaced)):
        if root not in by_key:  # (posted before the refusals began: found, not posted again)
            v.lost.append(f"{root} was refused ({REFUSAL}) and never surfaced")


def _check_round(
    v: Verdict,
    by_key: dict[str, list[Json]],
    ticket: Row,
    rnd: int,
    esc: Row | None,
) -> None:
    ticket_id, thread_ts = int(ticket["id"]), str(ticket["thread_ts"])
    answer = by_key.get(f"ticket:{ticket_id}:round:{rnd}:answer", [])
    holding = by_key.get(f"ticket:{ticket_id}:round:{rnd}:holding", [])
    where = f"ticket {ticket_id} round {rnd}"
    for post in (*answer, *holding):
        if post["channel"] != ticket["channel_id"] or post.get("thread_ts") != thread_ts:
            v.lost.append(f"{where}: a reply outside the customer's thread ({post['channel']})")
    if answer and (holding or esc is not None):
        v.duplicates.append(f"{where}: answered AND escalated")
        return
    if answer:
        v.outcomes["round_answered"] += 1
        return
    if esc is None:
        if f"ticket:{ticket_id}:round:{rnd}:answer" in v.surfaced:
            v.outcomes["round_answer_not_delivered_surfaced"] += 1
        else:
            v.lost.append(f"{where}: no answer, no escalation, no surfaced delivery failure")
        return
    reason = str(esc["reason"])
    kind = (
        "llm_failure"
        if "failed" in reason
        else "asked_for_person"
        if "asked for a person" in reason
        else "policy"
    )
    v.outcomes[f"round_escalated_{kind}"] += 1
    if not holding and f"ticket:{ticket_id}:round:{rnd}:holding" not in v.surfaced:
        v.lost.append(f"{where}: escalated (escalation {esc['id']}) but no holding reply")
    cards = by_key.get(f"escalation:{esc['id']}:card:open", [])
    if not cards:
        if f"escalation:{esc['id']}:card:open" in v.surfaced:
            v.outcomes["card_not_delivered_surfaced"] += 1
        else:
            v.lost.append(f"{where}: escalation {esc['id']} has no card")
        return
    card = cards[0]
    if card["channel"] != ESCALATION or card.get("thread_ts"):
        v.lost.append(f"{where}: the card of escalation {esc['id']} is not in the channel")
    if esc["state"] != "pending" and decision_buttons(card):
        v.lost.append(f"{where}: escalation {esc['id']} is {esc['state']} but its card is not")


def _check_reply(
    v: Verdict, by_key: dict[str, list[Json]], esc: Row, review: Review | None
) -> None:
    state = str(esc["state"])
    replies = by_key.get(f"escalation:{esc['id']}:reply", [])
    v.outcomes[f"escalation_{state}"] += 1
    if state not in ("approved", "edited"):
        if replies:
            v.duplicates.append(f"escalation {esc['id']} is {state} but a reply was sent")
        if state == "pending" and f"escalation:{esc['id']}:card:open" not in v.surfaced:
            v.lost.append(f"escalation {esc['id']} was never decided")
        return
    if not replies:
        if f"escalation:{esc['id']}:reply" in v.surfaced:
            v.outcomes["escalation_reply_not_delivered_surfaced"] += 1
        else:
            v.lost.append(f"escalation {esc['id']} was {state} but its reply never arrived")
        return
    text = str(replies[0].get("text") or "")
    final = str(esc["final_text"] or "")
    if state == "edited":
        if text != final:
            v.lost.append(f"escalation {esc['id']}: sent {text[:60]!r}, edited {final[:60]!r}")
        if review is not None and final not in review.edits.values():
            v.lost.append(f"escalation {esc['id']}: the edited text is no reviewer's")
    elif not text.startswith(final) or final != str(esc["draft_text"] or ""):
        v.lost.append(f"escalation {esc['id']}: sent {text[:60]!r}, approved {final[:60]!r}")


# ---------------------------------------------------------------------------- the run


@dataclass
class FaultRunReport:
    command: str
    seed: int
    replicas: int
    backend: str
    messages: int
    questions: int
    follow_ups: int
    event_requests: int
    event_retries: int
    event_failures: dict[str, int]  # why a delivery had to be retried
    clicks: int
    clicks_by_kind: dict[str, int]
    click_failures: int
    cards_reviewed: int
    slow_reviews: int  # cards left alone long enough for reminders
    reminders: int  # reminder posts in card threads
    digests: int  # daily digest posts (exactly one: the seeded yesterday's)
    kills: int
    kills_during_startup: int
    restart_seconds_mean: float
    start_failures: int
    injected_faults: dict[str, int]
    outcomes: dict[str, int]
    duplicates: int
    lost: int
    # --refusing-channel: deliveries the bot gave up on and showed people (a card or a notice in
    # the escalation channel), of them the replies Slack refused, the tickets they belong to.
    surfaced_not_delivered: int
    surfaced_on: dict[str, int]  # "card" | "notice" -> deliveries
    surfaced_tickets: int
    refusing_channel: str | None  # the channel that began refusing, and from which message
    refusing_from_message: int | None
    refused_deliveries: int
    refused_surfaced: int  # of the refused deliveries: surfaced (the rest are lost)
    # Surfaced, by purpose ("holding", "answer", "reply", "card": a review card the outbox gave
    # up posting, e.g. when it could not check whether an interrupted attempt had posted it).
    surfaced_by_purpose: dict[str, int]
    drain_seconds: float
    stream_seconds: float
    total_seconds: float
    dead_jobs: int
    log_errors: int
    bot_exit_code: int | None
    problems: dict[str, list[str]]
    fault_rates: dict[str, float]

    @property
    def ok(self) -> bool:
        return self.duplicates == 0 and self.lost == 0

    def to_json(self) -> Json:
        return asdict(self)

    def describe(self) -> str:
        faults = ", ".join(f"{k} {n}" for k, n in sorted(self.injected_faults.items()))
        outcomes = "\n".join(f"    {k:<58} {n:>5}" for k, n in sorted(self.outcomes.items()))
        clicks = ", ".join(f"{k} {n}" for k, n in sorted(self.clicks_by_kind.items()))
        failures = ", ".join(f"{k} {n}" for k, n in sorted(self.event_failures.items()))
        purposes = ", ".join(f"{k} {n}" for k, n in sorted(self.surfaced_by_purpose.items()))
        lines = [
            f"fault run: {self.command}",
            f"  replicas            {self.replicas} bot process(es) on {self.backend}",
            f"  messages            {self.messages} ({self.questions} questions,"
            f" {self.follow_ups} follow-ups); {self.event_requests} event requests,"
            f" {self.event_retries} retried ({failures})",
            f"  clicks              {self.clicks} ({clicks}); {self.click_failures} failed and"
            f" were clicked again; {self.cards_reviewed} cards reviewed",
            f"  periodic            {self.reminders} reminders ({self.slow_reviews} cards left"
            f" alone a while); {self.digests} daily digest(s)",
            f"  kills               {self.kills} SIGKILLs ({self.kills_during_startup} during"
            f" start-up); restart {self.restart_seconds_mean:.2f}s on average;"
            f" {self.start_failures} failed starts",
            f"  injected faults     {sum(self.injected_faults.values())}: {faults}",
            "  outcomes",
            outcomes,
            f"  duplicates          {self.duplicates}",
            f"  lost                {self.lost}"
            + (" (must stay 0)" if self.lost == 0 else " (MUST BE 0: see the problems below)"),
            f"  surfaced, not delivered: {self.surfaced_not_delivered}"
            f" ({self.surfaced_tickets} tickets; on cards {self.surfaced_on.get('card', 0)},"
            f" as notices {self.surfaced_on.get('notice', 0)}; {purposes})"
            + (
                f"; {self.refused_deliveries} replies refused ({REFUSAL}) in"
                f" {self.refusing_channel} from message {self.refusing_from_message},"
                f" {self.refused_surfaced} of them surfaced"
                if self.refusing_channel
                else ""
            ),
            f"  drain               {self.drain_seconds:.1f}s after the last restart",
            f"  run time            {self.total_seconds:.1f}s (stream {self.stream_seconds:.1f}s)",
            f"  dead jobs           {self.dead_jobs}; ERROR lines in the bot log"
            f" {self.log_errors}; exit code on SIGTERM {self.bot_exit_code}",
        ]
        for kind, items in self.problems.items():
            for item in items[:30]:
                lines.append(f"  {kind}: {item}")
        return "\n".join(lines)


def bench_env(
    cfg: FaultRunConfig, workdir: Path, slack: SlackStandIn, llm: FakeOpenAI, port: int
) -> dict[str, str]:
    """The bots' settings; every replica's database is the one of ``workdir``."""
    env = bot_env(workdir, slack, llm, port)
    env.update(
        {
            "SUPPORT_REVIEWERS": ",".join(REVIEWERS),
            "LLM_TIMEOUT": str(cfg.bot_llm_timeout),
            "LLM_MAX_RETRIES": "1",
            "JOB_RETRY_BASE_SECONDS": "0.1",
            "SHUTDOWN_GRACE_SECONDS": "2",
            # The daily digest is due at once (yesterday was seeded with a question).
            "DIGEST_HOUR": "0",
        }
    )
    if cfg.database_url is not None:
        env["DATABASE_URL"] = cfg.database_url
    if cfg.refusing_channel:
        env["SUPPORT_CHANNELS"] = f"{SUPPORT},{REFUSING}"
    if cfg.slow_review_share:
        env["REVIEW_REMINDER"] = str(cfg.review_reminder_seconds)
    return env


async def seed_yesterday(db: Database) -> str:
    """A resolved question from yesterday (UTC), so the daily digest has something to say;
    returns yesterday's date, the digest's period."""
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    noon = (today - dt.timedelta(hours=12)).timestamp()
    async with db.transaction() as tx:
        ticket = await tx.fetchone(
            "INSERT INTO tickets(channel_id, thread_ts, customer_user_id, state, created_at,"
            " updated_at, resolved_at) VALUES (?, ?, 'UYESTERDAY', 'resolved', ?, ?, ?)"
            " RETURNING id",
            (SUPPORT, f"{noon:.6f}", noon, noon, noon),
        )
        assert ticket is not None
        await tx.execute(
            "INSERT INTO ticket_events(ticket_id, step, actor, created_at)"
            " VALUES (?, 'received', 'bot', ?)",
            (ticket["id"], noon),
        )
    return (today - dt.timedelta(days=1)).date().isoformat()


async def run_fault_run(cfg: FaultRunConfig, command: str = "") -> FaultRunReport:
    began = time.monotonic()
    rng = random.Random(cfg.seed)
    log = progress_log(began, width=7, enabled=cfg.progress)
    with contextlib.ExitStack() as stack:
        workdir = work_folder(stack, cfg.workdir, "faults-")
        slack = SlackStandIn(token=BOT_TOKEN, team_id=HOME_TEAM)
        llm = FakeOpenAI(api_key=LLM_KEY, responder=ScriptedModel())
        await slack.start()
        await llm.start()
        replicas: list[Replica] = []
        checker: Database | None = None
        try:
            ports = [free_port() for _ in range(cfg.replicas)]
            env = bench_env(cfg, workdir, slack, llm, ports[0])
            importer = await asyncio.create_subprocess_exec(
                SUPPORT_BOT,
                "kb",
                "import",
                str(KB_DIR),
                env=env,
                cwd=workdir,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            _out, err = await asyncio.wait_for(importer.communicate(), timeout=120)
            if importer.returncode != 0:
                raise RuntimeError(f"kb import failed: {err.decode(errors='replace')[-2000:]}")
            checker = database_from_url(env["DATABASE_URL"])
            await checker.open(migrate=False)
            digest_day = await seed_yesterday(checker)
            slack.random_faults(
                seed=rng.randrange(2**32),
                rate_429=cfg.slack_429,
                rate_500=cfg.slack_500,
                rate_500_after_store=cfg.slack_500_after_store,
            )
            llm.random_faults(
                seed=rng.randrange(2**32),
                timeout_rate=cfg.llm_timeout,
                error_rate=cfg.llm_500,
                malformed_rate=cfg.llm_malformed_json,
                malformed_body_rate=cfg.llm_malformed_body,
                stall_seconds=cfg.bot_llm_timeout * 4,
            )
            for number, port in enumerate(ports, start=1):
                folder = workdir if cfg.replicas == 1 else workdir / f"replica-{number}"
                folder.mkdir(exist_ok=True)
                bot = BotProcess({**env, "PORT": str(port)}, folder)
                replicas.append(Replica(number, bot, port))
            sender = SpreadSender(
                [f"http://127.0.0.1:{port}/slack/events" for port in ports],
                random.Random(rng.randrange(2**32)),
                signing_secret=SIGNING_SECRET,
                team_id=HOME_TEAM,
                mirror=slack,
                timeout=SLACK_TIMEOUT,
                response_url=slack.response_url,
            )
            customers = Customers(cfg, random.Random(rng.randrange(2**32)), sender, slack)
            reviewers = Reviewers(cfg, random.Random(rng.randrange(2**32)), sender, slack)
            killer = Killer(cfg, random.Random(rng.randrange(2**32)), replicas, customers, log)
            await asyncio.gather(*(killer.start(r) for r in replicas))
            log(
                f"{cfg.replicas} bot(s) up on ports {ports}; streaming {cfg.messages} messages,"
                f" {cfg.kills} kills"
            )
            watcher = asyncio.create_task(reviewers.watch())
            stream = asyncio.create_task(customers.run())
            await killer.run()
            log("last restart done; draining")
            drained_at = await _drain(cfg, checker, customers, reviewers, log)
            stream_end = customers.finished_at or time.monotonic()
            await stream
            await asyncio.sleep(cfg.settle_seconds)
            reviewers.stopping = True
            await watcher
            await asyncio.gather(*reviewers.tasks)
            exit_codes = [r.bot.terminate() for r in replicas]
            exit_code = next((c for c in exit_codes if c != 0), exit_codes[0])
            log(f"bots stopped (exit codes {exit_codes}); checking")
            verdict = await verify(slack, checker, customers, reviewers)
            check_periodic(verdict, slack, digest_day, reviewers)
            if drained_at is None:
                left = await pending_work(checker)
                verdict.lost.append(f"the bot did not drain in {cfg.drain_timeout:.0f}s: {left}")
            output = "\n".join(r.bot.output() for r in replicas)
            report = FaultRunReport(
                command=command,
                seed=cfg.seed,
                replicas=cfg.replicas,
                backend=checker.dialect,
                messages=len(customers.sent),
                questions=len(customers.threads),
                follow_ups=sum(len(t.follow_ups) for t in customers.threads.values()),
                event_requests=customers.requests,
                event_retries=customers.retries,
                event_failures=dict(
                    Counter(s for m in customers.sent for s in m.statuses if s != "200")
                ),
                clicks=sum(reviewers.clicks.values()),
                clicks_by_kind=dict(reviewers.clicks),
                click_failures=reviewers.click_failures,
                cards_reviewed=len(reviewers.reviews),
                slow_reviews=sum(1 for r in reviewers.reviews.values() if r.slow),
                reminders=sum(
                    1 for p in slack.posts(channel=ESCALATION) if _purpose(p) == "reminder"
                ),
                digests=sum(1 for p in slack.posts(channel=ESCALATION) if _purpose(p) == "digest"),
                kills=killer.kills,
                kills_during_startup=killer.startup_kills,
                restart_seconds_mean=round(
                    sum(killer.restart_seconds) / max(1, len(killer.restart_seconds)), 3
                ),
                start_failures=len(killer.start_failures),
                injected_faults={
                    **{f"slack_{k}": n for k, n in sorted(slack.injected.items())},
                    **{f"llm_{k}": n for k, n in sorted(llm.injected.items())},
                },
                outcomes=dict(sorted(verdict.outcomes.items())),
                duplicates=len(verdict.duplicates),
                lost=len(verdict.lost),
                surfaced_not_delivered=len(verdict.surfaced),
                surfaced_on=dict(Counter(verdict.surfaced.values())),
                surfaced_tickets=len(verdict.surfaced_tickets),
                refusing_channel=REFUSING if cfg.refusing_channel else None,
                refusing_from_message=customers.refusing_from,
                refused_deliveries=len(verdict.refused),
                refused_surfaced=len(verdict.refused & set(verdict.surfaced)),
                surfaced_by_purpose=dict(verdict.surfaced_purposes),
                drain_seconds=round((drained_at or time.monotonic()) - killer.last_restart_at, 2),
                stream_seconds=round(stream_end - began, 2),
                total_seconds=round(time.monotonic() - began, 2),
                dead_jobs=sum(1 for w in verdict.warnings if w.startswith("dead job")),
                log_errors=sum(1 for line in output.splitlines() if " ERROR " in line),
                bot_exit_code=exit_code,
                problems={
                    "duplicate": verdict.duplicates,
                    "lost": verdict.lost,
                    "warning": verdict.warnings,
                    "start_failure": killer.start_failures,
                },
                fault_rates={
                    "slack_429": cfg.slack_429,
                    "slack_500": cfg.slack_500,
                    "slack_500_after_store": cfg.slack_500_after_store,
                    "llm_timeout": cfg.llm_timeout,
                    "llm_500": cfg.llm_500,
                    "llm_malformed_json": cfg.llm_malformed_json,
                    "llm_malformed_body": cfg.llm_malformed_body,
                },
            )
            return report
        finally:
            for replica in replicas:
                if replica.bot.alive:
                    replica.bot.terminate()
            if checker is not None:
                await checker.close()
            await llm.stop()
            await slack.stop()


async def _drain(
    cfg: FaultRunConfig,
    db: Database,
    customers: Customers,
    reviewers: Reviewers,
    log: Callable[[str], None],
) -> float | None:
    """Wait until every message is acknowledged, no work is due, and every card is decided;
    the moment that first held (twice in a row), or None on timeout."""
    deadline = time.monotonic() + cfg.drain_timeout
    calm_since: float | None = None
    last_note = 0.0
    while time.monotonic() < deadline:
        work = await pending_work(db)
        idle = (
            customers.finished_at is not None
            and all(t.done() for t in customers.tasks)
            and not any(work.values())
            and reviewers.busy == 0
        )
        now = time.monotonic()
        if idle:
            if calm_since is None:
                calm_since = now
            elif now - calm_since >= 0.5:
                return calm_since
        else:
            calm_since = None
        if now - last_note > 10:
            last_note = now
            log(f"waiting: {work}, {reviewers.busy} card(s) being reviewed")
        await asyncio.sleep(0.25)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.faults", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--messages", type=int, default=None, help="customer messages (300)")
    parser.add_argument("--kills", type=int, default=None, help="SIGKILLs while streaming (20)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="40 messages, 4 kills")
    parser.add_argument(
        "--eager-follow-ups",
        type=float,
        default=None,
        metavar="SHARE",
        help="share of follow-ups written before the bot replied, even before Slack delivered"
        " the question (0)",
    )
    parser.add_argument("--replicas", type=int, default=1, help="bot processes (1)")
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="postgresql: a throwaway server from the machine's initdb/pg_ctl (sqlite)",
    )
    parser.add_argument("--database-url", default=None, help="an existing database instead")
    parser.add_argument(
        "--slow-reviews",
        type=float,
        default=None,
        metavar="SHARE",
        help="share of cards nobody acts on for a few seconds, so reminders fire (0)",
    )
    parser.add_argument(
        "--refusing-channel",
        action="store_true",
        help=f"a second support channel whose posts Slack refuses ({REFUSAL}) from"
        " part-way through; every reply not delivered must be surfaced",
    )
    parser.add_argument("--out", type=Path, default=None, help="where the JSON goes")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the DB and log here")
    args = parser.parse_args(argv)
    cfg = FaultRunConfig.quick() if args.quick else FaultRunConfig()
    if args.messages is not None:
        cfg.messages = args.messages
    if args.kills is not None:
        cfg.kills = args.kills
    cfg.seed = args.seed
    if args.eager_follow_ups is not None:
        cfg.eager_follow_up_share = args.eager_follow_ups
    cfg.workdir = args.workdir
    cfg.replicas = max(1, args.replicas)
    if args.slow_reviews is not None:
        cfg.slow_review_share = args.slow_reviews
    cfg.refusing_channel = args.refusing_channel
    if args.database_url:
        cfg.database_url = args.database_url
    elif args.backend == "postgresql":
        cfg.database_url = postgres_server().fresh_database()
    command = bench_command("bench.faults", argv)
    try:
        report = asyncio.run(run_fault_run(cfg, command))
    except RuntimeError as exc:
        print(f"the fault run could not complete: {exc}", file=sys.stderr)
        return 2
    print(report.describe())
    name = "faults-quick" if args.quick else "faults"
    if cfg.replicas > 1:
        name += f"-replicas-{cfg.replicas}"
    if cfg.refusing_channel:
        name += "-refusing-channel"
    out = args.out or RESULTS / f"{name}.json"
    write_json(out, report.to_json())
    print(f"  written to {out}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
