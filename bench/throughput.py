"""Throughput: what the bot itself costs, next to a bare Bolt app in the same harness.

Run from the repository root (a benchmark, not a test)::

    .venv/bin/python -m bench.throughput [--quick] [--tickets 10000] [--chunks 100000]
                                         [--only bot|bare] [--out PATH] [--workdir DIR]
                                         [--llm-latency 1.0] [--phases ... first_reply]

What happens, once for the bot and once for the reference floor (``bench/bare_app.py``, a bare
Bolt ``AsyncApp`` that answers every message in its thread with a fixed text):

* The fake Slack and fake OpenAI servers run in a subprocess of their own
  (``bench/fake_services.py``), so their work does not delay this process, which only sends
  requests and reads clocks. The fake model classifies every question as a confident FAQ and
  drafts from the first article the bot showed it, so the bot's own retrieval verdict decides
  whether it answers or escalates, as in production; its latency is set per phase.
* The app under test runs as a real process in HTTP mode (``support-bot start`` with a real
  SQLite file holding ``--chunks`` knowledge chunks of real help-centre text from
  ``shared/eval-data``), and gets signed ``message`` events from customers of another team,
  open loop: each at its scheduled moment, whatever the app is doing.
* Phases: a warm-up; *fill*: ``--tickets`` questions offered at 200/s with a 0 ms model (this is
  the sustained throughput at 0 ms, and leaves that many tickets in the database); *cost*: 1,000
  questions at 20/s, measuring the process's CPU seconds (utime + stime from /proc), its own
  time from event to ``chat.postMessage`` with the model's time taken out, and the prompt tokens
  the fake counted; *ack*: 5 s at each of 50, 200 and 500 messages/s offered, timing every HTTP
  acknowledgement (the queue is drained between rates); *slow model* (bot only): 240 questions
  at 20/s against a 2 s model, throughput in the steady middle of the run, against the ceiling
  ``LLM_CONCURRENCY / (model calls per question x 2 s)``, with the most completions in flight
  and how long customers waited for their first reply while the model was the bottleneck;
  *first reply* (bot only): questions at a realistic 2/s against a model taking
  ``--llm-latency`` seconds a call (1.0), timing each from its event to the first
  ``chat.postMessage`` in its thread, against the target of one model call + 100 ms; figures
  for all questions, and apart for those whose draft was written once (the first search found
  what the draft needed) and those drafted again (from the fake's notes: its draft calls).
  ``--phases`` runs only some phases (the warm-up always runs).
* Peak RSS is the process's VmHWM at the end (the high-water mark over every phase).

It prints a table with the ratios to the bare app and writes the JSON to
``bench/results/throughput.json`` (``throughput-quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp

from bench import datasets as ds
from bench.harness import (
    peak_rss_mb,
    process_cpu,
    progress_log,
    result_head,
    run_bench,
    stop_process,
    wait_listening,
    work_folder,
)
from bench.metrics import percentile
from bench.retrieval import UPSERT_BATCH, article_input, code_under_test
from bot.sandbox.signed import SlackSender, sign
from persistence.db import Database
from persistence.knowledge import KnowledgeRepository
from persistence.sqlite import SqliteDatabase
from tests.utils.harness import (
    BOT_TOKEN,
    CUSTOMER_TEAM,
    ESCALATION,
    HOME_TEAM,
    LLM_KEY,
    OTHER_REVIEWER,
    REVIEWER,
    SIGNING_SECRET,
    SUPPORT,
)
from tests.utils.process import SUPPORT_BOT, base_env, free_port

Json = dict[str, Any]
AppKind = Literal["bot", "bare"]

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
EVAL_DATA = ROOT.parent / "shared" / "eval-data"
AUTO_ANSWER_MARK = "Here is how that works"  # the fake model's draft (bench/fake_services.py)
LLM_CONCURRENCY = 16
SLOW_MODEL_SECONDS = 2.0
FIRST_REPLY_RATE = 2.0  # questions/s: a busy support channel, well under any limit
FIRST_REPLY_MARGIN_MS = 100.0  # the target: first reply within one model call + this
PHASES = ("fill", "cost", "ack", "slow_model", "first_reply")


@dataclass
class BenchConfig:
    tickets: int = 10_000
    chunks: int = 100_000
    fill_rate: float = 200.0
    cost_questions: int = 1_000
    cost_rate: float = 20.0
    ack_rates: tuple[float, ...] = (50.0, 200.0, 500.0)
    ack_seconds: float = 5.0
    slow_questions: int = 240
    slow_rate: float = 20.0
    first_reply_questions: int = 120
    llm_latency: float = 1.0  # the model's seconds per call in the first-reply phase
    phases: tuple[str, ...] = PHASES
    drain_timeout: float = 900.0
    only: AppKind | None = None
    workdir: Path | None = None
    # Run the bot from another checkout (``python -m bot start`` with it first on sys.path):
    # the same harness measuring earlier code, for before/after figures.
    code: Path | None = None

    @classmethod
    def quick(cls) -> BenchConfig:
        return cls(
            tickets=1_000,
            chunks=10_000,
            cost_questions=300,
            ack_seconds=2.0,
            slow_questions=80,
            first_reply_questions=60,
        )


# ---------------------------------------------------------------------------- the fakes


class Fakes:
    """``bench/fake_services.py`` as a subprocess, and its control API."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.slack_url = ""
        self.llm_url = ""
        self.control = ""
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.fake_services",
                "--token",
                BOT_TOKEN,
                "--llm-key",
                LLM_KEY,
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = await asyncio.to_thread(self.proc.stdout.readline)
        if not line:
            raise RuntimeError("the fake services did not start")
        ports = json.loads(line)
        self.slack_url = ports["slack_url"]
        self.llm_url = ports["llm_url"]
        self.control = f"http://127.0.0.1:{ports['control_port']}"
        self.session = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    async def _get(self, path: str) -> Json:
        assert self.session is not None
        async with self.session.get(self.control + path) as response:
            return dict(await response.json())

    async def _post(self, path: str, body: Json | None = None) -> None:
        assert self.session is not None
        async with self.session.post(self.control + path, json=body or {}) as response:
            response.raise_for_status()

    async def posts(self, since: int = 0) -> list[Json]:
        return list((await self._get(f"/posts?since={since}"))["posts"])

    async def completions(self, since: int = 0) -> tuple[list[Json], int]:
        body = await self._get(f"/llm?since={since}")
        return list(body["completions"]), int(body["max_in_flight"])

    async def set_latency(self, seconds: float) -> None:
        await self._post("/latency", {"seconds": seconds})

    async def reset(self) -> None:
        await self._post("/reset")


