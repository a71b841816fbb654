"""Retrieval benchmark for the knowledge-base retriever (``bot.kb.retrieval.Retriever``).

Run from the repository root (a benchmark, not a test)::

    .venv/bin/python -m bench.retrieval [--data ../shared/eval-data] [--quick] [--no-dense]
                                        [--max-queries N] [--out PATH]

For each dataset it builds the index the bot would build (a fresh SQLite file, articles stored
with ``KnowledgeRepository.upsert_many``, vectors with ``Retriever.embed_missing``), runs every
query through ``Retriever.lookup`` in the modes bm25 / dense / hybrid, and compares with the
``bm25s`` package indexed on the same chunk texts. A query counts as answered when an article
of its gold label/passage is retrieved; ranks are by article (chunks of one article collapse to
its best one), computed from the retriever's candidate depth of 50 chunks.

Where a dataset has out-of-scope queries it also scores the "nothing fits" decision (positive
class: out of scope; predicted when ``not lookup.fits``) at the confidence threshold that
maximises F1 on the dataset's tuning split (grid 0.00..1.00, step 0.01), and at the shipped
``DEFAULT_FIT_THRESHOLDS`` for comparison.

Then latency: mixed corpora of ~1k, ~10k and ~100k chunks, index build time and search
p50/p95. Tables go to stdout, progress to stderr, and everything to a JSON file.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib
import json
import os
import platform
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench import datasets as ds
from bench.datasets import Article, Query, Task
from bench.metrics import (
    Decision,
    Outcome,
    RankScores,
    decision,
    distinct,
    percentile,
    rank_scores,
    tune_threshold,
)
from bot.kb.embeddings import Embedder, LocalEmbedder
from bot.kb.retrieval import CANDIDATES, DEFAULT_FIT_THRESHOLDS, Mode, Retriever
from persistence.connect import database_from_url
from persistence.db import Database
from persistence.knowledge import KnowledgeRepository
from persistence.records import ArticleInput, KnowledgeChunkInput
from persistence.sqlite import SqliteDatabase
from tests.utils.databases import postgres_server

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "eval-data"
RESULTS = REPO_ROOT / "bench" / "results"
UPSERT_BATCH = 300  # articles per upsert_many transaction
SEARCH_LIMIT = CANDIDATES  # ranking depth in chunks; the retriever's own candidate depth
RANK_DEPTH = 10  # distinct articles kept per query (MRR@10)
QUICK_MAX_QUERIES = 300
QUICK_CLINC_TRAIN_PER_INTENT = 20
QUICK_FEEDBACKQA_DOMAINS = ("Australia", "WHO")
LATENCY_SIZES = (1_000, 10_000, 100_000)
QUICK_LATENCY_SIZES = (1_000, 10_000)
LATENCY_QUERIES = 200
LATENCY_LIMIT = 10
# Above this many chunks the latency run stores random unit vectors instead of embedding.
REAL_EMBED_MAX_CHUNKS = 10_000
QUICK_REAL_EMBED_MAX_CHUNKS = 1_000
EMBED_DIM = 384
WARM_UP_QUERY = "warm-up question that is not one of the timed ones"

MODES: tuple[Mode, ...] = ("bm25", "dense", "hybrid")
REFERENCE = "bm25s"


def log(message: str, started: float) -> None:
    print(f"[{time.perf_counter() - started:7.1f}s] {message}", file=sys.stderr, flush=True)


# -- embeddings -----------------------------------------------------------------------------------


class CachedEmbedder:
    """Remembers every text's vector, so the accuracy runs embed each query once for both dense
    and hybrid (batched up front) and shared texts across indexes only once. Vectors are the
    ones the wrapped model makes; only the latency runs, which time embedding, bypass this."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self._cache: dict[str, np.ndarray] = {}

    async def embed(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vectors = await self.inner.embed(missing)
            for text, vector in zip(missing, vectors, strict=True):
                self._cache[text] = vector
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, EMBED_DIM))


# -- the index under test -------------------------------------------------------------------------


def article_input(article: Article) -> ArticleInput:
    digest = hashlib.sha256()
    for heading, text in article.chunks:
        digest.update(f"{heading}\0{text}\0".encode())
    return ArticleInput(
        source=article.key,
        title=article.title,
        content_hash=digest.hexdigest(),
        chunks=[KnowledgeChunkInput(heading=h, text=t) for h, t in article.chunks],
    )


