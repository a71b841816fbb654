"""``support-bot kb check FILE``: what the bot would do with an admin's sample questions.

Each question goes through the very steps the workflow runs for a ticket
(``bot/tickets/answering.py``: ``Answerer.work_out`` searches, classifies and drafts, and drafts
again when the classification's search could change the draft; then the draft is checked and
decided) with the configuration in force (the environment overlaid with what admins stored in
Slack, as ``LiveConfig`` loads it).
Nothing is sent to Slack (no Slack client is made) and nothing is written to the database: no
ticket, no job. Each question's model calls and prompt tokens are reported, and whether its
draft was written again and why.

Input: one question a line (blank lines and ``#`` comments skipped), or JSON Lines (``.jsonl``,
or a file whose first line is a JSON object) of ``{"question", "expected", "channel"}``, where
``expected`` (optional) names the article that should answer: its id, its title, or its source
path or URL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.cli.progress import ProgressBar
from bot.kb.base import KnowledgeBase
from bot.llm.model import SupportModel
from bot.settings.environment import Settings
from bot.settings.live import ConfigSnapshot, LiveConfig, Mode
from bot.slack.text import clean_text
from bot.tickets.answering import Answerer, quoted
from bot.tickets.policy import has_words
from persistence.config import ConfigRepository
from persistence.connect import database_for
from persistence.db import DatabaseConfigError, DatabaseUnavailableError
from persistence.knowledge import KnowledgeRepository
from persistence.records import KnowledgeArticle

log = logging.getLogger(__name__)

JSONL_SUFFIXES = (".jsonl", ".ndjson")
HISTORY = "(none)"  # a sample question starts its own thread, as the workflow shows it
TEXT_PASSAGE_CHARS = 400  # of the draft or passage, in the text output (--json has it whole)
NO_WORDS = "The bot ignores it: no words to answer (empty or emoji only)."


class BadInput(Exception):
    """The questions file cannot be used; the message says why."""


@dataclass(frozen=True)
class Sample:
    line: int
    question: str
    expected: str | int | None = None
    channel: str | None = None


@dataclass
class Samples:
    items: list[Sample] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line, why)
    jsonl: bool = False


def read_samples(path: Path) -> Samples:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path} is not UTF-8 text (byte {exc.start})") from None
    lines = text.splitlines()
    samples = Samples(jsonl=_is_jsonl(path, lines))
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not samples.jsonl:
            samples.items.append(Sample(number, stripped))
            continue
        try:
            samples.items.append(_sample_from_json(number, stripped))
        except ValueError as exc:
            samples.skipped.append((number, str(exc)))
    return samples


def _is_jsonl(path: Path, lines: list[str]) -> bool:
    if path.suffix.lower() in JSONL_SUFFIXES:
        return True
    first = next((s.strip() for s in lines if s.strip() and not s.strip().startswith("#")), "")
    if not first.startswith("{"):
        return False
    try:
        return isinstance(json.loads(first), dict)
    except ValueError:
        return False


def _sample_from_json(number: int, line: str) -> Sample:
    try:
        value = json.loads(line)
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    question = value.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError('no "question" (a non-empty string)')
    expected = value.get("expected")
    if isinstance(expected, bool) or not isinstance(expected, str | int | None):
        raise ValueError('"expected" must be an article id, title, or source')
    if isinstance(expected, str) and not expected.strip():
        expected = None
    channel = value.get("channel")
    if channel is not None and not isinstance(channel, str):
        raise ValueError('"channel" must be a channel id such as C0123ABCD')
    return Sample(number, question, expected, channel.strip() if channel else None)


# -- expected articles ----------------------------------------------------------------------


class ArticleIndex:
    """Which articles an ``expected`` value names: an id, a title, or a source path or URL."""

    def __init__(self, articles: list[KnowledgeArticle]) -> None:
        self.articles = articles
        self.by_id = {a.id: a for a in articles}

    def resolve(self, expected: str | int) -> list[int]:
        text = str(expected).strip()
        number = text.removeprefix("#")
        if number.isdigit():
            return [int(number)] if int(number) in self.by_id else []
        key = text.casefold()
        found = [a.id for a in self.articles if a.title.strip().casefold() == key]
        if found:
            return found
        return [
            a.id
            for a in self.articles
            if text in (a.source, a.url)
            or a.source.endswith("/" + text.lstrip("./"))
            or (a.url and a.url.rstrip("/") == text.rstrip("/"))
        ]


# -- checking -------------------------------------------------------------------------------


@dataclass
class Checked:
    sample: Sample
    channel: str | None
    mode: str
    action: str  # answer, escalate, or ignore (the bot would not take the message up)
    reason: str
    classification: dict[str, Any] = field(default_factory=dict)
    retrieval: dict[str, Any] = field(default_factory=dict)
    draft: dict[str, Any] | None = None
    expected_ids: list[int] = field(default_factory=list)
    hit: bool | None = None  # None: no expected article given
    matched_by: str | None = None  # "cited" (answered) or "top retrieved" (escalated)
    # What became of the draft written before the classification was known, and why.
    draft_verdict: str | None = None
    draft_reason: str = ""
    model_calls: int = 0
    tokens_in: int = 0

    @property
    def cited(self) -> list[dict[str, Any]]:
        return list((self.draft or {}).get("sources") or [])

    @property
    def top(self) -> dict[str, Any] | None:
        hits = self.retrieval.get("hits") or []
        return hits[0] if hits else None

    def to_json(self) -> dict[str, Any]:
        top = self.top
        draft = self.draft
        return {
            "type": "question",
            "line": self.sample.line,
            "question": self.sample.question,
            "channel": self.channel,
            "mode": self.mode,
            "action": self.action,
            "reason": self.reason,
            "category": self.classification.get("category"),
            "confidence": self.classification.get("confidence"),
            "cited": self.cited,
            "top": {k: top[k] for k in ("article_id", "title", "heading", "source", "score")}
            if top
            else None,
            "queries": self.retrieval.get("queries", []),
            "fits": self.retrieval.get("fits"),
            "retrieval_confidence": self.retrieval.get("confidence"),
            "draft": {
                k: draft.get(k)
                for k in (
                    "origin",
                    "text",
                    "grounded",
                    "missing_information",
                    "unsupported_facts",
                    "unknown_citations",
                    "error",
                )
            }
            if draft
            else None,
            "draft_verdict": self.draft_verdict,
            "draft_reason": self.draft_reason or None,
            "model_calls": self.model_calls,
            "tokens_in": self.tokens_in,
            "expected": self.sample.expected,
            "expected_ids": self.expected_ids,
            "hit": self.hit,
            "matched_by": self.matched_by,
        }


class Checker:
    """Runs the Answerer's steps for one sample question, as ``Workflow`` runs them for the
    first round of a new ticket, and decides with the live configuration."""

    def __init__(
        self,
        answerer: Answerer,
        config: ConfigSnapshot,
        articles: ArticleIndex,
        default_channel: str | None,
    ) -> None:
        self.answerer = answerer
        self.config = config
        self.articles = articles
        self.default_channel = default_channel

    async def check(self, sample: Sample) -> Checked:
        channel = sample.channel or self.default_channel
        # With no support channel configured at all, the defaults every channel starts with.
        mode: Mode = self.config.mode(channel) if channel else "auto"
        result = Checked(sample, channel, mode, "ignore", "")
        question = quoted(clean_text(sample.question)).strip()
        if channel and mode == "off":
            result.reason = (
                f"The bot does not read channel {channel}: it is not a support channel"
                " (or it is switched off)."
            )
        elif not has_words(question):
            result.reason = NO_WORDS
        else:
            await self._run(question, channel, result)
        self._compare(result)
        return result

    async def _run(self, question: str, channel: str | None, result: Checked) -> None:
        answerer, config = self.answerer, self.config
        worked = await answerer.work_out(question, HISTORY)
        decision = answerer.decide(
            classification=worked.classification,
            retrieval=worked.retrieval,
            draft=worked.draft,
            threshold=config.threshold,
            mode=result.mode,
            auto_categories=config.answers_automatically(channel)
            if channel
            else config.default_categories,
        )
        result.classification = worked.classification
        result.retrieval = worked.retrieval
        result.draft = worked.draft
        result.draft_verdict = worked.verdict
        result.draft_reason = worked.reason
        result.model_calls = len(worked.usages)
        result.tokens_in = sum(u.tokens_in for u in worked.usages)
        result.action = decision.action
        result.reason = decision.reason

    def _compare(self, result: Checked) -> None:
        expected = result.sample.expected
        if expected is None:
            return
        result.expected_ids = self.articles.resolve(expected)
        result.hit = False
        if result.action == "ignore":
            return
        if result.action == "answer":
            result.matched_by = "cited"
            found = {int(s["article_id"]) for s in result.cited}
        else:
            result.matched_by = "top retrieved"
            top = result.top
            found = {int(top["article_id"])} if top else set()
        result.hit = bool(found & set(result.expected_ids))


async def in_order(
    items: list[Sample],
    work: Callable[[Sample], Awaitable[Checked]],
    limit: int,
    progress: Callable[[int, int], None],
) -> list[Checked]:
    """``work`` over ``items``, at most ``limit`` at once, results in input order."""
    gate = asyncio.Semaphore(limit)
    done = 0

    async def one(item: Sample) -> Checked:
        nonlocal done
        async with gate:
            outcome = await _guarded(work, item)
        done += 1
        progress(done, len(items))
        return outcome

    results: list[Checked] = []
    window: deque[asyncio.Task[Checked]] = deque()
    try:
        for item in items:
            window.append(asyncio.create_task(one(item)))
            if len(window) >= limit * 4:  # started ahead of the one awaited, not the whole file
                results.append(await window.popleft())
        while window:
            results.append(await window.popleft())
    finally:
        for task in window:
            task.cancel()
    return results


async def _guarded(work: Callable[[Sample], Awaitable[Checked]], item: Sample) -> Checked:
    """One question's failure is its own: the workflow would escalate it (``fail_safe``)."""
    try:
        return await work(item)
    except (DatabaseConfigError, DatabaseUnavailableError):
        raise
    except Exception as exc:
        log.warning("checking line %s failed", item.line, exc_info=True)
        reason = f"Processing failed: {str(exc) or type(exc).__name__}"
        return Checked(item, item.channel, "auto", "escalate", reason)