# ---------------------------------------------------------------------------- the app under test


async def fill_knowledge(db: Database, chunks: int) -> dict[str, Any]:
    """Open ``db``, fill it with ``chunks`` chunks of real help-centre text as the bot does,
    and close it."""
    pool = ds.latency_corpus(EVAL_DATA)
    articles, copies = ds.corpus_of_size(pool, chunks)
    await db.open()
    try:
        repo = KnowledgeRepository(db)
        inputs = [article_input(a) for a in articles]
        for start in range(0, len(inputs), UPSERT_BATCH):
            await repo.upsert_many(inputs[start : start + UPSERT_BATCH])
    finally:
        await db.close()
    return {"articles": len(articles), "chunks": chunks, "pool_copies": copies}


def prepare_knowledge(db_path: Path, chunks: int) -> dict[str, Any]:
    """A database holding ``chunks`` chunks of real help-centre text, filled as the bot does."""
    return asyncio.run(fill_knowledge(SqliteDatabase(str(db_path)), chunks))


def app_env(
    kind: AppKind, workdir: Path, fakes: Fakes, port: int, code: Path | None = None
) -> dict[str, str]:
    env = base_env(workdir)
    if code is not None and kind == "bot":
        env["PYTHONPATH"] = str(code)
    env.update(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fakes.slack_url,
            "HOST": "127.0.0.1",
            "PORT": str(port),
        }
    )
    if kind == "bot":
        env.update(
            {
                "DATABASE_URL": f"sqlite:///{workdir / 'bot.db'}",
                "SUPPORT_CHANNELS": SUPPORT,
                "ESCALATION_CHANNEL": ESCALATION,
                "SUPPORT_REVIEWERS": f"{REVIEWER},{OTHER_REVIEWER}",
                "OPENAI_API_KEY": LLM_KEY,
                "OPENAI_BASE_URL": fakes.llm_url,
                "LLM_TIMEOUT": "30",
                "LLM_CONCURRENCY": str(LLM_CONCURRENCY),
                "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
            }
        )
    return env


