"""The knowledge base's FTS5 index read out whole, and questions tokenized exactly as FTS5 does.

SQLite's ``bm25()`` visits every row an OR query matches: at 100k chunks a question's common
words match thousands of rows and ranking cost ~11 ms of CPU per question, the largest cost the
bot had (issue 8). ``bot/lexical.py`` ranks the same postings in memory instead. Both halves read
their terms from FTS5 itself (the ``fts5vocab`` table, and a private in-memory FTS5 table with the
same tokenizer for questions), so stemming and case folding cannot drift from the index.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

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