@dataclass
class Index:
    repo: KnowledgeRepository
    keys: dict[int, str]  # article id -> article key
    articles: int
    chunks: int
    upsert_s: float
    embed_s: float | None
    db_bytes: int


def _db_bytes(folder: str) -> int:
    return sum(p.stat().st_size for p in Path(folder).iterdir() if p.is_file())


async def _size(db: Database, folder: str) -> int:
    if db.dialect == "postgresql":
        row = await db.fetchone("SELECT pg_database_size(current_database()) AS n")
        return int(row["n"]) if row else 0
    return await asyncio.to_thread(_db_bytes, folder)


# Which backend holds the index: --backend (a throwaway PostgreSQL from tests/utils/databases.py).
BACKEND = {"name": "sqlite"}


@asynccontextmanager
async def open_index(
    articles: Sequence[Article], embedder: Embedder | None
) -> AsyncIterator[Index]:
    """A fresh SQLite knowledge base in a temporary folder, filled the way the bot fills it."""
    inputs = [article_input(a) for a in articles]
    with tempfile.TemporaryDirectory(prefix="kb-bench-") as folder:
        url = None
        if BACKEND["name"] == "postgresql":
            url = postgres_server().fresh_database()
            db: Database = database_from_url(url)
        else:
            db = SqliteDatabase(str(Path(folder) / "kb.db"))
        await db.open()
        try:
            repo = KnowledgeRepository(db)
            keys: dict[int, str] = {}
            started = time.perf_counter()
            for start in range(0, len(inputs), UPSERT_BATCH):
                batch = inputs[start : start + UPSERT_BATCH]
                ids = await repo.upsert_many(batch)
                keys.update(zip(ids, (a.source for a in batch), strict=True))
            upsert_s = time.perf_counter() - started
            embed_s = None
            if embedder is not None:
                started = time.perf_counter()
                await Retriever(repo, embedder=embedder).embed_missing()
                embed_s = time.perf_counter() - started
            yield Index(
                repo=repo,
                keys=keys,
                articles=len(inputs),
                chunks=sum(len(a.chunks) for a in inputs),
                upsert_s=upsert_s,
                embed_s=embed_s,
                db_bytes=await _size(db, folder),
            )
        finally:
            await db.close()
            if url is not None:
                postgres_server().drop(url)


async def run_lookups(
    index: Index, retriever: Retriever, queries: Sequence[Query], modes: Sequence[Mode]
) -> tuple[dict[str, list[Outcome]], dict[str, float]]:
    """Every query in every mode; also the mean milliseconds per lookup."""
    outcomes: dict[str, list[Outcome]] = {}
    ms: dict[str, float] = {}
    for mode in modes:
        found: list[Outcome] = []
        started = time.perf_counter()
        for query in queries:
            lookup = await retriever.lookup(query.text, limit=SEARCH_LIMIT, mode=mode)
            ranked = distinct((index.keys[h.article_id] for h in lookup.hits), RANK_DEPTH)
            found.append(Outcome(tuple(ranked), bool(lookup.hits), lookup.confidence))
        outcomes[mode] = found
        ms[mode] = 1000 * (time.perf_counter() - started) / max(len(queries), 1)
    return outcomes, ms


# -- the reference --------------------------------------------------------------------------------


def reference_stemmer() -> tuple[Any, str]:
    """PyStemmer's English stemmer when installed (bm25s' own recommendation), else none."""
    try:
        stemmer_module = importlib.import_module("Stemmer")
    except ImportError:
        return None, "none (PyStemmer is not installed)"
    return stemmer_module.Stemmer("english"), "PyStemmer english"


class Bm25sReference:
    """bm25s over the same chunk texts (title, heading and text), ranked by article."""

    def __init__(self, articles: Sequence[Article], stemmer: Any) -> None:
        import bm25s

        self.keys = [a.key for a in articles for _ in a.chunks]
        texts = [f"{a.title}\n{h}\n{t}" for a in articles for h, t in a.chunks]
        self.tokenizer = bm25s.tokenization.Tokenizer(lower=True, stopwords="en", stemmer=stemmer)
        ids = self.tokenizer.tokenize(texts, return_as="ids", show_progress=False)
        self.model = bm25s.BM25()
        self.model.index(ids, show_progress=False)

    def search(self, queries: Sequence[str]) -> list[Outcome]:
        if not queries:
            return []
        ids = self.tokenizer.tokenize(
            list(queries), update_vocab=False, return_as="ids", show_progress=False
        )
        docs, scores = self.model.retrieve(
            ids, k=min(SEARCH_LIMIT, len(self.keys)), show_progress=False
        )
        out = []
        for row, row_scores in zip(docs, scores, strict=True):
            chunk_hits = [int(d) for d, s in zip(row, row_scores, strict=True) if s > 0]
            ranked = distinct((self.keys[d] for d in chunk_hits), RANK_DEPTH)
            out.append(Outcome(tuple(ranked), bool(chunk_hits), 0.0))
        return out


