"""Knowledge articles, their heading chunks, the FTS5 (BM25) index and the dense vectors."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Sequence

from persistence.db import Database, Row, Tx, now
from persistence.lexicon import (
    PG_TERM_FREQUENCY,
    PgQueryTokenizer,
    Postings,
    QueryTokenizer,
    read_postings,
    read_postings_pg,
)
from persistence.migrations_pg import TS_CONFIG
from persistence.records import ArticleInput, KnowledgeArticle, KnowledgeHit

# BM25 column weights for (title, heading, text). A match in a section heading says most (it is
# specific to the chunk); the title is shared by every chunk of an article, so it weighs less.
_BM25_WEIGHTS = (1.5, 2.0, 1.0)
# BM25's parameters, as FTS5's bm25() fixes them.
_K1 = 1.2
_B = 0.75
# PostgreSQL: a chunk's weighted tsvector from (title, heading, text), and one lexeme as a
# tsquery (quoted, its quotes and backslashes doubled, so punctuation in it is inert).
_PG_TSV = (
    f"setweight(to_tsvector('{TS_CONFIG}', ?::text), 'A')"
    f" || setweight(to_tsvector('{TS_CONFIG}', ?::text), 'B')"
    f" || setweight(to_tsvector('{TS_CONFIG}', ?::text), 'C')"
)
_LEXEME = r"""('''' || replace(replace({0}, '\', '\\'), '''', '''''') || '''')"""
_WORDS = re.compile(r"\w+", re.UNICODE)
_HIT_COLUMNS = (
    "c.id AS chunk_id, a.id AS article_id, a.title, COALESCE(a.url, a.source) AS source,"
    " c.heading, c.text, a.source AS origin"
)


def fts5_match(terms: Sequence[str]) -> str:
    """A safe FTS5 MATCH expression: each word quoted as a phrase, OR-ed."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def _length(*texts: str) -> int:
    """A chunk's length in words, BM25's document length (FTS5 counts its tokens)."""
    return sum(len(_WORDS.findall(t)) for t in texts)


def _hit(row: Row, score: float) -> KnowledgeHit:
    return KnowledgeHit(
        chunk_id=row["chunk_id"],
        article_id=row["article_id"],
        title=row["title"],
        source=row["source"],
        heading=row["heading"],
        text=row["text"],
        score=score,
        origin=row["origin"],
    )


def _article(row: Row) -> KnowledgeArticle:
    return KnowledgeArticle(
        id=row["id"],
        source=row["source"],
        url=row["url"],
        title=row["title"],
        tags=row["tags"],
        chunks=row["chunks"],
        updated_at=row["updated_at"],
    )


class KnowledgeRepository:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._sqlite_tokens: QueryTokenizer | None = None
        self._pg_tokens: PgQueryTokenizer | None = None

    # -- writing ------------------------------------------------------------------------

    async def content_hashes(self) -> dict[str, str]:
        rows = await self.db.fetchall("SELECT source, content_hash FROM kb_articles")
        return {r["source"]: r["content_hash"] for r in rows}

    async def content_hash(self, source: str) -> str | None:
        row = await self.db.fetchone(
            "SELECT content_hash FROM kb_articles WHERE source = ?", (source,)
        )
        return None if row is None else str(row["content_hash"])

    async def upsert(self, article: ArticleInput) -> int:
        return (await self.upsert_many([article]))[0]

    async def upsert_many(self, articles: Sequence[ArticleInput]) -> list[int]:
        """Replace articles and their chunks in one transaction; returns their ids."""
        ids: list[int] = []
        t = now()
        async with self.db.transaction() as tx:
            for article in articles:
                ids.append(await self._upsert(tx, article, t))
            await self._bump(tx)
        return ids

    async def _upsert(self, tx: Tx, article: ArticleInput, t: float) -> int:
        row = await tx.fetchone("SELECT id FROM kb_articles WHERE source = ?", (article.source,))
        if row is None:
            inserted = await tx.fetchone(
                "INSERT INTO kb_articles(source, title, content_hash, url, tags, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    article.source,
                    article.title,
                    article.content_hash,
                    article.url,
                    article.tags,
                    t,
                    t,
                ),
            )
            assert inserted is not None
            article_id = int(inserted["id"])
        else:
            article_id = int(row["id"])
            await self._delete_chunks(tx, [article_id])
            await tx.execute(
                "UPDATE kb_articles SET title = ?, content_hash = ?, url = ?, tags = ?,"
                " updated_at = ? WHERE id = ?",
                (article.title, article.content_hash, article.url, article.tags, t, article_id),
            )
        await self.insert_chunks(
            tx,
            [(None, article_id, n, c.heading, c.text) for n, c in enumerate(article.chunks)],
            {article_id: article.title},
        )
        return article_id

    async def insert_chunks(
        self,
        tx: Tx,
        chunks: Sequence[tuple[int | None, int, int, str, str]],
        titles: dict[int, str],
    ) -> None:
        """Insert (id or None for a new one, article id, position, heading, text) chunks and
        their full-text index entries; ``titles``: each article's title, indexed with them."""
        if self.db.dialect == "postgresql":
            explicit: list[tuple[object, ...]] = []  # copied chunks keep their ids
            new: list[tuple[object, ...]] = []
            for cid, aid, n, heading, text in chunks:
                title = titles[aid]
                row = (aid, n, heading, text, _length(title, heading, text), title, heading, text)
                if cid is None:
                    new.append(row)
                else:
                    explicit.append((cid, *row))
            columns = "article_id, position, heading, text, tokens, tsv"
            values = f"?, ?, ?, ?, ?, {_PG_TSV}"
            if explicit:
                await tx.executemany(
                    f"INSERT INTO kb_chunks(id, {columns}) VALUES (?, {values})", explicit
                )
            if new:
                await tx.executemany(f"INSERT INTO kb_chunks({columns}) VALUES ({values})", new)
            return
        for cid, aid, n, heading, text in chunks:
            inserted = await tx.fetchone(
                "INSERT INTO kb_chunks(id, article_id, position, heading, text)"
                " VALUES (?, ?, ?, ?, ?) RETURNING id",
                (cid, aid, n, heading, text),
            )
            assert inserted is not None
            await tx.execute(
                "INSERT INTO kb_fts(rowid, title, heading, text) VALUES (?, ?, ?, ?)",
                (inserted["id"], titles[aid], heading, text),
            )

    async def _delete_chunks(self, tx: Tx, article_ids: Sequence[int]) -> None:
        marks = ",".join("?" * len(article_ids))
        if self.db.dialect == "sqlite":
            await tx.execute(
                f"DELETE FROM kb_fts WHERE rowid IN (SELECT id FROM kb_chunks"
                f" WHERE article_id IN ({marks}))",
                list(article_ids),
            )
        await tx.execute(f"DELETE FROM kb_chunks WHERE article_id IN ({marks})", list(article_ids))

    async def _bump(self, tx: Tx) -> None:
        await tx.execute("UPDATE kb_meta SET value = value + 1 WHERE key = 'version'")

    async def remove(self, article_ids: Sequence[int]) -> int:
        """Delete articles with their chunks, index entries and vectors; returns how many."""
        if not article_ids:
            return 0
        async with self.db.transaction() as tx:
            await self._delete_chunks(tx, article_ids)
            marks = ",".join("?" * len(article_ids))
            cur = await tx.execute(
                f"DELETE FROM kb_articles WHERE id IN ({marks})", list(article_ids)
            )
            await self._bump(tx)
        return cur.rowcount

    async def ids_for_sources(self, sources: Iterable[str]) -> list[int]:
        wanted = list(sources)
        if not wanted:
            return []
        rows = await self.db.fetchall("SELECT id, source FROM kb_articles")
        keep = set(wanted)
        return [r["id"] for r in rows if r["source"] in keep]

    async def version(self) -> int:
        row = await self.db.fetchone("SELECT value FROM kb_meta WHERE key = 'version'", inline=True)
        return int(row["value"]) if row else 0

    # -- reading ------------------------------------------------------------------------

    async def articles(self) -> list[KnowledgeArticle]:
        rows = await self.db.fetchall(
            "SELECT a.*, (SELECT COUNT(*) FROM kb_chunks c WHERE c.article_id = a.id) AS chunks"
            " FROM kb_articles a ORDER BY a.id"
        )
        return [_article(r) for r in rows]

    async def article(self, article_id: int) -> tuple[KnowledgeArticle, list[KnowledgeHit]] | None:
        row = await self.db.fetchone(
            "SELECT a.*, (SELECT COUNT(*) FROM kb_chunks c WHERE c.article_id = a.id) AS chunks"
            " FROM kb_articles a WHERE a.id = ?",
            (article_id,),
        )
        if row is None:
            return None
        chunks = await self.db.fetchall(
            f"SELECT {_HIT_COLUMNS} FROM kb_chunks c JOIN kb_articles a ON a.id = c.article_id"
            " WHERE a.id = ? ORDER BY c.position",
            (article_id,),
        )
        return _article(row), [_hit(c, 0.0) for c in chunks]

    async def stats(self) -> dict[str, int]:
        row = await self.db.fetchone(
            "SELECT (SELECT COUNT(*) FROM kb_articles) AS articles,"
            " (SELECT COUNT(*) FROM kb_chunks) AS chunks,"
            " (SELECT COALESCE(SUM(LENGTH(text)), 0) FROM kb_chunks) AS characters,"
            " (SELECT COUNT(*) FROM kb_embeddings) AS embeddings"
        )
        assert row is not None
        return {k: int(row[k]) for k in ("articles", "chunks", "characters", "embeddings")}

    async def count_articles(self) -> int:
        return (await self.stats())["articles"]

    async def search(self, terms: Sequence[str], *, limit: int) -> list[KnowledgeHit]:
        """BM25 over the full-text index for any of the words; best first, higher is better.
        Both backends score as FTS5's ``bm25()`` does, with the same column weights."""
        if not terms:
            return []
        if self.db.dialect == "postgresql":
            return await self._search_pg(terms, limit)
        # Rank inside FTS5 first and join only the winners: joining every match before the
        # sort cost a third of the time at 100k chunks (bench/retrieval.py latency).
        rows = await self.db.fetchall(
            f"SELECT {_HIT_COLUMNS}, r.score AS rank FROM ("
            "   SELECT rowid AS id, bm25(kb_fts, ?, ?, ?) AS score FROM kb_fts"
            "   WHERE kb_fts MATCH ? ORDER BY score LIMIT ?) r"
            " JOIN kb_chunks c ON c.id = r.id JOIN kb_articles a ON a.id = c.article_id"
            " ORDER BY r.score",
            (*_BM25_WEIGHTS, fts5_match(terms), limit),
        )
        # FTS5's bm25() is lower-is-better and negative; flip it so higher is better.
        return [_hit(r, -float(r["rank"])) for r in rows]

    async def _search_pg(self, terms: Sequence[str], limit: int) -> list[KnowledgeHit]:
        """FTS5's bm25() in SQL over the weighted tsvectors: candidates from the GIN index (any
        of the question's lexemes), each lexeme's term frequency weighted by where it occurs
        (title A, heading B, text C), document length in words."""
        title, heading, text = _BM25_WEIGHTS
        rows = await self.db.fetchall(
            # One row per word's lexeme: two words with one stem count twice, as two FTS5
            # phrases do (and the in-memory index).
            "WITH q AS (SELECT u.lexeme FROM unnest(?::text[]) AS t(term)"
            f"   CROSS JOIN LATERAL unnest(to_tsvector('{TS_CONFIG}', t.term)) u),"
            " corpus AS (SELECT COUNT(*)::float8 AS n, COALESCE(AVG(tokens), 1)::float8 AS avgdl"
            "   FROM kb_chunks),"
            " idf AS (SELECT q.lexeme,"
            "   GREATEST(ln((corpus.n - d.df + 0.5) / (d.df + 0.5)), 1e-6) AS idf"
            "   FROM q CROSS JOIN corpus CROSS JOIN LATERAL (SELECT COUNT(*)::float8 AS df"
            f"     FROM kb_chunks WHERE tsv @@ {_LEXEME.format('q.lexeme')}::tsquery) d),"
            # Typed parameters: an untyped one beside an integer would be taken as an integer
            # (b = 0.75 became 0, and long chunks went unpenalised).
            " scored AS (SELECT c.id, SUM(i.idf * f.tf * ?::float8 / (f.tf + ?::float8"
            "     * (1 - ?::float8 + ?::float8 * c.tokens / corpus.avgdl))) AS score"
            "   FROM kb_chunks c CROSS JOIN corpus CROSS JOIN LATERAL unnest(c.tsv) u"
            "   JOIN idf i ON i.lexeme = u.lexeme"
            f"   CROSS JOIN LATERAL {PG_TERM_FREQUENCY} f"
            f"   WHERE c.tsv @@ (SELECT string_agg({_LEXEME.format('lexeme')}, ' | ')::tsquery"
            "     FROM q)"
            "   GROUP BY c.id ORDER BY score DESC, c.id LIMIT ?)"
            f" SELECT {_HIT_COLUMNS}, r.score AS rank FROM scored r"
            " JOIN kb_chunks c ON c.id = r.id JOIN kb_articles a ON a.id = c.article_id"
            " ORDER BY r.score DESC, c.id",
            (list(terms), _K1 + 1, _K1, _B, _B, title, heading, text, limit),
        )
        return [_hit(r, float(r["rank"])) for r in rows]

    async def hits(self, chunk_ids: Sequence[int]) -> dict[int, KnowledgeHit]:
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = await self.db.fetchall(
            f"SELECT {_HIT_COLUMNS} FROM kb_chunks c JOIN kb_articles a ON a.id = c.article_id"
            f" WHERE c.id IN ({marks})",
            list(chunk_ids),
            inline=True,  # primary-key look-ups of a page of results
        )
        return {r["chunk_id"]: _hit(r, 0.0) for r in rows}

    @property
    def holds_postings(self) -> bool:
        """Whether ``postings()`` can read the index (an in-memory database cannot be shared)."""
        return self.db.dialect == "postgresql" or self.db.path != ":memory:"

    async def postings(self) -> Postings:
        """The whole full-text index with bm25()'s column weights applied: FTS5's, read on a
        thread, or PostgreSQL's tsvectors."""
        if self.db.dialect == "postgresql":
            return await read_postings_pg(self.db, _BM25_WEIGHTS)
        return await asyncio.to_thread(read_postings, self.db.path, _BM25_WEIGHTS)

    async def query_tokens(self, words: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """The index's tokens for each word, as the index makes them (stemmed, folded; none for
        a word the index leaves out, such as a PostgreSQL stopword)."""
        if self.db.dialect == "postgresql":
            if self._pg_tokens is None:
                self._pg_tokens = PgQueryTokenizer(self.db)
            return await self._pg_tokens.tokens(words)
        if self._sqlite_tokens is None:
            self._sqlite_tokens = QueryTokenizer()
        return self._sqlite_tokens.tokens(words)

    async def chunk_count(self) -> int:
        row = await self.db.fetchone("SELECT COUNT(*) AS n FROM kb_chunks")
        return int(row["n"]) if row else 0

    async def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many chunks contain each term (as a phrase, stemmed as the index is), in one
        round trip. A term the index cannot hold (a PostgreSQL stopword) is left out."""
        if not terms:
            return {}
        if self.db.dialect == "postgresql":
            rows = await self.db.fetchall(
                "SELECT t.term, (SELECT COUNT(*) FROM kb_chunks c WHERE c.tsv @@ t.query) AS n"
                f" FROM (SELECT term, phraseto_tsquery('{TS_CONFIG}', term) AS query"
                "   FROM unnest(?::text[]) AS term) t WHERE numnode(t.query) > 0",
                (list(terms),),
            )
            return {r["term"]: int(r["n"]) for r in rows}
        sql = " UNION ALL ".join(
            "SELECT ? AS i, COUNT(*) AS n FROM kb_fts WHERE kb_fts MATCH ?" for _ in terms
        )
        params: list[object] = []
        for i, term in enumerate(terms):
            params += [i, f'"{term}"']
        rows = await self.db.fetchall(sql, params)
        return {terms[int(r["i"])]: int(r["n"]) for r in rows}

    async def terms_in_chunk(self, terms: Sequence[str], chunk_id: int) -> set[str]:
        """Which of the terms the chunk contains (title, heading or text), in one round trip."""
        if not terms:
            return set()
        if self.db.dialect == "postgresql":
            rows = await self.db.fetchall(
                "SELECT t.term FROM unnest(?::text[]) AS t(term) JOIN kb_chunks c ON c.id = ?"
                f" WHERE numnode(phraseto_tsquery('{TS_CONFIG}', t.term)) > 0"
                f"   AND c.tsv @@ phraseto_tsquery('{TS_CONFIG}', t.term)",
                (list(terms), chunk_id),
            )
            return {r["term"] for r in rows}
        sql = " UNION ALL ".join(
            "SELECT ? AS i FROM kb_fts WHERE kb_fts MATCH ? AND rowid = ?" for _ in terms
        )
        params: list[object] = []
        for i, term in enumerate(terms):
            params += [i, f'"{term}"', chunk_id]
        rows = await self.db.fetchall(sql, params)
        return {terms[int(r["i"])] for r in rows}

    # -- dense vectors ------------------------------------------------------------------

    async def chunks_without_vectors(self, model: str, *, limit: int) -> list[tuple[int, str]]:
        rows = await self.db.fetchall(
            "SELECT c.id, a.title, c.heading, c.text FROM kb_chunks c"
            " JOIN kb_articles a ON a.id = c.article_id"
            " WHERE NOT EXISTS (SELECT 1 FROM kb_embeddings e WHERE e.chunk_id = c.id"
            "   AND e.model = ?) ORDER BY c.id LIMIT ?",
            (model, limit),
        )
        return [(r["id"], f"{r['title']} › {r['heading']}\n{r['text']}") for r in rows]

    async def store_vectors(self, model: str, vectors: Sequence[tuple[int, bytes]]) -> None:
        async with self.db.transaction() as tx:
            await tx.executemany(
                "INSERT INTO kb_embeddings(chunk_id, model, vector) VALUES (?, ?, ?)"
                " ON CONFLICT(chunk_id, model) DO UPDATE SET vector = excluded.vector",
                [(chunk_id, model, blob) for chunk_id, blob in vectors],
            )
            await self._bump(tx)

    async def vectors(self, model: str) -> list[tuple[int, bytes]]:
        rows = await self.db.fetchall(
            "SELECT chunk_id, vector FROM kb_embeddings WHERE model = ? ORDER BY chunk_id",
            (model,),
        )
        return [(int(r["chunk_id"]), bytes(r["vector"])) for r in rows]
