"""BM25 over the knowledge base's FTS5 postings, in memory, scoring exactly as FTS5's bm25().

Each (term, chunk) pair's contribution is computed once per knowledge-base version, and a query
sums a few arrays (why: docs/performance.md). The formula is FTS5's (fts5_aux.c,
fts5Bm25Function): for each query phrase,

    idf * f * (k1 + 1) / (f + k1 * (1 - b + b * D / avgdl)),   k1 = 1.2, b = 0.75,

with ``f`` the column-weighted frequency, ``D`` the chunk's tokens over all columns, ``avgdl``
the mean of D, and ``idf = log((N - n + 0.5) / (n + 0.5))`` (1e-6 when not positive). Scores and
ranking therefore match ``KnowledgeRepository.search`` (tests/bot/kb/test_lexical.py compares them).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from persistence.lexicon import Postings

# A word the index does not hold, of at least this many letters, is taken for a misspelling of
# the nearest indexed token within one edit (two from CORRECT_TWO_FROM letters on) that starts
# with the same letter: "invioce" finds "invoic". Shorter words are too ambiguous to correct.
CORRECT_FROM = 5
CORRECT_TWO_FROM = 8

K1 = 1.2
B = 0.75


class LexicalIndex:
    def __init__(self, postings: Postings) -> None:
        self.version = postings.version
        self.chunks = postings.row_count
        self._term_ids = {term: i for i, term in enumerate(postings.terms)}
        self._by_initial: dict[str, list[str]] = {}
        for term in postings.terms:
            if len(term) >= CORRECT_FROM - 1 and term.isalpha():
                self._by_initial.setdefault(term[0], []).append(term)
        self._corrections: dict[str, str | None] = {}
        self._starts = postings.starts
        self._row_ids = postings.row_ids
        # Postings are positions into row_ids, so the accumulator is as long as the index has
        # chunks, whatever their ids have grown to.
        self._positions = postings.positions
        self._scores = np.zeros(len(postings.row_ids), dtype=np.float64)
        n = float(postings.row_count)
        df = np.diff(postings.starts)
        idf = np.log((n - df + 0.5) / (df + 0.5))
        idf[idf <= 0.0] = 1e-6
        avgdl = postings.token_count / n if n else 1.0
        norm = K1 * (1.0 - B + B * postings.row_tokens / avgdl)
        f = postings.freqs.astype(np.float64)
        impacts = f * (K1 + 1.0)
        impacts /= f + norm[self._positions]
        impacts *= np.repeat(idf, df)
        self._impacts = impacts

    def document_frequency(self, term: str) -> int:
        i = self._term_ids.get(term)
        return 0 if i is None else int(self._starts[i + 1] - self._starts[i])

    def correction(self, token: str) -> str | None:
        """The indexed token a token the index does not hold is most likely a misspelling of,
        or None (the token is known, too short, or nothing is close enough)."""
        if token in self._term_ids or len(token) < CORRECT_FROM or not token.isalpha():
            return None
        if token in self._corrections:
            return self._corrections[token]
        cutoff = 2 if len(token) >= CORRECT_TWO_FROM else 1
        found = process.extractOne(
            token,
            self._by_initial.get(token[0], []),
            scorer=Levenshtein.distance,
            score_cutoff=cutoff,
        )
        nearest = str(found[0]) if found is not None else None
        self._corrections[token] = nearest
        return nearest

    def _slice(self, term: str) -> tuple[int, int]:
        i = self._term_ids.get(term)
        if i is None:
            return 0, 0
        return int(self._starts[i]), int(self._starts[i + 1])

    def contains(self, term: str, chunk_id: int) -> bool:
        where = int(np.searchsorted(self._row_ids, chunk_id))
        if where >= len(self._row_ids) or int(self._row_ids[where]) != chunk_id:
            return False
        lo, hi = self._slice(term)
        at = lo + int(np.searchsorted(self._positions[lo:hi], where))
        return at < hi and int(self._positions[at]) == where

    def search(self, phrases: Sequence[str], limit: int) -> list[tuple[int, float]]:
        """The best ``limit`` chunks for an OR of single-token phrases, best first.

        A phrase given twice counts twice, as two identical phrases do in FTS5. Ties go to the
        lower chunk id."""
        slices = [self._slice(p) for p in phrases]
        slices = [(lo, hi) for lo, hi in slices if hi > lo]
        if not slices or limit <= 0:
            return []
        acc = self._scores
        # A term's postings hold each chunk once, so fancy-index addition is exact per term.
        for lo, hi in slices:
            acc[self._positions[lo:hi]] += self._impacts[lo:hi]
        candidates = np.concatenate([self._positions[lo:hi] for lo, hi in slices])
        scores = acc[candidates]
        acc[candidates] = 0.0
        # A chunk appears once per phrase it contains, so the best limit * phrases entries hold
        # every entry of the best ``limit`` chunks; ties with the last of them are kept too.
        wide = min(len(candidates), limit * len(slices))
        if wide < len(candidates):
            part = np.argpartition(-scores, wide - 1)[:wide]
            chosen = np.flatnonzero(scores >= scores[part].min())
        else:
            chosen = np.arange(len(candidates))
        positions, first = np.unique(candidates[chosen], return_index=True)
        best_scores = scores[chosen][first]
        ids = self._row_ids[positions]
        best = np.lexsort((ids, -best_scores))[:limit]
        return [(int(ids[i]), float(best_scores[i])) for i in best]
