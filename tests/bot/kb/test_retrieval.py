"""Retrieval over a real SQLite index: BM25, dense and hybrid lookups and the "fits" verdict."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.kb.base import KnowledgeBase
from bot.kb.embeddings import EndpointEmbedder
from bot.kb.provenance import verified_source
from bot.kb.retrieval import (
    DEFAULT_FIT_THRESHOLDS,
    VERIFIED_BOOST,
    Retriever,
    boost_verified,
    query_terms,
)
from bot.settings.environment import Settings
from persistence.connect import database_from_url
from persistence.knowledge import KnowledgeRepository, fts5_match
from persistence.records import KnowledgeHit
from tests.fakes.openai_api import FakeOpenAI
from tests.utils.databases import database_url
from tests.utils.harness import KB_DIR, LLM_KEY


@pytest.fixture
async def repo(tmp_path: Path) -> AsyncIterator[KnowledgeRepository]:
    db = database_from_url(database_url(tmp_path))
    await db.open()
    repository = KnowledgeRepository(db)
    await KnowledgeBase(repository).import_paths([KB_DIR])
    yield repository
    await db.close()


def test_query_terms_drop_stopwords_and_keep_order() -> None:
    assert query_terms("How do I export a report as CSV?") == ["export", "report", "csv"]
    assert query_terms("how do I") == ["how", "do", "i"]  # nothing else left: keep them
    assert fts5_match(query_terms('"NEAR(x* -y: z')) == '"near" OR "x" OR "y" OR "z"'


async def test_a_question_the_articles_cover_fits(repo: KnowledgeRepository) -> None:
    lookup = await Retriever(repo).lookup("How do I export a report as CSV?")
    assert lookup.mode == "bm25"
    assert lookup.hits[0].title == "Exporting reports"
    assert lookup.confidence == 1.0 and lookup.fits


@pytest.mark.parametrize(
    "question",
    ["What's the weather on Mars tomorrow?", "Do you sell garden furniture or export tariffs?"],
)
async def test_a_question_nothing_covers_does_not_fit(
    repo: KnowledgeRepository, question: str
) -> None:
    lookup = await Retriever(repo).lookup(question)
    assert not lookup.fits
    assert lookup.confidence < DEFAULT_FIT_THRESHOLDS["bm25"]


async def test_threshold_override_changes_the_verdict(repo: KnowledgeRepository) -> None:
    question = "export tariffs for garden furniture"
    assert not (await Retriever(repo).lookup(question)).fits
    assert (await Retriever(repo, fit_threshold=0.05).lookup(question)).fits


async def test_coverage_follows_changes_to_the_knowledge_base(
    repo: KnowledgeRepository, tmp_path: Path
) -> None:
    retriever = Retriever(repo)
    question = "How do I rotate my API keys?"
    assert not (await retriever.lookup(question)).fits
    article = tmp_path / "api-keys.md"
    article.write_text(
        "# API keys\n\n## Rotate API keys\n\nOpen Settings › API and click Rotate.\n"
    )
    await KnowledgeBase(repo, retriever).import_paths([article])
    lookup = await retriever.lookup(question)
    assert lookup.fits and lookup.hits[0].title == "API keys"


async def test_dense_and_hybrid_use_vectors_from_the_embeddings_endpoint(
    repo: KnowledgeRepository,
) -> None:
    async with FakeOpenAI(api_key=LLM_KEY) as llm:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            openai_api_key=SecretStr(LLM_KEY),
            openai_base_url=llm.url,
            openai_api_version=None,
            llm_max_retries=0,
        )
        retriever = Retriever(repo, embedder=EndpointEmbedder(settings, "text-embedding-test"))
        assert retriever.default_mode == "hybrid"
        stored = await retriever.embed_missing()
        stats = await repo.stats()
        assert stored == stats["chunks"] == stats["embeddings"]
        assert await retriever.embed_missing() == 0  # nothing left to embed
        dense = await retriever.lookup("reset password", mode="dense")
        assert len(dense.hits) == 5 and all(-1.0 <= h.score <= 1.0 for h in dense.hits)
        hybrid = await retriever.lookup("How do I export a report as CSV?")
        assert hybrid.mode == "hybrid" and hybrid.hits[0].title == "Exporting reports"
        assert 0.0 < hybrid.confidence <= 1.0
        assert llm.embedding_requests[-1]["model"] == "text-embedding-test"


async def test_dense_mode_without_an_embedder_is_refused(repo: KnowledgeRepository) -> None:
    with pytest.raises(ValueError, match="needs an embedding model"):
        await Retriever(repo).lookup("anything", mode="dense")


async def test_prune_removes_articles_whose_file_is_gone(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# Alpha\n\nalpha text\n")
    (folder / "b.md").write_text("# Beta\n\nbeta text\n")
    db = database_from_url(database_url(tmp_path))
    await db.open()
    try:
        kb = KnowledgeBase(KnowledgeRepository(db))
        assert (await kb.import_paths([folder])).added == 2
        (folder / "b.md").unlink()
        kept = await kb.import_paths([folder])
        assert kept.removed == 0 and len(await kb.articles()) == 2  # no --prune: kept
        pruned = await kb.import_paths([folder], prune=True)
        assert pruned.removed == 1 and pruned.unchanged == 1
        assert [a.title for a in await kb.articles()] == ["Alpha"]
        assert not (await kb.lookup("beta")).hits
    finally:
        await db.close()


def _hit(chunk_id: int, score: float, origin: str) -> KnowledgeHit:
    return KnowledgeHit(
        chunk_id=chunk_id,
        article_id=chunk_id,
        title=f"A{chunk_id}",
        source=origin,
        heading="",
        text="",
        score=score,
        origin=origin,
    )


def test_verified_answers_rank_with_a_small_boost_and_nothing_else_moves() -> None:
    plain = [_hit(1, 10.0, "/kb/a.md"), _hit(2, 9.5, "slack:UADMIN:0123456789abcdef")]
    # Without a verified answer: the same list, untouched.
    assert boost_verified(plain) is plain
    hits = [*plain, _hit(3, 9.2, verified_source(1)), _hit(4, 8.0, verified_source(2))]
    ranked = boost_verified(hits)
    assert [h.chunk_id for h in ranked] == [3, 1, 2, 4]  # 9.2 × 1.1 = 10.12; 8.0 × 1.1 = 8.8
    assert ranked[0].score == pytest.approx(9.2 * VERIFIED_BOOST)
    assert [h.score for h in ranked[1:3]] == [10.0, 9.5]  # the others' scores as they were
    far = [_hit(1, 10.0, "/kb/a.md"), _hit(2, 5.0, verified_source(3))]
    assert [h.chunk_id for h in boost_verified(far)] == [1, 2]  # small: no jump over a far better


async def test_a_verified_answer_outranks_its_equal(repo: KnowledgeRepository) -> None:
    kb = KnowledgeBase(repo)
    text = "To move a workspace to another region, open Admin > Data residency and press Move."
    written = await kb.add_article(
        title="Workspace residency", body=text, url=None, author="UADMIN"
    )
    verified = await kb.add_article(
        title="Workspace residency",
        body=text,
        url=None,
        author="UADMIN",
        source=verified_source(1),
    )
    lookup = await Retriever(repo).lookup("move workspace to another region data residency")
    assert [h.article_id for h in lookup.hits[:2]] == [verified, written]
    assert lookup.hits[0].score == pytest.approx(lookup.hits[1].score * VERIFIED_BOOST)


async def test_a_verified_answer_just_below_the_cut_rises_into_it(
    repo: KnowledgeRepository,
) -> None:
    """Three equal written articles fill ``limit=3`` (ties go to the older chunk); the verified
    copy, fourth before its boost, is first after it, ranked by the database and by the
    in-memory index alike."""
    kb = KnowledgeBase(repo)
    text = "To move a workspace to another region, open Admin > Data residency and press Move."
    for n in range(3):
        await kb.add_article(
            title="Workspace residency", body=text, url=None, author="UADMIN", source=f"w{n}"
        )
    verified = await kb.add_article(
        title="Workspace residency",
        body=text,
        url=None,
        author="UADMIN",
        source=verified_source(7),
    )
    retriever = Retriever(repo)
    question = "move workspace to another region data residency"
    by_database = await retriever.lookup(question, limit=3)
    in_memory = await retriever.ready()
    by_index = await retriever.lookup(question, limit=3)
    for lookup in (by_database, by_index):
        assert len(lookup.hits) == 3
        assert lookup.hits[0].article_id == verified
    assert in_memory or not repo.holds_postings
    await retriever.close()
