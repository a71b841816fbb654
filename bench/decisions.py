"""End-to-end decision benchmark: does the bot answer by itself, or escalate to a human?

Run from the repository root (a benchmark, not a test)::

    .venv/bin/python -m bench.decisions [--datasets bitext banking77-oos clinc150 hint3]
        [--modes careful credulous offline] [--limit 600] [--split test|validation]
        [--concurrency 8] [--data ../shared/eval-data] [--out PATH]

Each dataset's questions are rewritten the way people write in Slack (``bench.slack_style``:
greetings, order ids, context, typos, sign-offs, two questions at once, follow-ups in a thread),
and every message goes through the real bot: a real SQLite database file holding the dataset's
knowledge base (``KnowledgeRepository.upsert_many``, as ``bench.retrieval`` fills it), the real
``Intake`` filing the message on a ticket (follow-ups: the thread's question, the reply the bot or
a teammate gave, then the follow-up, which starts a new round), then the real
``Workflow.advance`` with a real ``SupportModel`` talking HTTP to a ``FakeOpenAI`` server on
127.0.0.1. The outcome is read from the ticket: ``decision`` (answer or escalate, and why),
``draft`` (the articles cited) and ``retrieval``. The outbox jobs a decision queues are not run:
nothing is sent anywhere.

The fake model is scripted (``ScriptedModel``); it knows each message's gold article(s), looked
up from the prompt (the latest message and the thread):

* ``careful``: classifies every message as a confident simple FAQ (``wants_human`` only for
  questions that ask for a person) with ``search_query`` = the clean question; its draft says
  grounded and cites the gold article(s) only when every one of them was shown in the prompt,
  with an answer made of the gold passages' text. Out-of-scope questions are never grounded.
* ``credulous``: classifies the same way; its draft always claims grounded, citing the first
  article shown, and in a seeded 20% of drafts states a number no shown passage holds.
* ``offline``: no model at all (no OPENAI_API_KEY): the bot searches by itself and puts the best
  passage on a review card; nothing is answered automatically.

Reported per dataset and mode, on the chosen split: answered correctly (auto-answered, citing
every gold article), answered wrongly (auto-answered, in scope, not citing every gold article;
the worst outcome), escalated though answerable (shares of the answerable messages),
out-of-scope answered (share of the out-of-scope messages), messages asking for a person, the
top escalation reasons, and the counts by message style; and what the rounds cost, read from
the tickets' trails: model calls and prompt tokens per message, and of the drafts written while
the message was classified (``Answerer.work_out``), the share written again once the
classification's search was known (the redraft rate), with the reasons. Tables go to stdout
(and ``decisions.txt``), progress to stderr, everything to ``decisions.json`` in
``bench/results``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import platform
import random
import re
import shlex
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import datasets as ds
from bench.retrieval import article_input, table
from bench.retrieval import code_under_test as retrieval_code_under_test
from bench.slack_style import STYLE_WEIGHTS, STYLES, Question, SlackMessage, slack_messages
from bot.jobs import kinds as jobkinds
from bot.kb.retrieval import query_terms
from bot.llm.model import SupportModel
from bot.runtime.runtime import knowledge_base
from bot.settings.environment import Settings
from bot.settings.live import LiveConfig
from bot.slack.events import InboundMessage
from bot.slack.people import People, Workspace
from bot.slack.text import clean_text
from bot.tickets.handoffs import Handoffs
from bot.tickets.intake import Intake
from bot.tickets.workflow import Workflow
from persistence.connect import database_for
from persistence.db import Database
from persistence.repos import Repositories
from tests.fakes.openai_api import FakeOpenAI

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "eval-data"
RESULTS = REPO_ROOT / "bench" / "results"

DATASETS = ("bitext", "banking77-oos", "clinc150", "hint3")
MODES = ("careful", "credulous", "offline")
SPLITS = ("test", "validation")
DEFAULT_LIMIT = 600
DEFAULT_CONCURRENCY = 8
UPSERT_BATCH = 300
SEED = ds.SEED

# Intents whose messages ask for a person: expected to escalate, reported on their own.
PERSON_LABELS = frozenset(
    {
        "bitext:contact_human_agent",
        "hint3:curekart:CHAT_WITH_AGENT",
        "hint3:powerplay11:CHAT_WITH_AN_AGENT",
    }
)
INVENT_SHARE = 0.2  # credulous drafts that state a number no shown passage holds
CONFIDENCE = 0.9  # the scripted classifier's confidence
TARGETS = {"escalated_answerable": 0.10, "oos_answered": 0.02, "wrong": 0.01}

SUPPORT = "CSUPPORT"
ESCALATION = "CESCALATE"
CUSTOMER = "UCUSTOMER"
CUSTOMER_TEAM = "TCUSTOMER"
REVIEWER = "UREVIEWER"
WORKSPACE = Workspace(
    team_id="THOME", bot_user_id="U0BOT", bot_id="B0BOT", url="https://bench.slack.com/"
)
LLM_KEY = "sk-bench-key"
LLM_NAME = "bench-scripted"
# The workflow shows each earlier turn of a thread cut to this many characters (its
# HISTORY_CHARS_PER_TURN); the scripted model compares the thread's turns as shown.
THREAD_CHARS = 800
TS_BASE = 1_700_000_000
TS_PER_MODE = 1_000_000

CODE_UNDER_TEST = (
    "bot/tickets/workflow.py",
    "bot/tickets/answering.py",
    "bot/tickets/query.py",
    "bot/tickets/grounding.py",
    "bot/tickets/policy.py",
    "bot/tickets/schemas.py",
    "bot/llm/model.py",
    "bot/kb/retrieval.py",
    "bot/kb/lexical.py",
    "bot/tickets/intake.py",
    "persistence/knowledge.py",
    "prompts/classify.md",
    "prompts/draft.md",
)

log = logging.getLogger("bench.decisions")


def progress(message: str, started: float) -> None:
    print(f"[{time.perf_counter() - started:7.1f}s] {message}", file=sys.stderr, flush=True)


# -- the datasets ---------------------------------------------------------------------------------


@dataclass
class Part:
    """One knowledge base and the questions asked of it."""

    name: str
    dataset: str
    split: str  # the files the questions come from
    articles: list[ds.Article]
    questions: list[Question]  # the (capped) questions to ask
    pool: list[Question]  # every question of the split (the second of "two questions")
    available: int  # questions in the split before the cap
    notes: list[str] = field(default_factory=list)


def _questions(queries: Sequence[ds.Query]) -> list[Question]:
    return [Question(q.text, q.gold, q.origin) for q in queries if q.text.strip()]


def load_parts(data: Path, datasets: Sequence[str], split: str, limit: int) -> list[Part]:
    tasks: list[tuple[str, ds.Task]] = []
    for name in datasets:
        if name == "bitext":
            tasks.append((name, ds.bitext(data)))
        elif name == "banking77-oos":
            tasks.append((name, ds.banking77_oos(data)))
        elif name == "clinc150":
            tasks.append((name, ds.clinc150(data)))
        elif name == "hint3":
            tasks += [(name, t) for t in ds.hint3(data)]
        else:
            raise ValueError(f"unknown dataset {name!r}")
    parts = []
    for name, task in tasks:
        if split == "test":
            articles, queries, described = task.articles, task.queries, task.eval_split
        else:
            articles = task.tune_articles if task.tune_articles is not None else task.articles
            queries, described = task.tune_queries, str(task.tune_split)
        capped = ds.cap_queries(queries, limit or None)
        tuning_index = split == "validation" and task.tune_articles is not None
        where = "the tuning index" if tuning_index else "train"
        notes = [f"knowledge base: {len(articles)} articles from {where}; questions: {described}"]
        if tuning_index:
            notes += task.notes  # how the tuning index and its out-of-scope questions are made
        if len(capped) < len(queries):
            notes.append(
                f"{len(capped)} of {len(queries)} questions, a seeded sample keeping the"
                " in-scope/out-of-scope proportion (--limit)"
            )
        parts.append(
            Part(
                name=task.name,
                dataset=name,
                split=described,
                articles=articles,
                questions=_questions(capped),
                pool=_questions(queries),
                available=len(queries),
                notes=notes,
            )
        )
    return parts


def messages_for(part: Part, seed: int) -> tuple[list[SlackMessage], int]:
    """The part's Slack messages, and how many were dropped because the same text (and thread)
    stood for another gold: the scripted model could not tell which one it was asked."""
    made = slack_messages(
        part.questions,
        pool=part.pool,
        seed=int(hashlib.sha256(f"{seed}:{part.name}".encode()).hexdigest()[:8], 16),
        titles={a.key: a.title for a in part.articles},
        wants_person=lambda gold: gold in PERSON_LABELS,
    )
    seen: dict[tuple[str, tuple[str, ...]], tuple[tuple[str, ...], str]] = {}
    kept: list[SlackMessage] = []
    dropped = 0
    for message in made:
        key = (_norm(message.text), tuple(_norm(t.text) for t in message.thread))
        meaning = (message.gold, message.kind)
        if seen.setdefault(key, meaning) != meaning:
            dropped += 1
            continue
        kept.append(message)
    return kept, dropped


# -- the scripted model ---------------------------------------------------------------------------

SYSTEM_CLASSIFY = "You triage customer questions"
SYSTEM_DRAFT = "You write replies to customers"
LATEST = "Customer's latest message:"
HISTORY = "Earlier messages in this thread (oldest first, may be empty):"
ARTICLES = "Knowledge-base articles:"
TEAM_NOTES = "The support team's answers to earlier questions"
ARTICLE_LINE = re.compile(r"^\[article (\d+)\] .*$", re.MULTILINE)
NUMBER = re.compile(r"\d+")
ANSWER_PASSAGE_CHARS = 300


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def prompt_kind(system: str) -> str:
    if SYSTEM_CLASSIFY in system:
        return "classify"
    if SYSTEM_DRAFT in system:
        return "draft"
    return "other"


def prompt_parts(user: str) -> tuple[str, str, dict[int, str]]:
    """The latest message, the thread before it, and the articles shown (id -> passage, in the
    order shown; the first passage of an article shown more than once)."""
    before, _, latest = user.rpartition(LATEST)
    history = before.rpartition(HISTORY)[2]
    shown: dict[int, str] = {}
    if ARTICLES in user:
        section = user.partition(ARTICLES)[2].partition(TEAM_NOTES)[0]
        heads = list(ARTICLE_LINE.finditer(section))
        for i, head in enumerate(heads):
            end = heads[i + 1].start() if i + 1 < len(heads) else len(section)
            shown.setdefault(int(head.group(1)), section[head.end() : end].strip())
    return latest.strip(), history.strip(), shown


@dataclass(frozen=True)
class Case:
    """A message the scripted model may be asked about, with its gold article ids."""

    message: SlackMessage
    gold_ids: tuple[int, ...]
    thread: tuple[str, ...]  # the earlier turns' texts, normalised as the prompt shows them


class ScriptedModel:
    """The FakeOpenAI responder: finds the message a prompt is about and answers as the mode
    says (see the module docstring)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.mode = "careful"
        self._cases: dict[str, list[Case]] = {}
        self.unmatched: Counter[str] = Counter()  # prompts no message matched, by kind
        self.invented: set[str] = set()  # uids of drafts given an invented number

    def load(self, cases: Sequence[Case], mode: str) -> None:
        self.mode = mode
        self._cases = defaultdict(list)
        for case in cases:
            self._cases[_norm(case.message.text)].append(case)
        self.unmatched.clear()
        self.invented.clear()

    def find(self, latest: str, history: str) -> Case | None:
        """The case whose latest message this is and whose thread the history holds (the most
        specific one, when one thread's turns are inside another's)."""
        seen = _norm(history)
        best: Case | None = None
        best_size = -1
        for case in self._cases.get(_norm(latest), []):
            if not case.thread:
                matches = seen in ("", "(none)")
                size = 0
            else:
                matches = all(t in seen for t in case.thread)
                size = sum(len(t) for t in case.thread)
            if matches and size > best_size:
                best, best_size = case, size
        return best

    def __call__(self, request: dict[str, Any]) -> str:
        messages = request["messages"]
        system = str(messages[0]["content"])
        user = next(str(m["content"]) for m in messages if m.get("role") == "user")
        kind = prompt_kind(system)
        latest, history, shown = prompt_parts(user)
        case = self.find(latest, history)
        if case is None:
            self.unmatched[kind] += 1
        if kind == "classify":
            return json.dumps(self.classify(case, latest))
        if kind == "draft":
            if self.mode == "credulous":
                return json.dumps(self.credulous_draft(case, latest + history, shown))
            return json.dumps(self.careful_draft(case, shown))
        return "{}"

    @staticmethod
    def classify(case: Case | None, latest: str) -> dict[str, Any]:
        if case is None:
            return {"category": "unknown", "confidence": 0.3, "keywords": [], "summary": latest}
        query = case.message.clean
        return {
            "category": "simple_faq",
            "confidence": CONFIDENCE,
            "keywords": query_terms(query)[:8],
            "summary": f"The customer asks: {query[:200]}",
            "wants_human": case.message.kind == "wants_person",
            "search_query": query,
        }

    @staticmethod
    def careful_draft(case: Case | None, shown: dict[int, str]) -> dict[str, Any]:
        gold = case.gold_ids if case is not None else ()
        in_scope = case is not None and case.message.kind != "out_of_scope"
        if in_scope and gold and all(g in shown for g in gold):
            passages = " ".join(shown[g][:ANSWER_PASSAGE_CHARS] for g in gold)
            return {
                "answer": f"Here's what we have on that: {passages}",
                "used_article_ids": list(gold),
                "grounded": True,
                "missing_information": "",
            }
        question = case.message.clean if case is not None else "this question"
        return {
            "answer": "I could not find this in the material I was given.",
            "used_article_ids": [],
            "grounded": False,
            "missing_information": f"How do we answer: {question[:300]}",
        }

    def credulous_draft(
        self, case: Case | None, prompt_key: str, shown: dict[int, str]
    ) -> dict[str, Any]:
        if not shown:
            return {
                "answer": "I could not find this.",
                "used_article_ids": [],
                "grounded": False,
                "missing_information": "Which article answers this?",
            }
        first = next(iter(shown))
        answer = f"Here's what we have on that: {shown[first][:ANSWER_PASSAGE_CHARS]}"
        uid = (
            case.message.uid
            if case is not None
            else hashlib.sha256(prompt_key.encode()).hexdigest()
        )
        rng = random.Random(f"{self.seed}:{uid}:invent")
        if rng.random() < INVENT_SHARE:
            present = {int(n) for text in shown.values() for n in NUMBER.findall(text)}
            number = rng.choice([n for n in range(3, 100) if n not in present])
            answer += f" It usually takes {number} business days."
            self.invented.add(uid)
        return {
            "answer": answer,
            "used_article_ids": [first],
            "grounded": True,
            "missing_information": "",
        }


