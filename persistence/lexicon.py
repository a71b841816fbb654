"""The knowledge base's FTS5 index read out whole, and questions tokenized exactly as FTS5 does.

``bot/kb/lexical.py`` ranks these postings in memory instead of SQLite's ``bm25()``. Both halves
read their terms from FTS5 itself (the ``fts5vocab`` table, and a private in-memory FTS5 table
with the same tokenizer for questions), so stemming and case folding cannot drift from the
index.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from persistence.db import Database
from persistence.migrations_pg import TS_CONFIG

# The tokenizer of kb_fts (migration 0001); the query tokenizer must use the very same.
FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"
_COLUMNS = ("title", "heading", "text")
# Beyond this many cached words the cache starts over: questions' vocabulary is open-ended.
_CACHE_LIMIT = 100_000


@dataclass(frozen=True)
class Postings:
    """Every (term, row) pair of kb_fts with its column-weighted frequency, at one KB version.

    ``row_ids``: every row of kb_fts, ascending, with ``row_tokens`` its token count over all
    columns (FTS5's D). Term ``i``'s postings are ``positions[starts[i]:starts[i + 1]]``
    (indexes into ``row_ids``, ascending), with ``freqs`` aligned to them.
    """

    version: int
    token_count: int
    terms: list[str]
    starts: np.ndarray
    positions: np.ndarray
    freqs: np.ndarray
    row_ids: np.ndarray
    row_tokens: np.ndarray

    @property
    def row_count(self) -> int:
        return len(self.row_ids)


def read_postings(path: str, weights: Sequence[float]) -> Postings:
    """Read kb_fts's postings from the database file at ``path`` in one read snapshot.

    Blocking (under a second at 100k chunks, much of it inside SQLite without the GIL): run it
    on a thread. ``weights`` are the bm25() column weights for (title, heading, text).
    """
    # Column weights as float32: 1.5, 2 and 1 and their small sums are exact in it.
    weight_of = np.asarray([*weights, 0.0], dtype=np.float32)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        conn.execute(
            "CREATE VIRTUAL TABLE temp.kb_fts_instances USING fts5vocab(main, kb_fts, instance)"
        )
        conn.execute("BEGIN")
        row = conn.execute("SELECT value FROM kb_meta WHERE key = 'version'").fetchone()
        version = int(row[0]) if row else 0
        row_ids = np.fromiter(
            (r[0] for r in conn.execute("SELECT rowid FROM kb_fts ORDER BY rowid")),
            dtype=np.int64,
        )
        total = int(conn.execute("SELECT COUNT(*) FROM temp.kb_fts_instances").fetchone()[0])
        # One row per term with its instances packed as row * 4 + column, so that Python
        # touches 14k strings rather than 2.6M tuples (1.4 s -> 0.1 s at 100k chunks), each
        # folded into postings at once so that memory stays near the result's size.
        column = " ".join(f"WHEN '{name}' THEN {i}" for i, name in enumerate(_COLUMNS))
        cursor = conn.execute(
            f"SELECT term, group_concat(doc * 4 + CASE col {column} ELSE 3 END)"
            " FROM temp.kb_fts_instances GROUP BY term ORDER BY term"
        )
        terms: list[str] = []
        starts = [0]
        positions = np.empty(total, dtype=np.int32)
        freqs = np.empty(total, dtype=np.float32)
        counts = np.empty(total, dtype=np.int32)
        n = 0
        for term, instances in cursor:
            packed = np.sort(np.fromstring(instances, dtype=np.int64, sep=","))
            rows = packed >> 2
            heads = np.flatnonzero(np.diff(rows, prepend=-1))
            k = len(heads)
            if n + k > total:  # one snapshot cannot disagree with itself; be safe anyway
                raise sqlite3.DatabaseError("the FTS5 index changed while it was read")
            positions[n : n + k] = np.searchsorted(row_ids, rows[heads])
            freqs[n : n + k] = np.add.reduceat(weight_of[packed & 3], heads)
            counts[n : n + k] = np.diff(heads, append=len(rows))
            n += k
            terms.append(term)
            starts.append(n)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return Postings(
        version=version,
        token_count=int(counts[:n].sum()),
        terms=terms,
        starts=np.asarray(starts, dtype=np.int64),
        positions=positions[:n].copy(),
        freqs=freqs[:n].copy(),
        row_ids=row_ids,
        row_tokens=np.bincount(positions[:n], weights=counts[:n], minlength=len(row_ids)),
    )


# A tsvector entry ``u``'s column-weighted frequency: its positions weighted by column (title A,
# heading B, text C), the weights as three parameters. Shared by the SQL ranking
# (``persistence/knowledge.py``) and the postings below, so the two cannot drift apart.
PG_TERM_FREQUENCY = (
    "(SELECT SUM(CASE w WHEN 'A' THEN ?::float8 WHEN 'B' THEN ?::float8 ELSE ?::float8 END)"
    " AS tf FROM unnest(u.weights) w)"
)


async def read_postings_pg(db: Database, weights: Sequence[float]) -> Postings:
    """PostgreSQL's weighted tsvectors as ``Postings``: each lexeme's chunks and its
    column-weighted frequency in each (title A, heading B, text C), and each chunk's length in
    words (``kb_chunks.tokens``). Read again if the knowledge base changed meanwhile (every
    change bumps its version in the same transaction), so the result is one snapshot."""
    title, heading, text = (float(w) for w in weights)
    for _ in range(5):
        before = await _kb_version(db)
        rows = await db.fetchone(
            "SELECT string_agg(id::text, ',' ORDER BY id) AS ids,"
            " string_agg(tokens::text, ',' ORDER BY id) AS tokens FROM kb_chunks"
        )
        # Packed as text, one row per lexeme: decoding millions of array elements would
        # hold the event loop; parsing the text happens on a thread.
        terms = await db.fetchall(
            "SELECT u.lexeme AS term, string_agg(c.id::text, ',' ORDER BY c.id) AS ids,"
            " string_agg(f.tf::text, ',' ORDER BY c.id) AS tfs"
            " FROM kb_chunks c CROSS JOIN LATERAL unnest(c.tsv) u"
            f" CROSS JOIN LATERAL {PG_TERM_FREQUENCY} f"
            " GROUP BY u.lexeme ORDER BY u.lexeme",
            (title, heading, text),
        )
        if await _kb_version(db) == before:
            return await asyncio.to_thread(_assemble, before, rows, terms)
    raise RuntimeError("the knowledge base kept changing while its index was read")


async def _kb_version(db: Database) -> int:
    row = await db.fetchone("SELECT value FROM kb_meta WHERE key = 'version'")
    return int(row["value"]) if row else 0


def _numbers(text: str | None, dtype: Any) -> np.ndarray:
    if not text:
        return np.zeros(0, dtype=dtype)
    return np.asarray(text.split(","), dtype=np.float64).astype(dtype)


def _assemble(version: int, rows: Any, terms: Sequence[Any]) -> Postings:
    row_ids = _numbers(rows["ids"] if rows else None, np.int64)
    row_tokens = _numbers(rows["tokens"] if rows else None, np.float64)
    names: list[str] = []
    starts = [0]
    chunks: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for row in terms:
        ids = _numbers(row["ids"], np.int64)
        names.append(str(row["term"]))
        chunks.append(np.searchsorted(row_ids, ids).astype(np.int32))
        weights.append(_numbers(row["tfs"], np.float32))
        starts.append(starts[-1] + len(ids))
    return Postings(
        version=version,
        token_count=int(row_tokens.sum()),
        terms=names,
        starts=np.asarray(starts, dtype=np.int64),
        positions=np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int32),
        freqs=np.concatenate(weights) if weights else np.zeros(0, dtype=np.float32),
        row_ids=row_ids,
        row_tokens=row_tokens,
    )


class PgQueryTokenizer:
    """Words -> the lexemes PostgreSQL's text search makes of them ("Exporting" -> ("export",);
    a stopword -> ()), with the configuration of ``kb_chunks.tsv``; cached like
    ``QueryTokenizer``, one round trip for a lookup's new words."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[str, tuple[str, ...]] = {}

    async def tokens(self, words: Iterable[str]) -> dict[str, tuple[str, ...]]:
        wanted = list(dict.fromkeys(words))
        unknown = [w for w in wanted if w not in self._cache]
        if unknown:
            if len(self._cache) + len(unknown) > _CACHE_LIMIT:
                self._cache.clear()
            rows = await self.db.fetchall(
                "SELECT w.word, ARRAY(SELECT lexeme FROM unnest(to_tsvector("
                f"'{TS_CONFIG}', w.word)) ORDER BY positions[1]) AS lexemes"
                " FROM unnest(?::text[]) AS w(word)",
                (unknown,),
            )
            found = {str(r["word"]): tuple(r["lexemes"]) for r in rows}
            for word in unknown:
                self._cache[word] = found.get(word, ())
        return {w: self._cache[w] for w in wanted}