class AppProcess:
    def __init__(
        self, kind: AppKind, env: dict[str, str], workdir: Path, code: Path | None = None
    ) -> None:
        self.code = code
        self.kind = kind
        self.env = env
        self.workdir = workdir
        self.log = workdir / f"{kind}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self, port: int) -> None:
        if self.kind == "bare":
            command = [sys.executable, "-m", "bench.bare_app"]
        elif self.code is not None:
            command = [sys.executable, "-m", "bot", "start"]
        else:
            command = [SUPPORT_BOT, "start"]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                command,
                env=self.env,
                cwd=ROOT if self.kind == "bare" else self.workdir,
                stdout=log,
                stderr=log,
            )
        await wait_listening(self.proc, port, 60, self.kind, self.log.read_text)

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        return process_cpu(self.proc.pid)

    def peak_rss_mb(self) -> float:
        assert self.proc is not None
        return peak_rss_mb(self.proc.pid)

    def stop(self) -> None:
        stop_process(self.proc)


# ---------------------------------------------------------------------------- the customers


@dataclass
class Question:
    ts: str
    text: str
    sent_at: float = 0.0  # wall clock, when the request left
    ack_ms: float | None = None
    status: int | None = None


@dataclass
class Customers:
    """Open-loop senders of signed message events over one keep-alive connection pool.

    With ``spread``, the events go to those URLs round-robin, as a load balancer spreads them
    over replicas (a retry goes to the next one); otherwise all go to ``url``."""

    url: str
    texts: Sequence[str]
    session: aiohttp.ClientSession
    spread: Sequence[str] = ()
    sender: SlackSender = field(init=False)
    sent: list[Question] = field(default_factory=list)
    _next_text: int = 0

    def __post_init__(self) -> None:
        self.sender = SlackSender(self.url, SIGNING_SECRET, team_id=HOME_TEAM)

    def _text(self) -> str:
        text = self.texts[self._next_text % len(self.texts)]
        self._next_text += 1
        return text

    async def _send(self, question: Question, index: int) -> None:
        event = {
            "type": "message",
            "channel": SUPPORT,
            "user": f"UCUST{index % 500:03d}",
            "text": question.text,
            "ts": question.ts,
            "event_ts": question.ts,
            "team": CUSTOMER_TEAM,
            "user_team": CUSTOMER_TEAM,
            "source_team": CUSTOMER_TEAM,
            "channel_type": "channel",
        }
        body = json.dumps(self.sender.envelope(event, self.sender.new_event_id(), shared=True))
        headers = sign(body, SIGNING_SECRET)
        urls = self.spread or (self.url,)
        for attempt in range(5):
            if attempt:
                # Slack retries a delivery that failed; a load balancer sends it anywhere.
                headers["X-Slack-Retry-Num"] = str(attempt)
                headers["X-Slack-Retry-Reason"] = "http_timeout"
                await asyncio.sleep(1.0)
            url = urls[(index + attempt) % len(urls)]
            question.sent_at = time.time()
            started = time.perf_counter()
            try:
                async with self.session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError, OSError):
                status = 0
            if question.ack_ms is None:
                question.ack_ms = 1000 * (time.perf_counter() - started)
            question.status = status
            if status == 200:
                return

    async def offer(
        self, count: int, rate: float, texts: Sequence[str] | None = None
    ) -> list[Question]:
        """Send ``count`` questions, one every 1/rate seconds, without waiting for answers."""
        batch: list[Question] = []
        tasks = []
        began = time.perf_counter()
        for i in range(count):
            due = began + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            text = texts[i % len(texts)] if texts is not None else self._text()
            question = Question(ts=self.sender.new_ts(), text=text)
            batch.append(question)
            tasks.append(asyncio.create_task(self._send(question, len(self.sent) + i)))
        await asyncio.gather(*tasks)
        self.sent.extend(batch)
        return batch


