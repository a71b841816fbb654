"""Syncing a source into the knowledge base: incremental, retiring what is gone, one sync at a
time across processes, and resumable after a crash without duplicating anything."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest

from bot.jobs import kinds as jobkinds
from bot.kb.base import KnowledgeBase
from bot.kb.sources.base import Connector, Failed, Found, Known, Page, Unchanged
from bot.kb.sources.sync import Progress, SourceSync, article_source
from persistence.connect import database_from_url
from persistence.db import Database
from persistence.jobs import JobRepository
from persistence.knowledge import KnowledgeRepository
from persistence.sources import KbSource, SourceRepository
from tests.utils.databases import database_url


class Site:
    """An in-memory source: pages by key, each with a version (its etag)."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[str, str]] = {}  # key -> (title, markdown)
        self.versions: dict[str, int] = {}
        self.failing: set[str] = set()
        self.crash_after: int | None = None  # raise after yielding this many pages
        self.complete = True
        self.listings = 0

    def put(self, key: str, title: str, text: str) -> None:
        self.pages[key] = (title, text)
        self.versions[key] = self.versions.get(key, 0) + 1


class SiteConnector:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.complete = False

    async def pages(self, known: Mapping[str, Known]) -> AsyncIterator[Found]:
        site = self.site
        site.listings += 1
        for n, (key, (title, text)) in enumerate(sorted(site.pages.items())):
            if site.crash_after is not None and n >= site.crash_after:
                raise ConnectionError("the connection dropped")
            etag = f'"v{site.versions[key]}"'
            if key in site.failing:
                yield Failed(key, "the server answered 503")
            elif key in known and known[key].etag == etag:
                yield Unchanged(key)
            else:
                yield Page(
                    key=key, title=title, text=text, url=f"https://help.test/{key}", etag=etag
                )
        self.complete = site.complete


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = database_from_url(database_url(tmp_path))
    await database.open()
    yield database
    await database.close()


def syncer(db: Database, site: Site) -> SourceSync:
    def connector_for(source: KbSource, progress: Progress | None) -> Connector:
        return SiteConnector(site)

    return SourceSync(SourceRepository(db), KnowledgeBase(KnowledgeRepository(db)), connector_for)


async def website(db: Database, every: float | None = 3600.0) -> KbSource:
    return await SourceRepository(db).add(
        name="help", kind="website", settings={"url": "https://help.test/"}, every_seconds=every
    )


async def chunk_count(db: Database) -> int:
    row = await db.fetchone("SELECT COUNT(*) AS n FROM kb_chunks")
    assert row is not None
    return int(row["n"])


async def test_a_sync_adds_skips_changes_and_retires_pages(db: Database) -> None:
    site = Site()
    site.put("refunds", "Refunds", "# Refunds\n## Within 30 days\nFull refund to the card.")
    site.put("export", "Export", "# Export\nUse Reports › Export as CSV.")
    sync = syncer(db, site)
    source = await website(db)

    first = await sync.sync(source, owner="a")
    assert (first.added, first.changed, first.unchanged, first.removed) == (2, 0, 0, 0)
    kb = KnowledgeBase(KnowledgeRepository(db))
    hits = await kb.search("refund card")
    assert hits and hits[0].title == "Refunds"
    assert hits[0].source == "https://help.test/refunds"  # what answers cite
    articles = {a.title: a for a in await kb.articles()}
    assert articles["Refunds"].source == article_source(source, "refunds")
    assert articles["Refunds"].url == "https://help.test/refunds"

    site.put("refunds", "Refunds", "# Refunds\n## Within 60 days\nFull refund, now 60 days.")
    del site.pages["export"]
    second = await sync.sync(source, owner="a")
    assert (second.added, second.changed, second.unchanged, second.removed) == (0, 1, 0, 1)
    assert [a.title for a in await kb.articles()] == ["Refunds"]
    assert not await kb.search("CSV export reports")
    assert "60 days" in (await kb.search("refund days"))[0].text

    third = await sync.sync(source, owner="a")
    assert (third.added, third.changed, third.unchanged, third.removed) == (0, 0, 1, 0)
    stored = await SourceRepository(db).named("help")
    assert stored is not None and stored.last_result is not None
    assert stored.last_result["unchanged"] == 1 and stored.sync_owner is None