# -- one dataset ----------------------------------------------------------------------------------


@dataclass
class ModeResult:
    scores: RankScores
    ms_per_query: float | None
    tuned: Decision | None = None  # on the tuning split
    test: Decision | None = None  # on the evaluation split at the tuned threshold
    at_default: Decision | None = None  # on the evaluation split at DEFAULT_FIT_THRESHOLDS


@dataclass
class TaskResult:
    name: str
    group: str
    eval_split: str
    tune_split: str | None
    articles: int
    chunks: int
    in_scope: int
    out_of_scope: int
    tune_queries: int
    tune_out_of_scope: int
    upsert_s: float
    embed_s: float | None
    tune_index: dict[str, Any] | None
    modes: dict[str, ModeResult]
    notes: list[str]


async def evaluate(
    task: Task,
    embedder: CachedEmbedder | None,
    stemmer: Any,
    started: float,
) -> TaskResult:
    modes: tuple[Mode, ...] = MODES if embedder is not None else ("bm25",)
    if embedder is not None:
        log(f"{task.name}: embedding {len(task.queries) + len(task.tune_queries)} queries", started)
        await embedder.embed([q.text for q in [*task.queries, *task.tune_queries]])
    tune_outcomes: dict[str, list[Outcome]] = {}
    tune_index: dict[str, Any] | None = None
    async with open_index(task.articles, embedder) as index:
        log(
            f"{task.name}: index of {index.articles} articles / {index.chunks} chunks"
            f" (upsert {index.upsert_s:.1f}s, embed {index.embed_s or 0:.1f}s)",
            started,
        )
        retriever = Retriever(index.repo, embedder=embedder)
        outcomes, ms = await run_lookups(index, retriever, task.queries, modes)
        log(f"{task.name}: {len(task.queries)} queries x {len(modes)} modes done", started)
        if task.tune_queries and task.tune_articles is None:
            tune_outcomes, _ = await run_lookups(index, retriever, task.tune_queries, modes)
            log(f"{task.name}: {len(task.tune_queries)} tuning queries done", started)
    if task.tune_queries and task.tune_articles is not None:
        async with open_index(task.tune_articles, embedder) as tune:
            tune_index = {"articles": tune.articles, "chunks": tune.chunks}
            tune_outcomes, _ = await run_lookups(
                tune, Retriever(tune.repo, embedder=embedder), task.tune_queries, modes
            )
        log(f"{task.name}: {len(task.tune_queries)} tuning queries (own index) done", started)

    reference = Bm25sReference(task.articles, stemmer)
    ref_started = time.perf_counter()
    outcomes[REFERENCE] = reference.search([q.text for q in task.queries])
    ms[REFERENCE] = 1000 * (time.perf_counter() - ref_started) / max(len(task.queries), 1)

    gold = [q.gold for q in task.queries]
    tune_gold = [q.gold for q in task.tune_queries]
    results: dict[str, ModeResult] = {}
    for mode, found in outcomes.items():
        result = ModeResult(rank_scores(gold, found), ms.get(mode))
        if task.has_oos and mode in tune_outcomes:
            result.tuned = tune_threshold(tune_gold, tune_outcomes[mode])
            result.test = decision(gold, found, result.tuned.threshold)
            result.at_default = decision(gold, found, DEFAULT_FIT_THRESHOLDS[mode])
        results[mode] = result
    return TaskResult(
        name=task.name,
        group=task.group,
        eval_split=task.eval_split,
        tune_split=task.tune_split if task.has_oos else None,
        articles=len(task.articles),
        chunks=sum(len(a.chunks) for a in task.articles),
        in_scope=sum(g is not None for g in gold),
        out_of_scope=sum(g is None for g in gold),
        tune_queries=len(task.tune_queries),
        tune_out_of_scope=sum(g is None for g in tune_gold),
        upsert_s=index.upsert_s,
        embed_s=index.embed_s,
        tune_index=tune_index,
        modes=results,
        notes=task.notes,
    )