# ---------------------------------------------------------------------------- measuring


async def wait_answered(
    fakes: Fakes, questions: Sequence[Question], timeout: float, since: int = 0
) -> dict[str, Json]:
    """Wait until every question has a reply in its thread; return the first reply by ts."""
    wanted = {q.ts for q in questions}
    first: dict[str, Json] = {}
    deadline = time.monotonic() + timeout
    offset = since
    while True:
        new = await fakes.posts(offset)
        offset += len(new)
        for post in new:
            thread = post.get("thread_ts")
            if thread in wanted and thread not in first and post.get("channel") == SUPPORT:
                first[thread] = post
        if len(first) >= len(wanted):
            return first
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(wanted) - len(first)} question(s) got no reply in {timeout}s")
        await asyncio.sleep(0.25)


async def settle(kind: AppKind, workdir: Path, timeout: float = 300.0) -> None:
    """Wait until the app has no work left (cards, job completions), so the next phase's
    figures are its own. The bare app has no queue: a second's pause is enough."""
    if kind == "bare":
        await asyncio.sleep(1.0)
        return
    db = workdir / "bot.db"
    deadline = time.monotonic() + timeout

    def busy() -> int:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM jobs WHERE state = 'running'"
                " OR (state = 'pending' AND available_at <= ?)",
                (time.time() + 30,),
            ).fetchone()
        return int(row[0])

    while await asyncio.to_thread(busy):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the bot did not finish its work within {timeout}s")
        await asyncio.sleep(0.25)
    await asyncio.sleep(0.5)


def in_flight_peak(questions: Sequence[Question], replies: dict[str, Json]) -> int:
    """The most questions at once that had been sent and not yet answered."""
    events = [(q.sent_at, 1) for q in questions if q.ts in replies]
    events += [(replies[q.ts]["at"], -1) for q in questions if q.ts in replies]
    peak = current = 0
    for _, delta in sorted(events):
        current += delta
        peak = max(peak, current)
    return peak


def throughput(questions: Sequence[Question], replies: dict[str, Json]) -> float:
    """Questions answered per second, from the first question sent to the last one answered."""
    done = [replies[q.ts]["at"] for q in questions if q.ts in replies]
    if not done:
        return float("nan")
    span = max(done) - min(q.sent_at for q in questions)
    return len(done) / span if span > 0 else float("nan")


def _summary(values: Sequence[float], tail: int) -> Json:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        f"p{tail}": percentile(values, tail),
        "max": max(values),
    }


def spread(values: Sequence[float]) -> Json:
    """n, p50, p90, max."""
    return _summary(values, 90)


def distribution(values: Sequence[float]) -> Json:
    """n, p50, p99, max."""
    return _summary(values, 99)


@dataclass
class AppReport:
    kind: AppKind
    figures: Json = field(default_factory=dict)


async def measure_app(
    kind: AppKind, cfg: BenchConfig, fakes: Fakes, workdir: Path, log: Any
) -> AppReport:
    report = AppReport(kind)
    f = report.figures
    port = free_port()
    app = AppProcess(kind, app_env(kind, workdir, fakes, port, cfg.code), workdir, cfg.code)
    texts = unique = ds.replied_questions(EVAL_DATA, 4000)  # each gets a reply
    await fakes.reset()
    await fakes.set_latency(0.0)
    await app.start(port)
    connector = aiohttp.TCPConnector(limit=256)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        customers = Customers(f"http://127.0.0.1:{port}/slack/events", texts, session)
        try:
            # Warm-up: imports, caches, first connections.
            warm = await customers.offer(30, 10.0)
            await wait_answered(fakes, warm, 120)
            await settle(kind, workdir)

            if "fill" in cfg.phases:
                await fill_phase(kind, cfg, fakes, customers, len(warm), workdir, f, log)

            if "cost" in cfg.phases:
                await cost_phase(kind, cfg, fakes, customers, unique, app, workdir, f, log)

            if "ack" in cfg.phases:
                await ack_phase(kind, cfg, fakes, customers, workdir, f, log)

            if kind == "bot" and cfg.slow_questions and "slow_model" in cfg.phases:
                await slow_phase(kind, cfg, fakes, customers, f, log)

            if kind == "bot" and cfg.first_reply_questions and "first_reply" in cfg.phases:
                await first_reply_phase(kind, cfg, fakes, customers, unique, workdir, f, log)
            f["peak_rss_mb"] = app.peak_rss_mb()
            f["questions_total"] = len(customers.sent)
        finally:
            app.stop()
    return report