async def test_a_failed_page_keeps_its_article_and_an_incomplete_listing_removes_nothing(
    db: Database,
) -> None:
    site = Site()
    site.put("a", "Alpha", "# Alpha\nalpha text")
    site.put("b", "Beta", "# Beta\nbeta text")
    sync = syncer(db, site)
    source = await website(db)
    await sync.sync(source, owner="a")

    site.put("a", "Alpha", "# Alpha\nalpha changed")
    site.failing.add("a")
    del site.pages["b"]
    site.complete = False  # e.g. the page limit was reached
    result = await sync.sync(source, owner="a")
    assert result.failed == 1 and result.failures == [
        {"page": "a", "reason": "the server answered 503"}
    ]
    assert result.removed == 0 and not result.complete
    titles = sorted(a.title for a in await KnowledgeBase(KnowledgeRepository(db)).articles())
    assert titles == ["Alpha", "Beta"]
    assert "not removed" in result.describe() or "nothing was removed" in result.describe()


async def test_a_sync_killed_halfway_resumes_without_duplicating_chunks(db: Database) -> None:
    site = Site()
    for n in range(6):
        site.put(f"p{n}", f"Page {n}", f"# Page {n}\n## Part\nText of page {n}.")
    sync = syncer(db, site)
    source = await website(db)
    site.crash_after = 3
    crashed = await sync.sync(source, owner="job:1")
    assert crashed.error is not None and "dropped" in crashed.error and crashed.added == 3
    site.crash_after = None
    again = await sync.sync(source, owner="job:1")
    assert (again.added, again.unchanged) == (3, 3)
    assert await chunk_count(db) == 6  # one section a page, once each
    rerun = await sync.sync(source, owner="job:2")
    assert rerun.unchanged == 6 and await chunk_count(db) == 6


async def test_two_replicas_never_sync_one_source_at_once(db: Database, tmp_path: Path) -> None:
    other_db = database_from_url(database_url(tmp_path))  # a second process's connection
    await other_db.open()
    try:
        site = Site()
        site.put("a", "Alpha", "# Alpha\nalpha")
        source = await website(db)
        repo = SourceRepository(db)
        assert await repo.claim_sync(source.id, owner="replica-1", lease_seconds=60)
        other = syncer(other_db, site)
        skipped = await other.sync(source, owner="replica-2")
        assert skipped.skipped and site.listings == 0
        # The holder died: once its lease runs out, another replica takes the sync over.
        assert await repo.claim_sync(source.id, owner="replica-1", lease_seconds=0.01)
        await asyncio.sleep(0.05)
        taken = await other.sync(source, owner="replica-2")
        assert taken.skipped is None and taken.added == 1
    finally:
        await other_db.close()


async def test_due_sources_are_queued_once_whoever_asks(db: Database) -> None:
    site = Site()
    source = await website(db, every=3600.0)
    manual = await SourceRepository(db).add(
        name="manual", kind="website", settings={"url": "https://x.test/"}, every_seconds=None
    )
    jobs = JobRepository(db)
    first, second = syncer(db, site), syncer(db, site)
    assert await first.enqueue_due(jobs) == 1
    assert await second.enqueue_due(jobs) == 0  # the same slot: the same key
    rows = await db.fetchall("SELECT kind, dedupe_key, payload FROM jobs")
    assert [r["kind"] for r in rows] == [jobkinds.KB_SYNC]
    assert f'"source_id": {source.id}' in rows[0]["payload"]
    assert str(manual.id) not in rows[0]["dedupe_key"].split(":")[1]

    await first.sync(source, owner="a")  # it ran: not due again for an hour
    assert await first.enqueue_due(jobs) == 0
