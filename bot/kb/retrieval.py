"""Finding the passages that answer a question, and knowing when none does.

Three modes over one index: ``bm25`` (SQLite FTS5 or PostgreSQL's tsvector, stemmed, heading and
title weighted; ranked in memory by ``bot/kb/lexical.py`` once the index for the current KB version
is loaded, by the database itself until then, with the same scores),
``dense`` (cosine over stored vectors) and ``hybrid`` (reciprocal rank fusion of both). Every
lookup also returns a confidence in [0, 1] and whether anything is relevant at all (``fits``),
which stops an answer from the nearest irrelevant article:

- BM25 scores are not comparable between queries, so the lexical confidence is *coverage*: the
  IDF-weighted share of the question's terms that the best passage contains. A question about
  something the knowledge base never mentions leaves its rare terms uncovered.
- The dense confidence is the cosine similarity of the best passage.
- Hybrid averages the two for the fused best passage.

A verified answer (``bot/kb/provenance.py``: a reply the team sent, generalised and approved by
an admin) ranks with a small boost: its score times ``VERIFIED_BOOST`` in the final ranking of
each lookup, over twice as many candidates as the lookup returns (so one just below the cut can
rise into it). Nothing changes for other articles, nor for a lookup that finds no verified
answer.

The confidence is evidence, not a verdict on the answer: the model judges whether passages
answer the question, and code checks its facts (``bot/tickets/answering.py``). The floor below only
says "nothing relevant at all": none of the first passages covers even a tenth of the
question's substance (``bot/tickets/query.py``); how 0.1 was chosen: docs/design.md, "How it
decides".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from bot.kb.embeddings import Embedder
from bot.kb.lexical import LexicalIndex
from bot.kb.provenance import is_verified
from persistence.knowledge import KnowledgeRepository
from persistence.records import KnowledgeHit

log = logging.getLogger(__name__)

Mode = Literal["bm25", "dense", "hybrid"]
# "Nothing relevant at all" below these (the module docstring says how BM25's was chosen; the
# dense and hybrid floors are conservative guesses, not measured on Slack-style messages here:
# no embedding model is reachable offline). KB_FIT_THRESHOLD overrides per installation.
DEFAULT_FIT_THRESHOLDS: dict[str, float] = {"bm25": 0.1, "dense": 0.3, "hybrid": 0.2}
RRF_K = 60
VERIFIED_BOOST = 1.1
CANDIDATES = 50
EMBED_BATCH = 256

_WORD = re.compile(r"\w+", re.UNICODE)
# Words that match nearly every chunk and so only add noise to an OR query.
_STOPWORDS = frozenset(
    (
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "this",
        "to",
        "us",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "hi",
        "hello",
        "thanks",
        "please",
    )
)


def query_terms(text: str) -> list[str]:
    """The distinct search words of a question, stopwords dropped (unless nothing is left)."""
    words = [w.lower() for w in _WORD.findall(text)]
    terms = [w for w in words if w not in _STOPWORDS] or words
    return list(dict.fromkeys(terms))[:32]


@dataclass(frozen=True)
class Lookup:
    query: str
    mode: Mode
    hits: list[KnowledgeHit]
    confidence: float
    threshold: float

    @property
    def fits(self) -> bool:
        return bool(self.hits) and self.confidence >= self.threshold


class DenseIndex:
    """All vectors of one model in memory as a normalised matrix, reloaded when the KB changes."""

    def __init__(self) -> None:
        self.version = -1
        self.ids = np.zeros(0, dtype=np.int64)
        self.matrix = np.zeros((0, 0), dtype=np.float32)

    def load(self, version: int, rows: list[tuple[int, bytes]]) -> None:
        self.version = version
        self.ids = np.asarray([r[0] for r in rows], dtype=np.int64)
        if rows:
            # One buffer, one reshape: ten times faster than stacking 100k small arrays.
            flat = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
            self.matrix = flat.reshape(len(rows), -1)
        else:
            self.matrix = np.zeros((0, 0), dtype=np.float32)

    def nearest(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        if not len(self.ids) or self.matrix.shape[1] != query.shape[0]:
            return []
        scores = self.matrix @ query
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(int(self.ids[i]), float(scores[i])) for i in top]

    def similarity(self, query: np.ndarray, chunk_id: int) -> float:
        where = np.nonzero(self.ids == chunk_id)[0]
        if not len(where) or self.matrix.shape[1] != query.shape[0]:
            return 0.0
        return float(self.matrix[where[0]] @ query)


class Retriever:
    def __init__(
        self,
        repo: KnowledgeRepository,
        *,
        embedder: Embedder | None = None,
        fit_threshold: float | None = None,
    ) -> None:
        self.repo = repo
        self.embedder = embedder
        self.fit_threshold = fit_threshold
        self._df: dict[str, int | None] = {}
        self._df_version = -1
        self._chunks = 0
        self._dense = DenseIndex()
        self._lexical: LexicalIndex | None = None
        self._building: asyncio.Task[None] | None = None
        self._failed_version = -1

    @property
    def default_mode(self) -> Mode:
        return "hybrid" if self.embedder is not None else "bm25"

    def threshold(self, mode: Mode) -> float:
        if self.fit_threshold is not None:
            return self.fit_threshold
        return DEFAULT_FIT_THRESHOLDS[mode]

    # -- the in-memory lexical index ------------------------------------------------------

    def _index_for(self, version: int) -> LexicalIndex | None:
        """The in-memory index if it holds ``version``; otherwise start loading it (lookups use
        FTS5 meanwhile, so none waits for a load)."""
        index = self._lexical
        if index is not None and index.version == version:
            return index
        if (
            self.repo.holds_postings
            and version != self._failed_version
            and (self._building is None or self._building.done())
        ):
            self._building = asyncio.create_task(self._load(version))
        return None

    async def _load(self, version: int) -> None:
        try:
            postings = await self.repo.postings()
            self._lexical = await asyncio.to_thread(LexicalIndex, postings)
        except Exception:
            # FTS5 keeps answering, with the same ranking; only the cost stays higher.
            log.warning("could not load the in-memory search index", exc_info=True)
            self._failed_version = version

    async def close(self) -> None:
        """Stop loading the in-memory index (before the database closes under it)."""
        building, self._building = self._building, None
        if building is not None and not building.done():
            building.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await building

    async def ready(self) -> bool:
        """Wait until the in-memory index holds the current KB version; whether it does."""
        while True:
            version = await self.repo.version()
            if self._index_for(version) is not None:
                return True
            building = self._building
            if building is None or version == self._failed_version:
                return False
            await asyncio.shield(building)

    async def _phrases(self, terms: list[str]) -> list[str] | None:
        """The index tokens of the question's words, or None where the database must decide: a
        word that is not exactly one token (``a_b`` is a two-token phrase) needs phrase
        matching. A word with no token at all (a PostgreSQL stopword) is not searchable."""
        tokens = await self.repo.query_tokens(terms)
        kept = [t for t in terms if tokens[t]]
        if any(len(tokens[t]) != 1 for t in kept):
            return None
        return [tokens[t][0] for t in kept]

    # -- lookups --------------------------------------------------------------------------

    async def lookup(
        self,
        query: str,
        *,
        limit: int = 5,
        mode: Mode | None = None,
        judged: int = 1,
        only: Callable[[KnowledgeHit], bool] | None = None,
    ) -> Lookup:
        """The best ``limit`` passages, and the confidence that one of the first ``judged`` is
        relevant (the best of their confidences). With ``only``, passages it refuses are left
        out before the confidence is judged, as if they were not in the knowledge base."""
        mode = mode or self.default_mode
        if mode != "bm25" and self.embedder is None:
            raise ValueError(f"{mode} search needs an embedding model")
        version = await self.repo.version()
        terms = query_terms(query)
        lexical: list[tuple[int, float]] = []
        known: dict[int, KnowledgeHit] = {}
        index: LexicalIndex | None = None
        phrases: list[str] | None = None
        # Twice the passages asked for, so that a verified answer just below the cut can rise
        # into it by its boost, and so that ``only`` still leaves ``limit`` to return.
        reach = 2 * limit
        if mode != "dense" and terms:
            # Fusion needs a deep candidate list; plain BM25 needs only what it returns.
            depth = reach if mode == "bm25" else max(reach, CANDIDATES)
            index = self._index_for(version)
            phrases = await self._phrases(terms) if index is not None else None
            if index is not None and phrases is not None:
                phrases = [index.correction(p) or p for p in phrases]
                lexical = index.search(phrases, depth)
            else:
                index = None
                found = await self.repo.search(terms, limit=depth)
                lexical = [(h.chunk_id, h.score) for h in found]
                known = {h.chunk_id: h for h in found}
        vector = None
        dense: list[tuple[int, float]] = []
        if mode != "bm25":
            vector = await self._query_vector(query, version)
            dense = self._dense.nearest(vector, max(reach, CANDIDATES))
        if mode == "bm25":
            hits = await self._hits(lexical[:reach], known)
        elif mode == "dense":
            hits = await self._hits(dense[:reach], {})
        else:
            hits = await self._hits(_fuse(lexical, dense, reach), known)
        if only is not None:
            hits = [hit for hit in hits if only(hit)]
        hits = boost_verified(hits)[:limit]
        confidence = 0.0
        for hit in hits[: max(1, judged)]:
            if mode == "dense":
                one = hit.score
            else:
                if index is not None and phrases is not None:
                    coverage = _coverage_in(index, phrases, hit.chunk_id)
                else:
                    coverage = await self._coverage(terms, hit.chunk_id, version)
                if mode == "bm25":
                    one = coverage
                else:
                    assert vector is not None
                    one = (coverage + self._dense.similarity(vector, hit.chunk_id)) / 2
            confidence = max(confidence, one)
        return Lookup(
            query=query,
            mode=mode,
            hits=hits,
            confidence=round(max(0.0, min(1.0, confidence)), 4),
            threshold=self.threshold(mode),
        )

    async def _hits(
        self, ranked: list[tuple[int, float]], known: dict[int, KnowledgeHit]
    ) -> list[KnowledgeHit]:
        """The ranked chunks as hits carrying their scores, reading those not yet read."""
        missing = [c for c, _ in ranked if c not in known]
        found = {**known, **(await self.repo.hits(missing))} if missing else known
        return [replace(found[c], score=s) for c, s in ranked if c in found]

    async def _coverage(self, terms: list[str], chunk_id: int, version: int) -> float:
        """IDF-weighted share of the question's terms that the passage contains (via the
        database's full-text index)."""
        if not terms:
            return 0.0
        if version != self._df_version:
            # Read the count before publishing the version: a lookup running meanwhile must
            # not take the new version with the old count (a confidence from 0 chunks).
            chunks = await self.repo.chunk_count()
            if version != self._df_version:
                self._df.clear()
                self._chunks = chunks
                self._df_version = version
        unknown = [t for t in terms if t not in self._df]
        found = await self.repo.document_frequencies(unknown)
        for t in unknown:
            self._df[t] = found.get(t)  # None: a word the index does not hold (a stopword)
        indexed = [(t, df) for t in terms if (df := self._df[t]) is not None]
        present = await self.repo.terms_in_chunk([t for t, df in indexed if df], chunk_id)
        return _covered_share(self._chunks, [(df, t in present) for t, df in indexed])

    async def _query_vector(self, query: str, version: int) -> np.ndarray:
        assert self.embedder is not None
        if version != self._dense.version:
            self._dense.load(version, await self.repo.vectors(self.embedder.name))
        return np.asarray((await self.embedder.embed([query]))[0], dtype=np.float32)

    async def embed_missing(self) -> int:
        """Compute vectors for chunks that have none for the current model."""
        if self.embedder is None:
            return 0
        done = 0
        while True:
            batch = await self.repo.chunks_without_vectors(self.embedder.name, limit=EMBED_BATCH)
            if not batch:
                return done
            vectors = await self.embedder.embed([text for _, text in batch])
            await self.repo.store_vectors(
                self.embedder.name,
                [
                    (chunk_id, vectors[i].astype(np.float32).tobytes())
                    for i, (chunk_id, _) in enumerate(batch)
                ],
            )
            done += len(batch)