async def fill_phase(
    kind: AppKind,
    cfg: BenchConfig,
    fakes: Fakes,
    customers: Customers,
    warmed: int,
    workdir: Path,
    f: Json,
    log: Any,
) -> None:
    log(f"{kind}: fill {cfg.tickets} questions at {cfg.fill_rate:.0f}/s (0 ms model)")
    posts_before = len(await fakes.posts())
    fill = await customers.offer(max(0, cfg.tickets - warmed), cfg.fill_rate)
    replies = await wait_answered(fakes, fill, cfg.drain_timeout, posts_before)
    f["fill"] = {
        "questions": len(fill),
        "offered_per_s": cfg.fill_rate,
        "throughput_per_s": throughput(fill, replies),
        "in_flight_peak": in_flight_peak(fill, replies),
        "wall_s": max(r["at"] for r in replies.values()) - fill[0].sent_at,
    }
    log(f"{kind}: fill {f['fill']['throughput_per_s']:.1f}/s")
    await settle(kind, workdir)


async def cost_phase(
    kind: AppKind,
    cfg: BenchConfig,
    fakes: Fakes,
    customers: Customers,
    unique: Sequence[str],
    app: AppProcess,
    workdir: Path,
    f: Json,
    log: Any,
) -> None:
    log(f"{kind}: cost {cfg.cost_questions} questions at {cfg.cost_rate:.0f}/s")
    posts_before = len(await fakes.posts())
    llm_before = len((await fakes.completions())[0])
    cpu_before = app.cpu_seconds()
    cost = await customers.offer(cfg.cost_questions, cfg.cost_rate, unique)
    replies = await wait_answered(fakes, cost, cfg.drain_timeout, posts_before)
    await settle(kind, workdir)  # the cards and completions belong to these questions
    cpu = app.cpu_seconds() - cpu_before
    completions, _ = await fakes.completions(llm_before)
    f["cost"] = cost_figures(cost, replies, completions, cpu)
    log(f"{kind}: cost {f['cost']['cpu_s_per_1000']:.1f} CPU s / 1000")


async def ack_phase(
    kind: AppKind,
    cfg: BenchConfig,
    fakes: Fakes,
    customers: Customers,
    workdir: Path,
    f: Json,
    log: Any,
) -> None:
    f["ack"] = {}
    for rate in cfg.ack_rates:
        count = int(rate * cfg.ack_seconds)
        log(f"{kind}: ack at {rate:.0f}/s ({count} questions)")
        posts_before = len(await fakes.posts())
        batch = await customers.offer(count, rate)
        acks = [q.ack_ms for q in batch if q.ack_ms is not None]
        f["ack"][str(int(rate))] = {
            **distribution(acks),
            "not_200_first_time": sum(1 for q in batch if q.status != 200),
        }
        await wait_answered(fakes, batch, cfg.drain_timeout, posts_before)
        await settle(kind, workdir)