def macro_average(name: str, results: Sequence[TaskResult]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for mode in results[0].modes:
        rows = [r.modes[mode] for r in results]
        avg: dict[str, float] = {
            "recall_at_1": float(np.mean([m.scores.recall_at_1 for m in rows])),
            "recall_at_5": float(np.mean([m.scores.recall_at_5 for m in rows])),
            "mrr_at_10": float(np.mean([m.scores.mrr_at_10 for m in rows])),
        }
        tested = [m.test for m in rows if m.test is not None]
        if len(tested) == len(rows):
            avg["oos_precision"] = float(np.mean([d.precision for d in tested]))
            avg["oos_recall"] = float(np.mean([d.recall for d in tested]))
            avg["oos_f1"] = float(np.mean([d.f1 for d in tested]))
        out[mode] = avg
    return out


# -- latency --------------------------------------------------------------------------------------


async def _random_vectors(repo: KnowledgeRepository, model: str) -> int:
    rng = np.random.default_rng(ds.SEED)
    done = 0
    while True:
        batch = await repo.chunks_without_vectors(model, limit=5000)
        if not batch:
            return done
        vectors = rng.standard_normal((len(batch), EMBED_DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        await repo.store_vectors(
            model, [(chunk_id, vectors[i].tobytes()) for i, (chunk_id, _) in enumerate(batch)]
        )
        done += len(batch)


async def latency_size(
    pool: Sequence[Article],
    size: int,
    queries: Sequence[str],
    embedder: Embedder | None,
    stemmer: Any,
    real_embed_max: int,
    started: float,
) -> dict[str, Any]:
    articles, copies = ds.corpus_of_size(pool, size)
    row: dict[str, Any] = {"chunks": size, "articles": len(articles), "pool_copies": copies}
    async with open_index(articles, None) as index:
        row["upsert_s"] = index.upsert_s
        log(f"latency {size}: upsert {index.upsert_s:.1f}s", started)
        modes: list[Mode] = ["bm25"]
        if embedder is not None:
            modes += ["dense", "hybrid"]
            embed_started = time.perf_counter()
            if size <= real_embed_max:
                await Retriever(index.repo, embedder=embedder).embed_missing()
                row["vectors"] = "real (all-MiniLM-L6-v2 on CPU)"
            else:
                await _random_vectors(index.repo, embedder.name)
                row["vectors"] = "RANDOM unit vectors (dim 384), not real embeddings"
            row["embed_s"] = time.perf_counter() - embed_started
            log(f"latency {size}: vectors {row['embed_s']:.1f}s ({row['vectors']})", started)
        row["db_bytes"] = await _size(index.repo.db, str(Path(index.repo.db.path).parent))
        for mode in modes:
            # A fresh retriever per mode, so no mode inherits another's warm caches.
            retriever = Retriever(index.repo, embedder=embedder)
            cold_started = time.perf_counter()
            await retriever.lookup(WARM_UP_QUERY, limit=LATENCY_LIMIT, mode=mode)
            cold_ms = 1000 * (time.perf_counter() - cold_started)
            # The first lookup starts loading the in-memory BM25 index (FTS5 answers meanwhile);
            # the steady state, which the figures below are, begins once it holds this version.
            load_started = time.perf_counter()
            await retriever.ready()
            load_s = time.perf_counter() - load_started
            times = []
            for query in queries:
                t = time.perf_counter()
                await retriever.lookup(query, limit=LATENCY_LIMIT, mode=mode)
                times.append(1000 * (time.perf_counter() - t))
            row[mode] = {
                "first_lookup_ms": cold_ms,
                "index_load_s": load_s,
                "p50_ms": percentile(times, 50),
                "p95_ms": percentile(times, 95),
                "max_ms": max(times),
            }
            log(f"latency {size}: {mode} p50 {row[mode]['p50_ms']:.1f}ms", started)
    build_started = time.perf_counter()
    reference = Bm25sReference(articles, stemmer)
    row[REFERENCE] = {"build_s": time.perf_counter() - build_started}
    times = []
    for query in queries:
        t = time.perf_counter()
        reference.search([query])
        times.append(1000 * (time.perf_counter() - t))
    row[REFERENCE].update({"p50_ms": percentile(times, 50), "p95_ms": percentile(times, 95)})
    return row


# -- printing -------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first, *(c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))])

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def f3(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def task_table(result: TaskResult) -> str:
    oos = result.out_of_scope > 0
    headers = ["mode", "recall@1", "recall@5", "MRR@10"]
    if oos:
        headers += ["thr", "P(oos)", "R(oos)", "F1(oos)", "F1@default"]
    rows = []
    for mode, m in result.modes.items():
        row = [mode, f3(m.scores.recall_at_1), f3(m.scores.recall_at_5), f3(m.scores.mrr_at_10)]
        if oos:
            if m.test is not None and m.tuned is not None and m.at_default is not None:
                row += [
                    f"{m.tuned.threshold:.2f}",
                    f3(m.test.precision),
                    f3(m.test.recall),
                    f3(m.test.f1),
                    f"{m.at_default.f1:.3f} ({m.at_default.threshold:.2f})",
                ]
            else:
                row += ["-"] * 5
        rows.append(row)
    head = (
        f"== {result.name}  [{result.eval_split}: {result.in_scope} in-scope"
        + (f" + {result.out_of_scope} out-of-scope" if oos else "")
        + f" queries; {result.articles} articles, {result.chunks} chunks;"
        f" upsert {result.upsert_s:.1f}s"
        + (f", embed {result.embed_s:.1f}s" if result.embed_s is not None else "")
        + "]"
    )
    lines = [head, table(headers, rows)]
    if oos:
        lines.append(
            f"   thr tuned on {result.tune_split} ({result.tune_queries} queries,"
            f" {result.tune_out_of_scope} out-of-scope) by max F1 over 0.00..1.00;"
            " F1@default = F1 at DEFAULT_FIT_THRESHOLDS"
        )
    lines += [f"   note: {n}" for n in result.notes]
    return "\n".join(lines)


def macro_table(name: str, avg: dict[str, dict[str, float]], count: int) -> str:
    oos = all("oos_f1" in v for v in avg.values() if v) and any("oos_f1" in v for v in avg.values())
    headers = ["mode", "recall@1", "recall@5", "MRR@10"]
    if oos:
        headers += ["P(oos)", "R(oos)", "F1(oos)"]
    rows = []
    for mode, v in avg.items():
        row = [mode, f3(v["recall_at_1"]), f3(v["recall_at_5"]), f3(v["mrr_at_10"])]
        if oos:
            row += [f3(v.get("oos_precision")), f3(v.get("oos_recall")), f3(v.get("oos_f1"))]
        rows.append(row)
    return f"== {name}: macro average over {count} parts\n" + table(headers, rows)


def latency_table(rows: Sequence[dict[str, Any]]) -> str:
    headers = ["chunks", "articles", "upsert s", "vectors s"]
    modes = [m for m in ("bm25", "dense", "hybrid") if any(m in r for r in rows)]
    for mode in modes:
        headers += [f"{mode} p50 ms", f"{mode} p95 ms", f"{mode} 1st ms", f"{mode} load s"]
    headers += ["bm25s build s", "bm25s p50 ms", "bm25s p95 ms"]
    body = []
    for r in rows:
        cells = [str(r["chunks"]), str(r["articles"]), f"{r['upsert_s']:.1f}"]
        embed = r.get("embed_s")
        cells.append(
            "-" if embed is None else f"{embed:.1f}" + ("*" if "RANDOM" in r["vectors"] else "")
        )
        for mode in modes:
            m = r.get(mode)
            cells += (
                ["-"] * 4
                if m is None
                else [
                    f"{m['p50_ms']:.1f}",
                    f"{m['p95_ms']:.1f}",
                    f"{m['first_lookup_ms']:.0f}",
                    f"{m.get('index_load_s', 0.0):.1f}",
                ]
            )
        ref = r[REFERENCE]
        cells += [f"{ref['build_s']:.1f}", f"{ref['p50_ms']:.1f}", f"{ref['p95_ms']:.1f}"]
        body.append(cells)
    return table(headers, body)


# -- main -----------------------------------------------------------------------------------------


def load_tasks(data: Path, quick: bool, max_queries: int | None) -> tuple[list[Task], list[str]]:
    caps: list[str] = []
    tasks = ds.feedbackqa(data, "test")
    if quick:
        tasks = [t for t in tasks if t.name.split("/")[1] in QUICK_FEEDBACKQA_DOMAINS]
        caps.append(f"feedbackqa: domains {', '.join(QUICK_FEEDBACKQA_DOMAINS)} only (--quick)")
    tasks.append(ds.stackfaq(data))
    tasks += ds.hint3(data)
    tasks.append(ds.clinc150(data, QUICK_CLINC_TRAIN_PER_INTENT if quick else None))
    if quick:
        caps.append(f"latency: random vectors above {QUICK_REAL_EMBED_MAX_CHUNKS} chunks (--quick)")
        caps.append(
            f"clinc150 articles built from the first {QUICK_CLINC_TRAIN_PER_INTENT} train"
            " sentences per intent (--quick)"
        )
    if max_queries is not None:
        for task in tasks:
            for attr in ("queries", "tune_queries"):
                queries: list[Query] = getattr(task, attr)
                if len(queries) > max_queries:
                    caps.append(
                        f"{task.name}: {attr.replace('_', ' ')} capped {len(queries)} ->"
                        f" {max_queries} (seeded sample, in/out-of-scope ratio kept)"
                    )
                    setattr(task, attr, ds.cap_queries(queries, max_queries))
    return tasks, caps


CODE_UNDER_TEST = ("bot/kb/retrieval.py", "bot/kb/embeddings.py", "persistence/knowledge.py")


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def code_under_test(names: Sequence[str] = CODE_UNDER_TEST) -> dict[str, Any]:
    """Which code was measured: HEAD, and each file's hash and whether it differs from HEAD
    (the modules are imported once at start, so later edits do not affect a running bench)."""
    files = {}
    for name in names:
        path = REPO_ROOT / name
        files[name] = {
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest()[:12],
            "modified_vs_head": bool(_git("status", "--porcelain", "--", name)),
        }
    return {"git_head": _git("rev-parse", "HEAD"), "files": files}


async def run(args: argparse.Namespace, tasks: list[Task], caps: list[str]) -> dict[str, Any]:
    started = time.perf_counter()
    load_before = os.getloadavg()
    stemmer, stemmer_name = reference_stemmer()
    local: LocalEmbedder | None = None if args.no_dense else LocalEmbedder()
    cached = None if local is None else CachedEmbedder(local)
    if local is not None:
        t = time.perf_counter()
        await local.embed(["load the model"])
        log(f"embedding model loaded in {time.perf_counter() - t:.1f}s", started)
    print(f"bm25s reference: stopwords 'en', stemmer: {stemmer_name}")
    if caps:
        print("capped:")
        print("\n".join(f"  - {c}" for c in caps))
    print(flush=True)

    results: list[TaskResult] = []
    for task in tasks:
        result = await evaluate(task, cached, stemmer, started)
        results.append(result)
        print(task_table(result) + "\n", flush=True)
    groups: dict[str, list[TaskResult]] = {}
    for r in results:
        groups.setdefault(r.group, []).append(r)
    averages = {}
    for group, members in groups.items():
        if len(members) > 1:
            averages[group] = macro_average(group, members)
            print(macro_table(group, averages[group], len(members)) + "\n", flush=True)

    thresholds = {
        r.name: {m: v.tuned.threshold for m, v in r.modes.items() if v.tuned is not None}
        for r in results
        if r.out_of_scope
    }
    modes = [m for m in MODES if any(m in v for v in thresholds.values())]
    print("== tuned 'nothing fits' thresholds (max F1 on the tuning split)")
    print(
        table(
            ["dataset", *modes],
            [[name, *(f"{v[m]:.2f}" for m in modes)] for name, v in thresholds.items()]
            + [["DEFAULT_FIT_THRESHOLDS", *(f"{DEFAULT_FIT_THRESHOLDS[m]:.2f}" for m in modes)]],
        )
        + "\n",
        flush=True,
    )

    sizes = QUICK_LATENCY_SIZES if args.quick else LATENCY_SIZES
    latency: list[dict[str, Any]] = []
    if sizes:
        pool = await asyncio.to_thread(ds.latency_corpus, args.data)
        queries = await asyncio.to_thread(ds.latency_queries, args.data, LATENCY_QUERIES)
        log(f"latency pool: {sum(len(a.chunks) for a in pool)} chunks", started)
        for size in sizes:
            real_max = QUICK_REAL_EMBED_MAX_CHUNKS if args.quick else REAL_EMBED_MAX_CHUNKS
            latency.append(
                await latency_size(pool, size, queries, local, stemmer, real_max, started)
            )
        print(
            f"== latency: Retriever.lookup(limit={LATENCY_LIMIT}) over {len(queries)} mixed"
            " queries per size (fresh retriever per mode; '1st' = first lookup, which loads"
            " caches and the vector matrix; dense/hybrid include embedding the query)"
        )
        print(latency_table(latency))
        random_sizes = [str(r["chunks"]) for r in latency if "RANDOM" in r.get("vectors", "")]
        print(
            f"   upsert = upsert_many wall time in batches of {UPSERT_BATCH} articles;"
            " vectors = embed_missing wall time"
        )
        if random_sizes:
            print(
                f"   * at {', '.join(random_sizes)} chunks: RANDOM unit vectors stored with"
                " store_vectors instead of real embeddings (time = generating + storing them);"
                " dense/hybrid latency there is real, their rankings are meaningless"
            )
        print(
            "   corpus: sentences of clinc150/banking77/bitext/hint3 (10 per article by label),"
            " stackfaq questions/answers/paraphrases, feedbackqa passages; shuffled; repeated"
            " with a ' (copy N)' suffix past the ~52k distinct chunks\n",
            flush=True,
        )

    return {
        "tasks": [asdict(r) for r in results],
        "macro_averages": averages,
        "thresholds": thresholds,
        "default_thresholds": dict(DEFAULT_FIT_THRESHOLDS),
        "latency": latency,
        "reference": {"package": "bm25s", "stopwords": "en", "stemmer": stemmer_name},
        "caps": caps,
        "seconds": time.perf_counter() - started,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.retrieval", description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the eval-data folder")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"at most {QUICK_MAX_QUERIES} queries per dataset, smaller clinc150 index,"
        " latency at 1k and 10k chunks only",
    )
    parser.add_argument("--no-dense", action="store_true", help="bm25 only: no embedding model")
    parser.add_argument("--max-queries", type=int, default=None, help="cap queries per dataset")
    parser.add_argument("--out", type=Path, default=None, help="where to write the JSON")
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="where the index lives; postgresql: a throwaway server (initdb/pg_ctl) (sqlite)",
    )
    args = parser.parse_args(argv)
    BACKEND["name"] = args.backend
    if args.quick and args.max_queries is None:
        args.max_queries = QUICK_MAX_QUERIES
    if args.out is None:
        name = "retrieval-quick" if args.quick else "retrieval"
        if args.backend == "postgresql":
            name += "-postgresql"
        args.out = RESULTS / f"{name}.json"
    if not args.data.is_dir():
        parser.error(f"no data folder at {args.data}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    args = parse_args(argv)
    wall = time.perf_counter()
    tasks, caps = load_tasks(args.data, args.quick, args.max_queries)
    command = shlex.join([Path(sys.executable).name, "-m", "bench.retrieval", *sys.argv[1:]])
    code = code_under_test()
    print(f"$ {command}")
    print(
        f"code under test (HEAD {str(code['git_head'])[:12]}): "
        + ", ".join(
            f"{name} {v['sha256']}" + (" (modified vs HEAD)" if v["modified_vs_head"] else "")
            for name, v in code["files"].items()
        )
    )
    report = asyncio.run(run(args, tasks, caps))
    seconds = time.perf_counter() - wall
    report["meta"] = {
        "command": command,
        "data": str(args.data),
        "quick": args.quick,
        "dense": not args.no_dense,
        "max_queries": args.max_queries,
        "code_under_test": code,
        "ms_per_query_note": "mean Retriever.lookup time in the accuracy runs; query vectors"
        " are pre-computed in one batch there, so dense/hybrid exclude query embedding (the"
        " latency section includes it)",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
        "wall_seconds": seconds,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "search_limit_chunks": SEARCH_LIMIT,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    before = " ".join(f"{x:.2f}" for x in report["load_average_before"])
    after = " ".join(f"{x:.2f}" for x in report["load_average_after"])
    print(
        f"load average (1/5/15 min) at start {before}, at end {after}, on {os.cpu_count()} cores"
        " (anything above this run's own ~1-2 means shared CPU: timings are then pessimistic)"
    )
    print(f"total wall time {seconds:.0f}s; results written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