class QueryTokenizer:
    """Words -> the FTS5 tokens the index holds for them ("Exporting" -> ("export",)).

    A private in-memory FTS5 table with kb_fts's tokenizer does the work; answers are cached, so
    a word costs one SQLite round trip the first time it is seen and a dict look-up after.
    """

    def __init__(self) -> None:
        self._conn: sqlite3.Connection | None = None
        self._cache: dict[str, tuple[str, ...]] = {}

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(":memory:", isolation_level=None)
            conn.execute(
                f"CREATE VIRTUAL TABLE words USING fts5(word, tokenize = '{FTS_TOKENIZER}')"
            )
            conn.execute("CREATE VIRTUAL TABLE tokens USING fts5vocab(words, instance)")
            self._conn = conn
        return self._conn

    def tokens(self, words: Iterable[str]) -> dict[str, tuple[str, ...]]:
        wanted = list(dict.fromkeys(words))
        unknown = [w for w in wanted if w not in self._cache]
        if unknown:
            if len(self._cache) + len(unknown) > _CACHE_LIMIT:
                self._cache.clear()
            conn = self._connection()
            conn.execute("BEGIN")
            try:
                conn.executemany(
                    "INSERT INTO words(rowid, word) VALUES (?, ?)",
                    [(i + 1, w) for i, w in enumerate(unknown)],
                )
                found: dict[int, list[tuple[int, str]]] = {}
                for doc, offset, term in conn.execute("SELECT doc, offset, term FROM tokens"):
                    found.setdefault(int(doc), []).append((int(offset), str(term)))
                conn.execute("DELETE FROM words")
            finally:
                conn.execute("COMMIT")
            for i, word in enumerate(unknown):
                self._cache[word] = tuple(term for _, term in sorted(found.get(i + 1, [])))
        return {w: self._cache[w] for w in wanted}

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
