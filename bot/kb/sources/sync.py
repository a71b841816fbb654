"""Syncing a knowledge source into the knowledge base: incremental, resumable, one replica at a
time.

A sync holds the source's lease (``SourceRepository.claim_sync``), renewed as it goes, so two
replicas never sync one source at once; a lease whose holder died runs out and the sync is
taken over. Each page is stored as it comes: an unchanged page (same validators, or the same
text) is skipped, a new or changed one is chunked again and replaces its article whole, so a
sync killed halfway and run again duplicates nothing. A listing that ran to its end retires the
articles of the pages the source no longer has; a page that failed keeps its last version.
A ``files`` source is a folder read by ``KnowledgeBase.import_paths`` with pruning.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.jobs import kinds as jobkinds
from bot.jobs.kinds import JobKind
from bot.jobs.worker import owner_is_gone
from bot.kb.base import KnowledgeBase
from bot.kb.formats.markdown import chunk_markdown
from bot.kb.sources.base import Connector, Failed, Known, Page, Unchanged, describe_result
from persistence.db import now
from persistence.jobs import JobRepository
from persistence.records import ArticleInput, Job, KnowledgeChunkInput
from persistence.sources import KbSource, SourceRepository, StoredPage

log = logging.getLogger(__name__)

LEASE_SECONDS = 120.0
# The lease is renewed after this many pages (and at least every LEASE_SECONDS / 4).
RENEW_EVERY_PAGES = 20
# How many failed pages a sync's result lists by name (the count is always exact).
FAILED_SHOWN = 20

Progress = Callable[[int, int | None], None]
ConnectorFor = Callable[[KbSource, Progress | None], Connector]


@dataclass
class SyncResult:
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    complete: bool = True
    error: str | None = None
    skipped: str | None = None  # why the sync did not run at all (another one holds the lease)

    def fail(self, page: str, reason: str) -> None:
        self.failed += 1
        if len(self.failures) < FAILED_SHOWN:
            self.failures.append({"page": page, "reason": reason})

    def describe(self) -> str:
        return describe_result(asdict(self))


def cli_owner() -> str:
    """Who holds a source's lease for a sync run from the command line (``HOST:PID:cli``, the
    form the job worker's owners take, so a dead one is recognised the same way)."""
    return f"{socket.gethostname()}:{os.getpid()}:cli"


def article_source(source: KbSource, key: str) -> str:
    """The ``kb_articles.source`` of a synced page: unique across sources, and read as
    imported knowledge (``bot/kb/provenance.py``), which customers may be answered from."""
    return f"kb-source:{source.id}:{key}"


def page_hash(page: Page) -> str:
    fields = (page.title, page.url or "", page.tags, page.text)
    return hashlib.sha256("\n".join(fields).encode()).hexdigest()


def page_article(source: KbSource, page: Page, content_hash: str) -> ArticleInput:
    _, chunks = chunk_markdown(page.text, fallback_title=page.title)
    return ArticleInput(
        source=article_source(source, page.key),
        title=page.title,
        content_hash=content_hash,
        chunks=chunks or [KnowledgeChunkInput(heading=page.title, text=page.text.strip())],
        url=page.url,
        tags=page.tags,
    )