async def slow_phase(
    kind: AppKind, cfg: BenchConfig, fakes: Fakes, customers: Customers, f: Json, log: Any
) -> None:
    log(f"{kind}: slow model, {cfg.slow_questions} questions at {cfg.slow_rate:.0f}/s")
    await fakes.set_latency(SLOW_MODEL_SECONDS)
    posts_before = len(await fakes.posts())
    llm_before = len((await fakes.completions())[0])
    slow = await customers.offer(cfg.slow_questions, cfg.slow_rate)
    replies = await wait_answered(fakes, slow, cfg.drain_timeout, posts_before)
    completions, max_in_flight = await fakes.completions(llm_before)
    await fakes.set_latency(0.0)
    calls = len(completions) / len(slow)
    ceiling = LLM_CONCURRENCY / (calls * SLOW_MODEL_SECONDS)
    measured = throughput(slow, replies)
    f["slow_model"] = {
        "questions": len(slow),
        "model_seconds": SLOW_MODEL_SECONDS,
        "model_calls_per_question": calls,
        "throughput_per_s": measured,
        "ceiling_per_s": ceiling,
        "share_of_ceiling": measured / ceiling,
        "max_completions_in_flight": max_in_flight,
        "in_flight_peak": in_flight_peak(slow, replies),
        # Saturated: how long customers wait while the model is the bottleneck.
        "first_reply_ms": spread(
            [1000 * (replies[q.ts]["at"] - q.sent_at) for q in slow if q.ts in replies]
        ),
    }
    log(f"{kind}: slow model {measured:.2f}/s of {ceiling:.2f}/s")


async def first_reply_phase(
    kind: AppKind,
    cfg: BenchConfig,
    fakes: Fakes,
    customers: Customers,
    unique: Sequence[str],
    workdir: Path,
    f: Json,
    log: Any,
) -> None:
    """Questions at FIRST_REPLY_RATE against a model taking ``cfg.llm_latency`` s a call: how
    long each customer waits for the first reply in their thread."""
    n = cfg.first_reply_questions
    log(
        f"{kind}: first reply, {n} questions at {FIRST_REPLY_RATE:.0f}/s,"
        f" {cfg.llm_latency:.2f} s model"
    )
    await fakes.set_latency(cfg.llm_latency)
    posts_before = len(await fakes.posts())
    llm_before = len((await fakes.completions())[0])
    # Texts not asked in this phase before, so the fake's notes tell each question's calls.
    texts = list(unique[-n:])
    batch = await customers.offer(n, FIRST_REPLY_RATE, texts)
    replies = await wait_answered(fakes, batch, cfg.drain_timeout, posts_before)
    await settle(kind, workdir)
    completions, _ = await fakes.completions(llm_before)
    await fakes.set_latency(0.0)
    f["first_reply"] = first_reply_figures(batch, replies, completions, cfg.llm_latency)
    figures = f["first_reply"]["first_reply_ms"]
    log(f"{kind}: first reply p50 {figures['p50']:.0f} ms, p90 {figures['p90']:.0f} ms")


def first_reply_figures(
    questions: Sequence[Question],
    replies: dict[str, Json],
    completions: list[Json],
    model_seconds: float,
) -> Json:
    """Event → first post in the thread, for every question and apart by how many drafts the
    question cost (one: the first search found what the draft needed; more: drafted again)."""
    by_question: dict[str, list[Json]] = {}
    for note in completions:
        by_question.setdefault(note["question"], []).append(note)
    every: list[float] = []
    once: list[float] = []
    again: list[float] = []
    for q in questions:
        reply = replies.get(q.ts)
        if reply is None:
            continue
        ms = 1000 * (reply["at"] - q.sent_at)
        every.append(ms)
        drafts = sum(1 for n in by_question.get(q.text, []) if n["kind"] == "draft")
        if drafts == 1:
            once.append(ms)
        elif drafts > 1:
            again.append(ms)

    target = 1000 * model_seconds + FIRST_REPLY_MARGIN_MS
    return {
        "questions": len(questions),
        "offered_per_s": FIRST_REPLY_RATE,
        "model_seconds": model_seconds,
        "model_calls_per_question": len(completions) / len(questions) if questions else None,
        "first_reply_ms": spread(every),
        "drafted_once_ms": spread(once),
        "drafted_again_ms": spread(again),
        "target_p50_ms": target,
        "drafted_once_p50_within_target": bool(once) and percentile(once, 50) <= target,
        "auto_answered": sum(
            1
            for q in questions
            if str(replies.get(q.ts, {}).get("text", "")).startswith(AUTO_ANSWER_MARK)
        ),
    }