# -- running messages through the bot -------------------------------------------------------------


@dataclass
class Outcome:
    uid: str
    style: str
    kind: str
    origin: str
    gold: tuple[str, ...]
    action: str  # "answer", "escalate", "acknowledged" (a greeting), "ignored", "error"
    reason: str
    cited: tuple[str, ...]  # the draft's sources, as article keys
    draft: bool  # a draft was stored (offline: the passage on the review card)
    draft_origin: str | None
    fits: bool | None
    confidence: float | None
    top_hit: str | None  # the first retrieved article
    shown: tuple[str, ...]  # the distinct articles retrieved (what the draft prompt showed)
    invented: bool = False  # credulous: its draft stated a number no passage holds
    model_calls: int = 0  # the round's model calls, from the trail
    prompt_tokens: int = 0  # their prompt tokens
    # What became of the draft written while the message was classified: "kept", "redrafted",
    # "discarded"; None when none was (a greeting, a request for a person, no model).
    draft_verdict: str | None = None
    draft_reason: str = ""  # why it was kept, written again or discarded


def bench_settings(
    db_path: Path, llm_url: str | None, embedding: str | None, fit_threshold: float | None
) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{db_path}",
        "support_channels": [SUPPORT],
        "escalation_channel": ESCALATION,
        "support_reviewers": [REVIEWER],
        "openai_api_key": LLM_KEY if llm_url else None,
        "openai_base_url": llm_url,
        "support_bot_model": LLM_NAME,
        "support_bot_embedding_model": embedding,
        "kb_fit_threshold": fit_threshold,
        "auto_answer_threshold": Settings.model_fields["auto_answer_threshold"].default,
        "auto_answer_categories": ["simple_faq"],
        "llm_timeout": 30.0,
        "llm_max_retries": 1,
        "digest_hour": None,
        "retention_days": None,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def _ts(mode_index: int, message_index: int, turn: int) -> str:
    return f"{TS_BASE + mode_index * TS_PER_MODE + message_index}.{turn:06d}"


