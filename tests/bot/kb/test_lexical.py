"""The in-memory BM25 index scores exactly as the database's own ranking (FTS5's bm25(), or the
same formula in SQL over PostgreSQL's tsvectors) and takes over lookups safely."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.kb.base import KnowledgeBase
from bot.kb.lexical import LexicalIndex
from bot.kb.retrieval import Retriever, query_terms
from persistence.connect import database_from_url
from persistence.knowledge import KnowledgeRepository
from persistence.lexicon import QueryTokenizer
from persistence.records import ArticleInput, KnowledgeChunkInput
from persistence.sqlite import SqliteDatabase
from tests.utils.databases import database_url
from tests.utils.harness import KB_DIR

WORDS = [
    "export",
    "report",
    "csv",
    "invoice",
    "billing",
    "refund",
    "password",
    "reset",
    "login",
    "account",
    "token",
    "rotate",
    "key",
    "exporting",
    "exported",
    "reports",
    "invoices",
    "café",
    "naïve",
    "résumé",
    "schedule",
    "weekly",
    "monthly",
    "download",
    "upload",
    "team",
    "member",
    "admin",
    "role",
    "permission",
    "error",
    "timeout",
    "sync",
    "calendar",
    "slack",
    "channel",
]


def corpus(seed: int, articles: int) -> list[ArticleInput]:
    """Articles of random lengths and repeated words over a small vocabulary, so that queries
    match many chunks with many different frequencies and lengths (what bm25 weighs)."""
    rng = random.Random(seed)

    def words(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n))

    return [
        ArticleInput(
            source=f"gen/{i}.md",
            title=words(rng.randint(1, 4)).title(),
            content_hash=str(i),
            chunks=[
                KnowledgeChunkInput(
                    heading=words(rng.randint(0, 3)), text=words(rng.randint(1, 40))
                )
                for _ in range(rng.randint(1, 4))
            ],
        )
        for i in range(articles)
    ]


@pytest.fixture
async def repo(tmp_path: Path) -> AsyncIterator[KnowledgeRepository]:
    db = database_from_url(database_url(tmp_path))
    await db.open()
    repository = KnowledgeRepository(db)
    await repository.upsert_many(corpus(7, 150))
    await KnowledgeBase(repository).import_paths([KB_DIR])
    yield repository
    await db.close()


def queries(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6))) for _ in range(n)]


async def test_scores_and_ranking_equal_the_databases(repo: KnowledgeRepository) -> None:
    index = LexicalIndex(await repo.postings())
    compared = 0
    for query in queries(11, 120):
        terms = query_terms(query)
        tokens = await repo.query_tokens(terms)
        ours = index.search([tokens[t][0] for t in terms], 10_000)
        theirs = await repo.search(query_terms(query), limit=10_000)
        assert len(ours) == len(theirs) > 0, query
        # Equal scores may come in either order from FTS5; compare in one canonical order.
        want = sorted((-round(h.score, 9), h.chunk_id) for h in theirs)
        got = sorted((-round(score, 9), chunk_id) for chunk_id, score in ours)
        assert got == want, query
        assert ours == sorted(ours, key=lambda pair: (-pair[1], pair[0]))
        compared += len(ours)
    assert compared > 5_000  # the queries really did match across the corpus


async def test_a_short_result_is_the_head_of_the_long_one(repo: KnowledgeRepository) -> None:
    index = LexicalIndex(await repo.postings())
    phrases = ["export", "report", "csv"]
    full = index.search(phrases, 10_000)
    for limit in (1, 3, 7, 50):
        assert index.search(phrases, limit) == full[:limit]
    assert index.search(["nosuchterm"], 5) == [] and index.search(phrases, 0) == []


@pytest.mark.sqlite_only
async def test_document_frequencies_and_membership_match_fts5(
    repo: KnowledgeRepository,
) -> None:
    index = LexicalIndex(await repo.postings())
    frequencies = await repo.document_frequencies(["export", "cafe", "nosuchterm"])
    assert index.document_frequency("export") == frequencies["export"] > 0
    assert index.document_frequency("cafe") == frequencies["cafe"] > 0
    assert index.document_frequency("nosuchterm") == frequencies["nosuchterm"] == 0
    hit = (await repo.search(["invoice"], limit=1))[0]
    present = await repo.terms_in_chunk(["invoic", "export", "nosuchterm"], hit.chunk_id)
    for term in ("invoic", "export", "nosuchterm"):
        assert index.contains(term, hit.chunk_id) == (term in present)


@pytest.mark.postgresql_only
async def test_questions_are_tokenized_as_postgres_indexes(repo: KnowledgeRepository) -> None:
    tokens = await repo.query_tokens(["Exporting", "the", "e-mail", "reports"])
    assert tokens["Exporting"] == ("export",) and tokens["reports"] == ("report",)
    assert tokens["the"] == ()  # a stopword: not in any tsvector, so not searchable
    assert len(tokens["e-mail"]) > 1  # a compound: left to the database's phrase search
    question = "Which is the weekly report export?"
    retriever = Retriever(repo)
    assert await retriever.ready()
    fast = await retriever.lookup(question)
    slow = await Retriever(repo).lookup(question)  # before its index loads: SQL
    assert [h.chunk_id for h in fast.hits] == [h.chunk_id for h in slow.hits]
    assert fast.confidence == slow.confidence


@pytest.mark.sqlite_only
def test_questions_are_tokenized_as_the_index_is() -> None:
    tokenizer = QueryTokenizer()
    tokens = tokenizer.tokens(["Exporting", "café", "résumés", "a_b", "_"])
    assert tokens == {
        "Exporting": ("export",),
        "café": ("cafe",),
        "résumés": ("resum",),
        "a_b": ("a", "b"),
        "_": (),
    }
    assert tokenizer.tokens(["exporting"]) == {"exporting": ("export",)}


async def test_the_retriever_answers_the_same_before_and_after_loading(
    repo: KnowledgeRepository,
) -> None:
    fts = [await Retriever(repo).lookup(q) for q in queries(5, 40)]
    retriever = Retriever(repo)
    assert await retriever.ready()
    for before in fts:
        after = await retriever.lookup(before.query)
        assert after.confidence == before.confidence, before.query
        assert sorted((-round(h.score, 9), h.chunk_id) for h in after.hits) == sorted(
            (-round(h.score, 9), h.chunk_id) for h in before.hits
        )


async def test_a_knowledge_base_change_is_searched_at_once_then_indexed(
    repo: KnowledgeRepository,
) -> None:
    retriever = Retriever(repo)
    assert await retriever.ready()
    question = "How do I rotate my webhook signing secret?"
    assert not (await retriever.lookup(question)).fits
    await repo.upsert(
        ArticleInput(
            source="webhooks.md",
            title="Webhooks",
            content_hash="w",
            chunks=[KnowledgeChunkInput("Rotate the webhook signing secret", "Click Rotate.")],
        )
    )
    # The loaded index is a version behind: FTS5 answers, so the new article is found now.
    lookup = await retriever.lookup(question)
    assert lookup.fits and lookup.hits[0].title == "Webhooks"
    assert await retriever.ready()
    assert (await retriever.lookup(question)).hits[0].title == "Webhooks"


async def test_phrases_of_several_tokens_are_left_to_fts5(repo: KnowledgeRepository) -> None:
    retriever = Retriever(repo)
    assert await retriever.ready()
    lookup = await retriever.lookup("export_report csv")
    expected = await repo.search(query_terms("export_report csv"), limit=5)
    assert [h.chunk_id for h in lookup.hits] == [h.chunk_id for h in expected]


@pytest.mark.sqlite_only
async def test_an_index_that_cannot_load_leaves_fts5_answering(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "kb.db"
    db = SqliteDatabase(str(path))
    await db.open()
    try:
        repo = KnowledgeRepository(db)
        await KnowledgeBase(repo).import_paths([KB_DIR])
        # The open connections keep the data; the loader's fresh connection finds no file.
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        retriever = Retriever(repo)
        with caplog.at_level(logging.WARNING, logger="bot.kb.retrieval"):
            assert not await retriever.ready()
        assert "could not load the in-memory search index" in caplog.text
        lookup = await retriever.lookup("How do I export a report as CSV?")
        assert lookup.fits and lookup.hits[0].title == "Exporting reports"
    finally:
        await db.close()


@pytest.mark.sqlite_only
async def test_an_in_memory_database_searches_with_fts5() -> None:
    db = SqliteDatabase(":memory:")
    await db.open()
    try:
        repo = KnowledgeRepository(db)
        await KnowledgeBase(repo).import_paths([KB_DIR])
        retriever = Retriever(repo)
        assert not await retriever.ready()
        assert (await retriever.lookup("export a report as CSV")).fits
    finally:
        await db.close()