def cost_figures(
    questions: Sequence[Question], replies: dict[str, Json], completions: list[Json], cpu: float
) -> Json:
    by_question: dict[str, list[Json]] = {}
    for note in completions:
        by_question.setdefault(note["question"], []).append(note)
    own_ms: list[float] = []
    tokens: list[float] = []
    answered = 0
    for q in questions:
        reply = replies.get(q.ts)
        if reply is None:
            continue
        notes = by_question.get(q.text, [])
        model_s = sum(n["end"] - n["start"] for n in notes if n["end"] <= reply["at"])
        own_ms.append(1000 * (reply["at"] - q.sent_at - model_s))
        if str(reply.get("text", "")).startswith(AUTO_ANSWER_MARK):
            answered += 1
            tokens.append(sum(n["prompt_tokens"] for n in notes))
    return {
        "questions": len(questions),
        "cpu_s": cpu,
        "cpu_s_per_1000": 1000 * cpu / len(questions),
        "own_ms_event_to_post": {
            "p50": percentile(own_ms, 50),
            "p99": percentile(own_ms, 99),
        },
        "auto_answered": answered,
        "prompt_tokens_per_answer": (
            {"median": percentile(tokens, 50), "p95": percentile(tokens, 95)} if tokens else None
        ),
    }


# ---------------------------------------------------------------------------- report


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def _get(d: Json, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def describe(result: Json) -> str:
    bot, bare = result.get("bot", {}), result.get("bare", {})
    rows: list[tuple[str, Any, Any, str]] = []

    def row(label: str, path: tuple[str, ...], fmt: str = "{:.1f}", target: str = "") -> None:
        a, b = _get(bot, *path), _get(bare, *path)
        rows.append(
            (
                label,
                "-" if a is None else fmt.format(a),
                "-" if b is None else fmt.format(b),
                ratio(a, b) + (f"  ({target})" if target else ""),
            )
        )

    for rate in ("50", "200", "500"):
        for stat in ("p50", "p99", "max"):
            target = "target < 50 ms" if rate == "200" and stat == "p99" else ""
            row(f"ack latency at {rate}/s, {stat} (ms)", ("ack", rate, stat), target=target)
    row("own time event→post, p50 (ms)", ("cost", "own_ms_event_to_post", "p50"))
    row("own time event→post, p99 (ms)", ("cost", "own_ms_event_to_post", "p99"))
    row("throughput, 0 ms model (questions/s)", ("fill", "throughput_per_s"))
    row("in flight at once, 0 ms model", ("fill", "in_flight_peak"), "{:.0f}")
    row("throughput, 2 s model (questions/s)", ("slow_model", "throughput_per_s"), "{:.2f}")
    row("  ceiling LLM_CONCURRENCY/(calls x 2 s)", ("slow_model", "ceiling_per_s"), "{:.2f}")
    row("  completions in flight at most", ("slow_model", "max_completions_in_flight"), "{:.0f}")
    row("  in flight at once, 2 s model", ("slow_model", "in_flight_peak"), "{:.0f}")
    row("  first reply, 2 s model, p50 (ms)", ("slow_model", "first_reply_ms", "p50"), "{:.0f}")
    row("  first reply, 2 s model, p90 (ms)", ("slow_model", "first_reply_ms", "p90"), "{:.0f}")
    model_s = _get(bot, "first_reply", "model_seconds")
    if model_s is not None:
        at = f"{FIRST_REPLY_RATE:.0f}/s, {model_s:g} s model"
        target = f"target p50 <= {1000 * model_s + FIRST_REPLY_MARGIN_MS:.0f}"
        path = ("first_reply", "first_reply_ms")
        row(f"first reply at {at}, p50 (ms)", (*path, "p50"), "{:.0f}", target)
        row(f"first reply at {at}, p90 (ms)", (*path, "p90"), "{:.0f}")
        once = ("first_reply", "drafted_once_ms")
        row("  drafted once (first search sufficed), p50", (*once, "p50"), "{:.0f}", target)
        row("  drafted once (first search sufficed), p90", (*once, "p90"), "{:.0f}")
        row("  drafted once, questions", (*once, "n"), "{:.0f}")
        again = ("first_reply", "drafted_again_ms")
        row("  drafted again, p50 (ms)", (*again, "p50"), "{:.0f}")
        row("  drafted again, questions", (*again, "n"), "{:.0f}")
        row("  model calls per question", ("first_reply", "model_calls_per_question"), "{:.2f}")
    row("CPU s per 1,000 questions", ("cost", "cpu_s_per_1000"), "{:.2f}", "target <= 3x")
    row("peak RSS (MB)", ("peak_rss_mb",), "{:.0f}", "target < 250 MB")
    row(
        "prompt tokens per answer, median",
        ("cost", "prompt_tokens_per_answer", "median"),
        "{:.0f}",
        "target < 2,000",
    )
    row("prompt tokens per answer, p95", ("cost", "prompt_tokens_per_answer", "p95"), "{:.0f}")
    widths = [
        max(len(str(r[i])) for r in [*rows, ("figure", "bot", "bare Bolt", "ratio")])
        for i in range(4)
    ]
    lines = []
    for r in [("figure", "bot", "bare Bolt", "bot / bare"), *rows]:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
    share = _get(bot, "slow_model", "share_of_ceiling")
    if share is not None:
        lines.append(f"2 s model: {100 * share:.0f}% of the LLM_CONCURRENCY ceiling")
    answered = _get(bot, "cost", "auto_answered")
    if answered is not None:
        lines.append(
            f"cost phase: {answered} of {_get(bot, 'cost', 'questions')} questions answered by"
            " the bot itself, the rest escalated (retrieval found nothing that fits)"
        )
    return "\n".join(lines)


def machine() -> Json:
    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_avg_at_start": [round(x, 2) for x in load],
    }