class Bench:
    """One part's database, with the bot's pieces for one mode at a time."""

    def __init__(self, db: Database, keys: dict[int, str]) -> None:
        self.db = db
        self.repos = Repositories.over(db, internal_kinds=jobkinds.INTERNAL)
        self.keys = keys

    def key(self, article_id: Any) -> str:
        return self.keys.get(int(article_id), f"?{article_id}")

    async def run(
        self,
        settings: Settings,
        mode_index: int,
        messages: Sequence[SlackMessage],
        concurrency: int,
        invented: set[str],
        label: str,
        started: float,
    ) -> list[Outcome]:
        repos = self.repos
        config = LiveConfig(settings, repos.config)
        await config.load()
        people = People(config, WORKSPACE)
        intake = Intake(repos, people, Handoffs(settings, config, repos, people))
        model = SupportModel(settings) if settings.llm_enabled else None
        knowledge = knowledge_base(settings, repos.knowledge)
        # Every lookup from the in-memory index (the first ones would use FTS5 while it loads),
        # so a run does not depend on how fast the index loads.
        await knowledge.retriever.ready()
        workflow = Workflow(settings, config, repos, knowledge, model)
        gate = asyncio.Semaphore(concurrency)
        done = 0
        every = max(1, len(messages) // 4)

        async def one(index: int, message: SlackMessage) -> Outcome:
            nonlocal done
            async with gate:
                try:
                    outcome = await self._one(intake, workflow, mode_index, index, message)
                except Exception as exc:  # the round raised: reported, never hidden
                    log.exception("message %s failed", message.uid)
                    outcome = self._outcome(message, None, f"error: {exc!r}")
            done += 1
            if done % every == 0 or done == len(messages):
                progress(f"{label}: {done}/{len(messages)}", started)
            return outcome

        try:
            outcomes = await asyncio.gather(*(one(i, m) for i, m in enumerate(messages)))
        finally:
            if model is not None:
                await model.close()
        for outcome in outcomes:
            outcome.invented = outcome.uid in invented
        return list(outcomes)

    async def _one(
        self,
        intake: Intake,
        workflow: Workflow,
        mode_index: int,
        index: int,
        message: SlackMessage,
    ) -> Outcome:
        repos = self.repos
        root_ts = _ts(mode_index, index, 0)
        opening = message.thread[0].text if message.thread else message.text
        await intake.handle(self._inbound(root_ts, None, opening))
        ticket = await repos.tickets.find_by_thread(SUPPORT, root_ts)
        if ticket is None:
            # Filed as ignored (a message with no words, such as "??"): nobody is told.
            row = await self.db.fetchone(
                "SELECT reason FROM ignored_messages WHERE channel_id = ? AND ts = ?",
                (SUPPORT, root_ts),
            )
            if row is None:
                return self._outcome(message, None, "error: the message opened no ticket")
            outcome = self._outcome(message, None, None)
            outcome.action, outcome.reason = "ignored", f"ignored: {row['reason']}"
            return outcome
        if message.thread:
            # The thread so far: the question's round ended with a reply (the bot's answer, or a
            # teammate's approved one); the customer's follow-up then starts a round of its own.
            if len(message.thread) != 2 or message.thread[0].role != "customer":
                raise ValueError(f"{message.uid}: unsupported thread shape")
            reply = message.thread[1]
            async with repos.db.transaction() as tx:
                turns = await repos.tickets.turns(ticket.id, tx)
                await repos.tickets.add_turn(
                    tx,
                    ticket_id=ticket.id,
                    role=reply.role,
                    user_id=WORKSPACE.bot_user_id if reply.role == "bot" else REVIEWER,
                    text=reply.text,
                    slack_ts=_ts(mode_index, index, 1),
                    purpose="answer" if reply.role == "bot" else "reply",
                )
                moved = await repos.tickets.transition(
                    tx,
                    ticket_id=ticket.id,
                    expected_state=ticket.state,
                    expected_version=ticket.version,
                    new_state="answered" if reply.role == "bot" else "replied",
                    processed_turn_id=turns[0].id,
                )
            if not moved:
                return self._outcome(message, None, "error: the thread's first round moved")
            await intake.handle(self._inbound(_ts(mode_index, index, 2), root_ts, message.text))
            ticket = await repos.tickets.get(ticket.id)
            assert ticket is not None
        await workflow.advance(ticket.id, ticket.round)
        ticket = await repos.tickets.get(ticket.id)
        outcome = self._outcome(message, ticket, None)
        await self._cost(outcome, ticket.id if ticket is not None else None)
        return outcome

    async def _cost(self, outcome: Outcome, ticket_id: int | None) -> None:
        """The round's model calls, prompt tokens and draft verdict, from the ticket's trail."""
        if ticket_id is None:
            return
        rows = await self.db.fetchall(
            "SELECT step, detail, prompt_name, tokens_in FROM ticket_events WHERE ticket_id = ?",
            (ticket_id,),
        )
        for row in rows:
            if row["prompt_name"] is not None:
                outcome.model_calls += 1
                outcome.prompt_tokens += int(row["tokens_in"] or 0)
            if row["step"] == "drafted":
                detail = json.loads(row["detail"] or "{}")
                outcome.draft_verdict = detail.get("draft")
                outcome.draft_reason = str(detail.get("reason") or "")

    @staticmethod
    def _inbound(ts: str, thread_ts: str | None, text: str) -> InboundMessage:
        return InboundMessage(
            event_id=None,
            channel_id=SUPPORT,
            ts=ts,
            thread_ts=thread_ts,
            user_id=CUSTOMER,
            user_team=CUSTOMER_TEAM,
            text=clean_text(text),
            shared_channel=False,
        )

    def _outcome(self, message: SlackMessage, ticket: Any, error: str | None) -> Outcome:
        decision = (ticket.decision if ticket is not None else None) or {}
        draft = (ticket.draft if ticket is not None else None) or None
        retrieval = (ticket.retrieval if ticket is not None else None) or {}
        hits = retrieval.get("hits") or []
        shown = tuple(dict.fromkeys(self.key(h["article_id"]) for h in hits))
        action = str(decision.get("action") or "error")
        if action == "answer" and (draft or {}).get("origin") == "canned":
            action = "acknowledged"  # a greeting, asked what it needs: no answer, no escalation
        reason = error or str(decision.get("reason") or "no decision stored")
        return Outcome(
            uid=message.uid,
            style=message.style,
            kind=message.kind,
            origin=message.origin,
            gold=message.gold,
            action="error" if error else action,
            reason=reason,
            cited=tuple(self.key(s["article_id"]) for s in (draft or {}).get("sources") or []),
            draft=draft is not None,
            draft_origin=(draft or {}).get("origin"),
            fits=retrieval.get("fits"),
            confidence=retrieval.get("confidence"),
            top_hit=shown[0] if shown else None,
            shown=shown,
        )


async def open_part(part: Part, settings: Settings) -> tuple[Database, Bench]:
    db = database_for(settings)
    await db.open()
    repos = Repositories.over(db, internal_kinds=jobkinds.INTERNAL)
    inputs = [article_input(a) for a in part.articles]
    keys: dict[int, str] = {}
    for start in range(0, len(inputs), UPSERT_BATCH):
        batch = inputs[start : start + UPSERT_BATCH]
        ids = await repos.knowledge.upsert_many(batch)
        keys.update(zip(ids, (a.source for a in batch), strict=True))
    await knowledge_base(settings, repos.knowledge).retriever.embed_missing()
    return db, Bench(db, keys)


# -- figures --------------------------------------------------------------------------------------

_NUMBERS = re.compile(r"\d+(?:\.\d+)?")


def normalised_reason(reason: str) -> str:
    return _NUMBERS.sub("N", reason)


def _share(count: int, total: int) -> float | None:
    return count / total if total else None


def summarise(outcomes: Sequence[Outcome], mode: str) -> dict[str, Any]:
    answerable = [o for o in outcomes if o.kind == "answerable"]
    oos = [o for o in outcomes if o.kind == "out_of_scope"]
    person = [o for o in outcomes if o.kind == "wants_person"]
    answered = [o for o in answerable if o.action == "answer"]
    correct = [o for o in answered if set(o.gold) <= set(o.cited)]
    wrong = [o for o in answered if not set(o.gold) <= set(o.cited)]
    partial = [o for o in wrong if set(o.gold) & set(o.cited)]
    escalated = [o for o in answerable if o.action == "escalate"]
    oos_answered = [o for o in oos if o.action == "answer"]
    reasons = Counter(normalised_reason(o.reason) for o in outcomes if o.action == "escalate")
    reasons_by_kind = {
        kind: Counter(
            normalised_reason(o.reason) for o in rows if o.action == "escalate"
        ).most_common()
        for kind, rows in (
            ("answerable", answerable),
            ("out_of_scope", oos),
            ("wants_person", person),
        )
    }
    shown_but_escalated = [o for o in escalated if set(o.gold) <= set(o.shown)]
    oos_by_origin: dict[str, dict[str, int]] = {}
    for o in oos:
        row = oos_by_origin.setdefault(o.origin, {"n": 0, "answered": 0})
        row["n"] += 1
        row["answered"] += o.action == "answer"
    invented = [o for o in outcomes if o.invented]
    summary: dict[str, Any] = {
        "messages": len(outcomes),
        "answerable": len(answerable),
        "out_of_scope": len(oos),
        "wants_person": len(person),
        "errors": sum(o.action == "error" for o in outcomes),
        "ignored": sum(o.action == "ignored" for o in outcomes),
        # Greetings asked what they need, and thanks left alone: neither answered nor escalated.
        "acknowledged_answerable": _share(
            sum(o.action in ("acknowledged", "ignored") for o in answerable), len(answerable)
        ),
        "answered_correctly": _share(len(correct), len(answerable)),
        "answered_wrongly": _share(len(wrong), len(answerable)),
        "answered_partially": _share(len(partial), len(answerable)),
        "escalated_answerable": _share(len(escalated), len(answerable)),
        "oos_answered": _share(len(oos_answered), len(oos)),
        "wants_person_escalated": _share(sum(o.action == "escalate" for o in person), len(person)),
        "counts": {
            "answered_correctly": len(correct),
            "answered_wrongly": len(wrong),
            "answered_partially": len(partial),
            "escalated_answerable": len(escalated),
            "oos_answered": len(oos_answered),
            "wants_person_escalated": sum(o.action == "escalate" for o in person),
            "auto_answered": sum(o.action == "answer" for o in outcomes),
        },
        "oos_by_origin": oos_by_origin,
        "gold_retrieved_at_1": _share(
            sum(o.top_hit in o.gold for o in answerable), len(answerable)
        ),
        "all_gold_retrieved": _share(
            sum(set(o.gold) <= set(o.shown) for o in answerable), len(answerable)
        ),
        "escalation_reasons": reasons.most_common(),
        "escalation_reasons_by_kind": reasons_by_kind,
        # Answerable but escalated: with every gold article among the passages (the bot's own
        # verdict stopped it) or without (retrieval did not bring them).
        "escalated_with_gold_shown": _share(len(shown_but_escalated), len(answerable)),
        "escalated_without_gold_shown": _share(
            len(escalated) - len(shown_but_escalated), len(answerable)
        ),
    }
    summary["cost"] = cost_summary(outcomes)
    if mode == "credulous":
        summary["invented_number"] = {
            "drafts": len(invented),
            "auto_answered": sum(o.action == "answer" for o in invented),
        }
    if mode == "offline":
        summary["card_passage_correct_at_1"] = _share(
            sum(bool(o.cited) and o.cited[0] in o.gold for o in answerable), len(answerable)
        )
        summary["no_draft_answerable"] = _share(
            sum(not o.draft for o in answerable), len(answerable)
        )
        summary["no_draft_oos"] = _share(sum(not o.draft for o in oos), len(oos))
    return summary


def cost_summary(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Model calls and prompt tokens per message, and what became of the drafts written while
    the message was classified."""
    asked = [o for o in outcomes if o.model_calls]
    tokens = sorted(o.prompt_tokens for o in asked)
    ahead = [o for o in outcomes if o.draft_verdict is not None]
    verdicts = Counter(o.draft_verdict for o in ahead)
    return {
        "messages": len(outcomes),
        "messages_asking_the_model": len(asked),
        "model_calls": sum(o.model_calls for o in outcomes),
        "model_calls_per_message": _share(sum(o.model_calls for o in outcomes), len(outcomes)),
        "model_calls_per_message_asking": _share(sum(o.model_calls for o in asked), len(asked)),
        "prompt_tokens_per_message_asking": {
            "median": statistics.median(tokens) if tokens else None,
            "mean": _share(sum(tokens), len(tokens)),
        },
        "drafted_ahead": len(ahead),
        "draft_verdicts": dict(verdicts),
        "redraft_rate": _share(verdicts.get("redrafted", 0), len(ahead)),
        "redraft_reasons": Counter(
            re.sub(r"\d+(?:, \d+)*", "N", o.draft_reason)
            for o in ahead
            if o.draft_verdict == "redrafted"
        ).most_common(),
    }


def by_style(outcomes: Sequence[Outcome]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for style in STYLES:
        rows = [o for o in outcomes if o.style == style]
        if not rows:
            continue
        answerable = [o for o in rows if o.kind == "answerable"]
        oos = [o for o in rows if o.kind == "out_of_scope"]
        answered = [o for o in answerable if o.action == "answer"]
        out[style] = {
            "messages": len(rows),
            "answerable": len(answerable),
            "out_of_scope": len(oos),
            "wants_person": sum(o.kind == "wants_person" for o in rows),
            "answered_correctly": _share(
                sum(set(o.gold) <= set(o.cited) for o in answered), len(answerable)
            ),
            "answered_wrongly": _share(
                sum(not set(o.gold) <= set(o.cited) for o in answered), len(answerable)
            ),
            "escalated_answerable": _share(
                sum(o.action == "escalate" for o in answerable), len(answerable)
            ),
            "oos_answered": _share(sum(o.action == "answer" for o in oos), len(oos)),
            "card_passage_correct_at_1": _share(
                sum(bool(o.cited) and o.cited[0] in o.gold for o in answerable), len(answerable)
            ),
            "no_draft_answerable": _share(sum(not o.draft for o in answerable), len(answerable)),
        }
    return out


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def against(value: float | None, target: float) -> str:
    if value is None:
        return "-"
    return f"{pct(value)} {'ok' if value <= target else 'MISS'}"


def mode_table(mode: str, rows: Sequence[tuple[str, dict[str, Any]]]) -> str:
    if mode == "offline":
        headers = [
            "dataset",
            "msgs",
            "answerable",
            "card correct@1",
            "no draft (ans.)",
            "oos",
            "no draft (oos)",
            "person",
            "auto-answered",
            "ignored/errors",
        ]
        body = [
            [
                name,
                str(s["messages"]),
                str(s["answerable"]),
                pct(s["card_passage_correct_at_1"]),
                pct(s["no_draft_answerable"]),
                str(s["out_of_scope"]),
                pct(s["no_draft_oos"]),
                str(s["wants_person"]),
                str(s["counts"]["auto_answered"]),
                f"{s['ignored']}/{s['errors']}",
            ]
            for name, s in rows
        ]
        return table(headers, body)
    headers = [
        "dataset",
        "msgs",
        "answerable",
        "correct",
        "wrong (<=1%)",
        "escalated (<=10%)",
        "greeted/thanks",
        "oos",
        "oos answered (<=2%)",
        "person",
        "person esc.",
        "gold@1",
        "gold shown",
        "ignored/errors",
    ]
    body = [
        [
            name,
            str(s["messages"]),
            str(s["answerable"]),
            pct(s["answered_correctly"]),
            against(s["answered_wrongly"], TARGETS["wrong"]),
            against(s["escalated_answerable"], TARGETS["escalated_answerable"]),
            pct(s["acknowledged_answerable"]),
            str(s["out_of_scope"]),
            against(s["oos_answered"], TARGETS["oos_answered"]),
            str(s["wants_person"]),
            pct(s["wants_person_escalated"]),
            pct(s["gold_retrieved_at_1"]),
            pct(s["all_gold_retrieved"]),
            f"{s['ignored']}/{s['errors']}",
        ]
        for name, s in rows
    ]
    return table(headers, body)


def style_table(styles: dict[str, dict[str, Any]], mode: str) -> str:
    if mode == "offline":
        headers = ["style", "msgs", "answerable", "card correct@1", "no draft (ans.)", "oos"]
        rows = [
            [
                style,
                str(s["messages"]),
                str(s["answerable"]),
                pct(s["card_passage_correct_at_1"]),
                pct(s["no_draft_answerable"]),
                str(s["out_of_scope"]),
            ]
            for style, s in styles.items()
        ]
        return table(headers, rows)
    headers = ["style", "msgs", "answerable", "correct", "wrong", "escalated", "oos", "oos ans."]
    body = [
        [
            style,
            str(s["messages"]),
            str(s["answerable"]),
            pct(s["answered_correctly"]),
            pct(s["answered_wrongly"]),
            pct(s["escalated_answerable"]),
            str(s["out_of_scope"]),
            pct(s["oos_answered"]),
        ]
        for style, s in styles.items()
    ]
    return table(headers, body)


def reasons_table(summary: dict[str, Any], top: int = 8) -> str:
    """The commonest escalation reasons, counted over all messages and by kind."""
    reasons: list[tuple[str, int]] = summary["escalation_reasons"]
    by_kind = {k: dict(v) for k, v in summary["escalation_reasons_by_kind"].items()}
    kinds = ("answerable", "out_of_scope", "wants_person")
    lines = ["   all  answerable   oos  person  escalation reason (numbers as N)"]
    shown = reasons[:top]
    if len(reasons) > top:
        rest = {k: sum(n for r, n in by_kind[k].items() if r not in dict(shown)) for k in kinds}
        shown = [*shown, ("(other reasons)", sum(n for _, n in reasons[top:]))]
        for k in kinds:
            by_kind[k]["(other reasons)"] = rest[k]
    for reason, n in shown:
        counts = [by_kind[k].get(reason, 0) for k in kinds]
        lines.append(f"{n:6d}  {counts[0]:10d}  {counts[1]:4d}  {counts[2]:6d}  {reason[:160]}")
    return "\n".join(lines)


def macro(summaries: Sequence[dict[str, Any]], key: str) -> float | None:
    values = [s[key] for s in summaries if s.get(key) is not None]
    return sum(values) / len(values) if values else None


# -- main -----------------------------------------------------------------------------------------


def code_under_test() -> dict[str, Any]:
    return retrieval_code_under_test(CODE_UNDER_TEST)


class Printer:
    """Prints to stdout and keeps the lines for decisions.txt."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)


async def run_part(
    args: argparse.Namespace,
    part: Part,
    model: ScriptedModel,
    fake: FakeOpenAI,
    started: float,
) -> tuple[dict[str, Any], dict[str, list[Outcome]]]:
    """Every mode over one part's messages, in one database; its entry of the report."""
    messages, dropped = messages_for(part, args.seed)
    styles = Counter(m.style for m in messages)
    kinds = Counter(m.kind for m in messages)
    chunks = sum(len(a.chunks) for a in part.articles)
    progress(
        f"{part.name}: {len(part.articles)} articles, {chunks} chunks; {len(messages)} messages"
        f" ({dict(kinds)})",
        started,
    )
    entry: dict[str, Any] = {
        "name": part.name,
        "dataset": part.dataset,
        "split": part.split,
        "articles": len(part.articles),
        "chunks": chunks,
        "questions_available": part.available,
        "messages": len(messages),
        "dropped_duplicates": dropped,
        "kinds": dict(kinds),
        "styles": {s: styles.get(s, 0) for s in STYLES},
        "notes": part.notes,
        "modes": {},
    }
    outcomes_by_mode: dict[str, list[Outcome]] = {}
    with tempfile.TemporaryDirectory(prefix="decisions-bench-") as folder:
        db_path = Path(folder) / "bench.db"
        t = time.perf_counter()
        db, bench = await open_part(
            part, bench_settings(db_path, None, args.embedding, args.fit_threshold)
        )
        entry["import_s"] = round(time.perf_counter() - t, 2)
        try:
            ids = {key: article_id for article_id, key in bench.keys.items()}
            cases = [
                Case(
                    m,
                    tuple(ids[g] for g in m.gold),
                    tuple(_norm(turn.text[:THREAD_CHARS]) for turn in m.thread),
                )
                for m in messages
            ]
            for mode_index, mode in enumerate(args.modes):
                model.load(cases, mode)
                llm_url = None if mode == "offline" else fake.url
                settings = bench_settings(db_path, llm_url, args.embedding, args.fit_threshold)
                t = time.perf_counter()
                outcomes = await bench.run(
                    settings,
                    mode_index,
                    messages,
                    args.concurrency,
                    model.invented,
                    f"{part.name} {mode}",
                    started,
                )
                seconds = time.perf_counter() - t
                fake.requests.clear()  # every body is kept otherwise
                summary = summarise(outcomes, mode)
                summary["seconds"] = round(seconds, 2)
                summary["unmatched_prompts"] = dict(model.unmatched)
                summary["by_style"] = by_style(outcomes)
                summary["examples"] = _examples(outcomes)
                entry["modes"][mode] = summary
                outcomes_by_mode[mode] = outcomes
                if args.dump_messages is not None:
                    _dump(args.dump_messages, part.name, mode, messages, outcomes)
        finally:
            await db.close()
    return entry, outcomes_by_mode


async def run(args: argparse.Namespace, parts: list[Part]) -> dict[str, Any]:
    started = time.perf_counter()
    model = ScriptedModel(args.seed)
    fake = FakeOpenAI(api_key=LLM_KEY, model=LLM_NAME, responder=model)
    await fake.start()
    results: list[dict[str, Any]] = []
    all_outcomes: dict[str, list[Outcome]] = {m: [] for m in args.modes}
    try:
        for part in parts:
            entry, outcomes = await run_part(args, part, model, fake, started)
            results.append(entry)
            for mode, outs in outcomes.items():
                all_outcomes[mode] += outs
    finally:
        await fake.stop()
    pooled = {
        mode: {**summarise(outs, mode), "by_style": by_style(outs)}
        for mode, outs in all_outcomes.items()
    }
    return {"parts": results, "pooled": pooled, "seconds": time.perf_counter() - started}


def print_report(report: dict[str, Any], modes: Sequence[str], say: Printer) -> None:
    results, pooled = report["parts"], report["pooled"]
    for mode in modes:
        rows = [(r["name"], r["modes"][mode]) for r in results]
        rows.append(("all (pooled)", pooled[mode]))
        say(f"== {mode}: {MODE_LINES[mode]}")
        say(mode_table(mode, rows))
        if mode != "offline":
            say(
                "   correct/wrong/escalated: of the answerable messages; gold@1: the first passage"
                " retrieved is a gold article's; gold shown: every gold article was among the"
                " passages retrieved (what the draft prompt shows)"
            )
            summaries = [r["modes"][mode] for r in results]
            say(
                "   macro average over the parts: correct"
                f" {pct(macro(summaries, 'answered_correctly'))}, wrong"
                f" {pct(macro(summaries, 'answered_wrongly'))}, escalated though answerable"
                f" {pct(macro(summaries, 'escalated_answerable'))}, out-of-scope answered"
                f" {pct(macro(summaries, 'oos_answered'))}"
            )
            c = pooled[mode]["counts"]
            say(
                f"   wrong answers: {c['answered_wrongly']}, of which"
                f" {c['answered_partially']} cite some but not all gold articles (two questions)"
            )
            oos = [
                f"{r['name']} {origin} {v['answered']}/{v['n']}"
                for r in results
                for origin, v in r["modes"][mode]["oos_by_origin"].items()
            ]
            if oos:
                say("   out-of-scope answered by source: " + "; ".join(oos))
        if mode != "offline":
            say(cost_line(pooled[mode]["cost"]))
        if mode == "credulous":
            inv = pooled[mode]["invented_number"]
            say(
                f"   drafts stating an invented number: {inv['drafts']}, of which auto-answered"
                f" {inv['auto_answered']}"
            )
        escalations = sum(n for _, n in pooled[mode]["escalation_reasons"])
        say(f"-- {mode}: top escalation reasons (all parts, {escalations} escalations)")
        say(reasons_table(pooled[mode]))
        if mode != "offline":
            say(
                "   answerable but escalated: "
                f"{pct(pooled[mode]['escalated_with_gold_shown'])} of the answerable messages with"
                " every gold article among the passages (the bot's own verdict stopped them),"
                f" {pct(pooled[mode]['escalated_without_gold_shown'])} without (retrieval did not"
                " bring them)"
            )
        say(f"-- {mode}: by message style (all parts)")
        say(style_table(pooled[mode]["by_style"], mode))
        say()


def cost_line(cost: dict[str, Any]) -> str:
    tokens = cost["prompt_tokens_per_message_asking"]
    verdicts = cost["draft_verdicts"]
    per = cost["model_calls_per_message_asking"]
    return (
        f"   cost: {cost['model_calls']} model calls for {cost['messages']} messages"
        f" ({per:.2f} per message that asked the model); prompt tokens per such message: median"
        f" {tokens['median']:.0f}, mean {tokens['mean']:.0f}; drafted while classifying:"
        f" {cost['drafted_ahead']}, redrafted {verdicts.get('redrafted', 0)}"
        f" ({pct(cost['redraft_rate'])}), discarded {verdicts.get('discarded', 0)}"
        if per is not None and tokens["mean"] is not None
        else "   cost: no model calls"
    )


MODE_LINES = {
    "careful": "the model cites the gold article(s) only when all were shown; shares of the"
    " answerable messages (oos answered: of the out-of-scope ones)",
    "credulous": "the model always claims grounded, citing the first article shown, and invents"
    f" a number in {INVENT_SHARE:.0%} of drafts",
    "offline": "no model: the best passage goes on a review card; nothing may be auto-answered",
}


def _examples(outcomes: Sequence[Outcome], n: int = 10) -> dict[str, list[dict[str, Any]]]:
    """A few of the worst outcomes, to look at."""
    wrong = [
        o
        for o in outcomes
        if o.kind == "answerable" and o.action == "answer" and not set(o.gold) <= set(o.cited)
    ]
    oos = [o for o in outcomes if o.kind == "out_of_scope" and o.action == "answer"]
    return {
        "answered_wrongly": [asdict(o) for o in wrong[:n]],
        "oos_answered": [asdict(o) for o in oos[:n]],
    }


def _dump(
    path: Path, part: str, mode: str, messages: Sequence[SlackMessage], outcomes: Sequence[Outcome]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        for message, outcome in zip(messages, outcomes, strict=True):
            row = {"part": part, "mode": mode, "message": asdict(message), **asdict(outcome)}
            f.write(json.dumps(row) + "\n")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.decisions", description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the eval-data folder")
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        help="messages per knowledge base (each HINT3 bot is one), a seeded sample keeping the"
        f" in/out-of-scope proportion; 0: every question ({DEFAULT_LIMIT})",
    )
    parser.add_argument(
        "--split",
        choices=SPLITS,
        default="test",
        help="test: the reported figures; validation: the tuning split (test)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help=f"messages in flight at once ({DEFAULT_CONCURRENCY})",
    )
    parser.add_argument("--seed", type=int, default=SEED, help=f"message seed ({SEED})")
    parser.add_argument(
        "--embedding",
        default=None,
        help="SUPPORT_BOT_EMBEDDING_MODEL for the bot (e.g. 'local'); unset: BM25 only",
    )
    parser.add_argument(
        "--fit-threshold",
        type=float,
        default=None,
        help="KB_FIT_THRESHOLD for the bot; unset: the retriever's default for its mode",
    )
    parser.add_argument("--out", type=Path, default=None, help="where to write the JSON")
    parser.add_argument(
        "--dump-messages", type=Path, default=None, help="also write every message (JSON lines)"
    )
    args = parser.parse_args(argv)
    if args.limit < 0:
        parser.error("--limit must be 0 (everything) or more")
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if not args.data.is_dir():
        parser.error(f"no data folder at {args.data}")
    if args.out is None:
        args.out = RESULTS / (
            "decisions.json" if args.split == "test" else "decisions-validation.json"
        )
    args.modes = list(dict.fromkeys(args.modes))
    args.datasets = list(dict.fromkeys(args.datasets))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    wall = time.perf_counter()
    say = Printer()
    command = shlex.join(
        [
            Path(sys.executable).name,
            "-m",
            "bench.decisions",
            *(sys.argv[1:] if argv is None else argv),
        ]
    )
    code = code_under_test()
    say(f"$ {command}")
    say(
        f"code under test (HEAD {str(code['git_head'])[:12]}): "
        + ", ".join(
            f"{name} {v['sha256']}" + (" (modified vs HEAD)" if v["modified_vs_head"] else "")
            for name, v in code["files"].items()
        )
    )
    parts = load_parts(args.data, args.datasets, args.split, args.limit)
    say(
        f"split: {args.split}; limit {args.limit or 'none'} messages per knowledge base; seed"
        f" {args.seed}; retrieval: {args.embedding or 'bm25 (no embedding model)'}; fit threshold:"
        f" {args.fit_threshold if args.fit_threshold is not None else 'default'}"
    )
    say("styles drawn with: " + ", ".join(f"{s} {w:.0%}" for s, w in STYLE_WEIGHTS.items()))
    say(
        f"targets (careful, credulous): escalated though answerable <= "
        f"{TARGETS['escalated_answerable']:.0%}, out-of-scope answered <= "
        f"{TARGETS['oos_answered']:.0%}, answered wrongly <= {TARGETS['wrong']:.0%}"
    )
    say()
    report = asyncio.run(run(args, parts))
    print_report(report, args.modes, say)
    say("== messages per part (by style and kind)")
    say(
        table(
            ["part", "split", "msgs", *STYLES, "answerable", "oos", "person", "dup. dropped"],
            [
                [
                    p["name"],
                    p["split"],
                    str(p["messages"]),
                    *(str(p["styles"][s]) for s in STYLES),
                    str(p["kinds"].get("answerable", 0)),
                    str(p["kinds"].get("out_of_scope", 0)),
                    str(p["kinds"].get("wants_person", 0)),
                    str(p["dropped_duplicates"]),
                ]
                for p in report["parts"]
            ],
        )
    )
    for p in report["parts"]:
        for note in p["notes"]:
            say(f"   {p['name']}: {note}")
        unmatched = {
            m: s["unmatched_prompts"] for m, s in p["modes"].items() if s["unmatched_prompts"]
        }
        if unmatched:
            say(f"   {p['name']}: prompts the scripted model could not match: {unmatched}")
    seconds = time.perf_counter() - wall
    report["meta"] = {
        "command": command,
        "data": str(args.data),
        "split": args.split,
        "limit": args.limit,
        "seed": args.seed,
        "modes": args.modes,
        "datasets": args.datasets,
        "concurrency": args.concurrency,
        "embedding": args.embedding,
        "fit_threshold": args.fit_threshold,
        "targets": TARGETS,
        "style_weights": STYLE_WEIGHTS,
        "person_labels": sorted(PERSON_LABELS),
        "code_under_test": code,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
        "wall_seconds": seconds,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    say(f"total wall time {seconds:.0f}s on {os.cpu_count()} cores; results in {args.out}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    args.out.with_suffix(".txt").write_text("\n".join(say.lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