class SourceSync:
    def __init__(
        self, sources: SourceRepository, knowledge: KnowledgeBase, connector_for: ConnectorFor
    ) -> None:
        self.sources = sources
        self.knowledge = knowledge
        self.connector_for = connector_for

    def jobs(self) -> list[JobKind]:
        async def run(job: Job) -> dict[str, Any]:
            source = await self.sources.get(int(job.payload["source_id"]))
            if source is None:
                return {"skipped": "the source was removed"}
            result = await self.sync(source, owner=f"job:{job.id}")
            return asdict(result)

        return [JobKind(jobkinds.KB_SYNC, run)]

    async def enqueue_due(self, jobs: JobRepository) -> int:
        """Queue a sync of every source whose schedule says it is due. Replicas doing this at
        once queue one job per source: the key names the slot (when the last sync started)."""
        queued = 0
        for source in await self.sources.due(now()):
            slot = int(source.last_started_at or source.created_at)
            if await self.request(jobs, source, occasion=f"due:{slot}"):
                queued += 1
        return queued

    async def request(self, jobs: JobRepository, source: KbSource, *, occasion: str) -> bool:
        """Queue a sync of ``source``; False when that occasion's sync is already queued."""
        async with self.sources.db.transaction() as tx:
            return await jobs.enqueue(
                tx,
                kind=jobkinds.KB_SYNC,
                dedupe_key=jobkinds.kb_sync_key(source.id, occasion),
                payload={"source_id": source.id},
            )

    async def sync(
        self, source: KbSource, *, owner: str, progress: Progress | None = None
    ) -> SyncResult:
        if not await self._claim(source, owner):
            return SyncResult(skipped="another sync of this source is running")
        result = SyncResult()
        try:
            if source.kind == "files":
                await self._sync_files(source, result, progress)
            else:
                await self._sync_pages(source, owner, result, progress)
        except Exception as exc:  # the result says it; the lease is given back either way
            log.exception("syncing knowledge source %s failed", source.name)
            result.error = f"{type(exc).__name__}: {exc}"[:300]
            result.complete = False
        finally:
            await self.sources.finish_sync(source.id, owner=owner, result=asdict(result))
        log.info("synced knowledge source %s: %s", source.name, result.describe())
        return result

    async def _claim(self, source: KbSource, owner: str) -> bool:
        claim = self.sources.claim_sync
        if await claim(source.id, owner=owner, lease_seconds=LEASE_SECONDS):
            return True
        # A command-line sync on this machine that was killed need not be waited out.
        holder = (await self.sources.get(source.id) or source).sync_owner
        if holder is None or not owner_is_gone(holder, owner):
            return False
        log.info("taking over source %s from %s, which is no longer running", source.name, holder)
        return await claim(
            source.id, owner=owner, lease_seconds=LEASE_SECONDS, take_over_from=holder
        )

    async def _sync_files(
        self, source: KbSource, result: SyncResult, progress: Progress | None
    ) -> None:
        paths = [Path(p) for p in source.settings.get("paths", [])]
        summary = await self.knowledge.import_paths(paths, prune=True, progress=progress)
        result.added, result.changed = summary.added, summary.updated
        result.unchanged, result.removed = summary.unchanged, summary.removed
        for path, reason in summary.skipped + summary.problems:
            result.fail(path, reason)

    async def _sync_pages(
        self, source: KbSource, owner: str, result: SyncResult, progress: Progress | None
    ) -> None:
        stored = await self.sources.pages(source.id)
        known = {
            key: Known(etag=p.etag, last_modified=p.last_modified, content_hash=p.content_hash)
            for key, p in stored.items()
        }
        connector = self.connector_for(source, progress)
        seen: set[str] = set()
        done = 0
        async for found in connector.pages(known):
            seen.add(found.key)
            if isinstance(found, Unchanged):
                result.unchanged += 1
            elif isinstance(found, Failed):
                result.fail(found.key, found.reason)
            else:
                await self._store(source, found, stored.get(found.key), result)
            done += 1
            if done % RENEW_EVERY_PAGES == 0 and not await self.sources.renew_sync(
                source.id, owner=owner, lease_seconds=LEASE_SECONDS
            ):
                raise RuntimeError("another sync took this source over")
        result.complete = connector.complete
        if result.complete:
            gone = [key for key in stored if key not in seen]
            await self._retire(source, [stored[key] for key in gone], result)
        await self.knowledge.retriever.embed_missing()

    async def _store(
        self, source: KbSource, page: Page, before: StoredPage | None, result: SyncResult
    ) -> None:
        content_hash = page_hash(page)
        stored = StoredPage(
            key=page.key,
            article_source=article_source(source, page.key),
            etag=page.etag,
            last_modified=page.last_modified,
            content_hash=content_hash,
        )
        if before is not None and before.content_hash == content_hash:
            result.unchanged += 1  # new validators, same text: keep the article as it is
        else:
            await self.knowledge.repo.upsert_many([page_article(source, page, content_hash)])
            if before is None:
                result.added += 1
            else:
                result.changed += 1
        async with self.sources.db.transaction(durable=False) as tx:
            await self.sources.store_page(tx, source.id, stored)

    async def _retire(self, source: KbSource, gone: list[StoredPage], result: SyncResult) -> None:
        if not gone:
            return
        ids = await self.knowledge.repo.ids_for_sources([p.article_source for p in gone])
        result.removed = await self.knowledge.repo.remove(ids)
        async with self.sources.db.transaction() as tx:
            await self.sources.forget_pages(tx, source.id, [p.key for p in gone])
