"""Knowledge articles, their heading chunks, and the FTS5 (BM25) index over them."""

from __future__ import annotations

from persistence.db import Database, Tx, now
from persistence.records import ArticleInput, KnowledgeHit

# BM25 column weights for (title, heading, text). A match in a section heading says most (it is
# specific to the chunk); the title is shared by every chunk of an article, so it weighs less.
_BM25_WEIGHTS = (1.5, 2.0, 1.0)


class KnowledgeRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def content_hash(self, source: str) -> str | None:
        row = await self.db.fetchone(
            "SELECT content_hash FROM kb_articles WHERE source = ?", (source,)
        )
        return None if row is None else str(row["content_hash"])

    async def upsert(self, article: ArticleInput) -> int:
        """Replace an article and its chunks atomically; returns its id."""
        t = now()
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT id FROM kb_articles WHERE source = ?", (article.source,)
            )
            if row is None:
                cur = await tx.execute(
                    "INSERT INTO kb_articles(source, title, content_hash, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (article.source, article.title, article.content_hash, t, t),
                )
                assert cur.lastrowid is not None
                article_id = int(cur.lastrowid)
            else:
                article_id = int(row["id"])
                await self._delete_chunks(tx, article_id)
                await tx.execute(
                    "UPDATE kb_articles SET title = ?, content_hash = ?, updated_at = ?"
                    " WHERE id = ?",
                    (article.title, article.content_hash, t, article_id),
                )
            for position, chunk in enumerate(article.chunks):
                cur = await tx.execute(
                    "INSERT INTO kb_chunks(article_id, position, heading, text)"
                    " VALUES (?, ?, ?, ?)",
                    (article_id, position, chunk.heading, chunk.text),
                )
                await tx.execute(
                    "INSERT INTO kb_fts(rowid, title, heading, text) VALUES (?, ?, ?, ?)",
                    (cur.lastrowid, article.title, chunk.heading, chunk.text),
                )
        return article_id

    async def _delete_chunks(self, tx: Tx, article_id: int) -> None:
        await tx.execute(
            "DELETE FROM kb_fts WHERE rowid IN (SELECT id FROM kb_chunks WHERE article_id = ?)",
            (article_id,),
        )
        await tx.execute("DELETE FROM kb_chunks WHERE article_id = ?", (article_id,))

    async def search(self, match_expression: str, *, limit: int) -> list[KnowledgeHit]:
        """Run an already-sanitised FTS5 MATCH expression; best first, score higher is better."""
        if not match_expression:
            return []
        rows = await self.db.fetchall(
            "SELECT c.id AS chunk_id, a.id AS article_id, a.title, a.source, c.heading, c.text,"
            " bm25(kb_fts, ?, ?, ?) AS rank"
            " FROM kb_fts JOIN kb_chunks c ON c.id = kb_fts.rowid"
            " JOIN kb_articles a ON a.id = c.article_id"
            " WHERE kb_fts MATCH ? ORDER BY rank LIMIT ?",
            (*_BM25_WEIGHTS, match_expression, limit),
        )
        return [
            KnowledgeHit(
                chunk_id=r["chunk_id"],
                article_id=r["article_id"],
                title=r["title"],
                source=r["source"],
                heading=r["heading"],
                text=r["text"],
                # FTS5's bm25() is lower-is-better and negative; flip it so higher is better.
                score=-float(r["rank"]),
            )
            for r in rows
        ]

    async def count_articles(self) -> int:
        row = await self.db.fetchone("SELECT COUNT(*) AS n FROM kb_articles")
        return int(row["n"]) if row else 0