def boost_verified(hits: list[KnowledgeHit]) -> list[KnowledgeHit]:
    """The final ranking: verified answers' scores times ``VERIFIED_BOOST`` (a negative score
    rises by the same tenth), then by score, ties in their order. Without one, as it was."""
    if not any(is_verified(h.origin) for h in hits):
        return hits
    boosted = [
        replace(h, score=h.score + abs(h.score) * (VERIFIED_BOOST - 1))
        if is_verified(h.origin)
        else h
        for h in hits
    ]
    return sorted(boosted, key=lambda h: -h.score)


def _fuse(
    lexical: list[tuple[int, float]], dense: list[tuple[int, float]], limit: int
) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: robust to the two scores living on different scales."""
    fused: dict[int, float] = {}
    for ranking in (lexical, dense):
        for rank, (chunk_id, _) in enumerate(ranking):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
    best = sorted(fused.items(), key=lambda item: -item[1])[:limit]
    return [(c, round(s, 6)) for c, s in best]


def _coverage_in(index: LexicalIndex, phrases: list[str], chunk_id: int) -> float:
    """``Retriever._coverage`` over the in-memory index (same document frequencies)."""
    return _covered_share(
        index.chunks,
        [(index.document_frequency(p), index.contains(p, chunk_id)) for p in phrases],
    )


def _covered_share(chunks: int, terms: list[tuple[int, bool]]) -> float:
    """IDF-weighted share of (document frequency, present in the passage) terms present."""
    total = covered = 0.0
    n = max(chunks, 1)
    for df, present in terms:
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        total += idf
        if present:
            covered += idf
    return covered / total if total else 0.0