async def run(cfg: BenchConfig, command: str) -> Json:
    began = time.monotonic()
    log = progress_log(began)
    result = result_head(command, cfg, machine(), code_under_test())
    with contextlib.ExitStack() as stack:
        workdir = work_folder(stack, cfg.workdir, "tput-")
        fakes = Fakes()
        await fakes.start()
        try:
            kinds: tuple[AppKind, ...] = ("bot", "bare")
            for kind in kinds:
                if cfg.only not in (None, kind):
                    continue
                folder = workdir / kind
                folder.mkdir(exist_ok=True)
                if kind == "bot":
                    log(f"knowledge base: {cfg.chunks} chunks")
                    db = folder / "bot.db"
                    if db.exists():
                        db.unlink()
                    result["knowledge"] = await asyncio.to_thread(prepare_knowledge, db, cfg.chunks)
                report = await measure_app(kind, cfg, fakes, folder, log)
                result[kind] = report.figures
        finally:
            await fakes.stop()
    result["wall_s"] = time.monotonic() - began
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.throughput", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="1k tickets, 10k chunks, shorter")
    parser.add_argument("--tickets", type=int, default=None)
    parser.add_argument("--chunks", type=int, default=None)
    parser.add_argument("--only", choices=("bot", "bare"), default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--code", type=Path, default=None, help="measure the bot from this checkout instead"
    )
    parser.add_argument(
        "--llm-latency",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="the fake model's seconds per call in the first-reply phase (1.0)",
    )
    parser.add_argument(
        "--phases",
        nargs="+",
        choices=PHASES,
        default=list(PHASES),
        help="which phases to run (all); e.g. --phases first_reply",
    )
    args = parser.parse_args(argv)
    if args.llm_latency < 0:
        parser.error("--llm-latency must be 0 or more")
    cfg = BenchConfig.quick() if args.quick else BenchConfig()
    if args.tickets is not None:
        cfg.tickets = args.tickets
    if args.chunks is not None:
        cfg.chunks = args.chunks
    cfg.only = args.only
    cfg.llm_latency = args.llm_latency
    cfg.phases = tuple(args.phases)
    cfg.workdir = args.workdir
    cfg.code = args.code.resolve() if args.code is not None else None
    out = args.out or RESULTS / ("throughput-quick.json" if args.quick else "throughput.json")
    return run_bench(
        "bench.throughput", argv, "throughput", lambda command: run(cfg, command), describe, out
    )


if __name__ == "__main__":
    sys.exit(main())