# -- the command ----------------------------------------------------------------------------


async def run_check(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runtime.runtime import knowledge_base

    try:
        samples = read_samples(args.file)
    except BadInput as exc:
        print(str(exc), file=sys.stderr)
        return 2
    for number, why in samples.skipped:
        print(f"{args.file}:{number}: skipped: {why}", file=sys.stderr)
    if not samples.items:
        print(f"no questions in {args.file}", file=sys.stderr)
        return 2

    db = database_for(settings)
    await db.open()
    model = SupportModel(settings) if settings.llm_enabled else None
    knowledge: KnowledgeBase | None = None
    try:
        config = await LiveConfig(settings, ConfigRepository(db)).load()
        knowledge = knowledge_base(settings, KnowledgeRepository(db))
        # The questions are searched as the running bot searches: with its in-memory index.
        await knowledge.retriever.ready()
        articles = ArticleIndex(await knowledge.articles())
        default_channel = args.channel or next(
            (c for c, mode in config.channels.items() if mode != "off"), None
        )
        checker = Checker(
            Answerer(knowledge, model, link_hosts=settings.answer_link_hosts),
            config,
            articles,
            default_channel,
        )
        header = _header(settings, config, default_channel, len(articles.articles))
        if not args.json:
            print(header)
        if not articles.articles:
            print("the knowledge base is empty: run `support-bot kb import PATH`", file=sys.stderr)
        if config.paused:
            print("the bot is paused: it decides nothing until /support resume", file=sys.stderr)
        bar = ProgressBar(unit="questions")
        results = await in_order(
            samples.items, checker.check, settings.llm_concurrency, progress=bar
        )
        bar.finish()
    finally:
        if model is not None:
            await model.close()
        if knowledge is not None:
            await knowledge.retriever.close()
        await db.close()

    summary = summarize(results, samples, settings, config)
    for result in results:
        if args.json:
            print(json.dumps(result.to_json(), ensure_ascii=False))
        else:
            print(describe(result))
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(describe_summary(summary))
    return 0


def _header(settings: Settings, config: ConfigSnapshot, channel: str | None, articles: int) -> str:
    model = f"model {settings.support_bot_model}" if settings.llm_enabled else "offline (no LLM)"
    where = (
        f"channel {channel} ({config.mode(channel)} mode)"
        if channel
        else "no support channel configured (as a channel in auto mode)"
    )
    return f"{model}; threshold {config.threshold:.2f}; {where}; {articles} article(s)\n"


# -- output ---------------------------------------------------------------------------------


def _cite(source: dict[str, Any]) -> str:
    title, heading = source.get("title", ""), source.get("heading", "")
    name = f"{title} › {heading}" if heading and heading != title else title
    return f"{name} (#{source['article_id']})"


def _short(text: str, limit: int = TEXT_PASSAGE_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def describe(result: Checked) -> str:
    sample = result.sample
    lines = [f"{sample.line}. {_short(sample.question, 200)}"]
    lines.append(f"   → {result.action}: {result.reason}")
    for source in result.cited:
        lines.append(f"   cites: {_cite(source)}")
    top = result.top
    if top is not None and not result.cited:
        lines.append(f"   top article: {_cite(top)}")
    for query in result.retrieval.get("queries", []):
        lines.append(
            f"   searched ({query['purpose']}): {query['query']!r}"
            f"  confidence {float(query['confidence']):.2f}"
        )
    if result.draft_verdict == "redrafted":
        lines.append(f"   redrafted: {result.draft_reason}")
    draft = result.draft
    if draft and draft.get("text"):
        label = {"knowledge_base": "passage for the reviewer", "llm": "draft"}.get(
            str(draft.get("origin")), "draft"
        )
        if result.action == "answer":
            label = "reply"
        lines.append(f"   {label}: {_short(str(draft['text']))}")
    if result.hit is not None:
        expected = sample.expected
        if not result.expected_ids:
            lines.append(f"   expected {expected!r}: miss (no such article)")
        else:
            verdict = "hit" if result.hit else "miss"
            how = result.matched_by or "not taken up"
            lines.append(f"   expected {expected!r}: {verdict} ({how})")
    return "\n".join(lines) + "\n"


def reason_group(reason: str) -> str:
    """A reason with its particulars (numbers, quoted facts) left out, for counting."""
    text = re.sub(r"“[^”]*”((, | and )“[^”]*”)*( and \d+ more)?", "“…”", reason)
    return re.sub(r"\b\d+(\.\d+)?\b", "…", text)


def summarize(
    results: list[Checked], samples: Samples, settings: Settings, config: ConfigSnapshot
) -> dict[str, Any]:
    actions = Counter(r.action for r in results)
    reasons = Counter(reason_group(r.reason) for r in results if r.action != "answer")
    judged = [r for r in results if r.hit is not None]
    hits = sum(1 for r in judged if r.hit)
    ahead = [r for r in results if r.draft_verdict is not None]
    return {
        "type": "summary",
        "questions": len(results),
        "answered": actions["answer"],
        "escalated": actions["escalate"],
        "ignored": actions["ignore"],
        "reasons": dict(reasons.most_common()),
        "with_expected": len(judged),
        "hits": hits,
        "hit_rate": round(hits / len(judged), 4) if judged else None,
        "model_calls": sum(r.model_calls for r in results),
        "tokens_in": sum(r.tokens_in for r in results),
        # Of the questions drafted while they were classified: the drafts written again.
        "drafted_ahead": len(ahead),
        "redrafted": sum(r.draft_verdict == "redrafted" for r in ahead),
        "skipped_lines": [{"line": n, "error": why} for n, why in samples.skipped],
        "model": settings.support_bot_model if settings.llm_enabled else None,
        "threshold": config.threshold,
        "paused": config.paused,
    }


def describe_summary(summary: dict[str, Any]) -> str:
    counts = f"{summary['answered']} answered, {summary['escalated']} escalated"
    if summary["ignored"]:
        counts += f", {summary['ignored']} ignored"
    lines = [f"{summary['questions']} question(s): {counts}"]
    if summary["reasons"]:
        lines.append("not answered, because:")
        lines += [f"  {n:>4}  {reason}" for reason, n in summary["reasons"].items()]
    if summary["with_expected"]:
        lines.append(
            f"expected article: {summary['hits']} of {summary['with_expected']} hit"
            f" ({summary['hit_rate']:.0%}; the cited article when answered, else the top one)"
        )
    if summary["drafted_ahead"]:
        lines.append(
            f"model calls: {summary['model_calls']} ({summary['tokens_in']} prompt tokens);"
            f" {summary['redrafted']} of {summary['drafted_ahead']} draft(s) written again once"
            " the classification's search was known"
        )
    if summary["skipped_lines"]:
        lines.append(f"{len(summary['skipped_lines'])} line(s) skipped (see above)")
    return "\n".join(lines)
