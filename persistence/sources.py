"""Knowledge sources and the pages each one's last sync stored; the lease that lets one replica
sync a source at a time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from persistence.db import Database, Tx, now


class SourceExists(ValueError):
    """A source by that name is already there."""


@dataclass(frozen=True)
class KbSource:
    id: int
    name: str
    kind: str
    settings: dict[str, Any]
    every_seconds: float | None
    created_at: float
    sync_owner: str | None
    sync_until: float | None
    last_started_at: float | None
    last_finished_at: float | None
    last_result: dict[str, Any] | None


@dataclass(frozen=True)
class StoredPage:
    key: str
    article_source: str
    etag: str | None
    last_modified: str | None
    content_hash: str


def _source(row: Any) -> KbSource:
    return KbSource(
        id=int(row["id"]),
        name=row["name"],
        kind=row["kind"],
        settings=json.loads(row["settings"]),
        every_seconds=row["every_seconds"],
        created_at=row["created_at"],
        sync_owner=row["sync_owner"],
        sync_until=row["sync_until"],
        last_started_at=row["last_started_at"],
        last_finished_at=row["last_finished_at"],
        last_result=json.loads(row["last_result"]) if row["last_result"] else None,
    )


class SourceRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self, *, name: str, kind: str, settings: dict[str, Any], every_seconds: float | None
    ) -> KbSource:
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "INSERT INTO kb_sources(name, kind, settings, every_seconds, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT(name) DO NOTHING RETURNING *",
                (name, kind, json.dumps(settings, sort_keys=True), every_seconds, now()),
            )
        if row is None:
            raise SourceExists(name)
        return _source(row)

    async def all(self) -> list[KbSource]:
        rows = await self.db.fetchall("SELECT * FROM kb_sources ORDER BY name")
        return [_source(r) for r in rows]

    async def named(self, name: str) -> KbSource | None:
        row = await self.db.fetchone("SELECT * FROM kb_sources WHERE name = ?", (name,))
        return _source(row) if row is not None else None

    async def get(self, source_id: int) -> KbSource | None:
        row = await self.db.fetchone("SELECT * FROM kb_sources WHERE id = ?", (source_id,))
        return _source(row) if row is not None else None

    async def remove(self, source_id: int) -> list[str]:
        """Forget the source and its pages; the article sources its pages had, for the caller
        to remove from the knowledge base."""
        async with self.db.transaction() as tx:
            rows = await tx.fetchall(
                "SELECT article_source FROM kb_source_pages WHERE source_id = ?", (source_id,)
            )
            await tx.execute("DELETE FROM kb_source_pages WHERE source_id = ?", (source_id,))
            await tx.execute("DELETE FROM kb_sources WHERE id = ?", (source_id,))
        return [r["article_source"] for r in rows]

    async def due(self, at: float) -> list[KbSource]:
        """Sources with a schedule whose next sync is due and that nobody is syncing."""
        rows = await self.db.fetchall(
            "SELECT * FROM kb_sources WHERE every_seconds IS NOT NULL"
            " AND (last_started_at IS NULL OR last_started_at + every_seconds <= ?)"
            " AND (sync_until IS NULL OR sync_until < ?) ORDER BY id",
            (at, at),
        )
        return [_source(r) for r in rows]

    # -- the sync lease ---------------------------------------------------------------------

    async def claim_sync(
        self,
        source_id: int,
        *,
        owner: str,
        lease_seconds: float,
        take_over_from: str | None = None,
    ) -> bool:
        """Start a sync of the source unless another one holds it; a lease that ran out (its
        holder died) is taken over, and so is ``take_over_from``'s (a holder known dead). The
        same owner may claim again (a job retried)."""
        t = now()
        dead = take_over_from or owner
        async with self.db.transaction() as tx:
            cur = await tx.execute(
                "UPDATE kb_sources SET sync_owner = ?, sync_until = ?, last_started_at = ?"
                " WHERE id = ? AND (sync_until IS NULL OR sync_until < ? OR sync_owner IN (?, ?))",
                (owner, t + lease_seconds, t, source_id, t, owner, dead),
            )
        return cur.rowcount == 1

    async def renew_sync(self, source_id: int, *, owner: str, lease_seconds: float) -> bool:
        async with self.db.transaction(durable=False) as tx:
            cur = await tx.execute(
                "UPDATE kb_sources SET sync_until = ? WHERE id = ? AND sync_owner = ?",
                (now() + lease_seconds, source_id, owner),
            )
        return cur.rowcount == 1

    async def finish_sync(self, source_id: int, *, owner: str, result: dict[str, Any]) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE kb_sources SET sync_owner = NULL, sync_until = NULL,"
                " last_finished_at = ?, last_result = ? WHERE id = ? AND sync_owner = ?",
                (now(), json.dumps(result), source_id, owner),
            )

    # -- pages --------------------------------------------------------------------------------

    async def pages(self, source_id: int) -> dict[str, StoredPage]:
        rows = await self.db.fetchall(
            "SELECT key, article_source, etag, last_modified, content_hash"
            " FROM kb_source_pages WHERE source_id = ?",
            (source_id,),
        )
        return {
            r["key"]: StoredPage(
                key=r["key"],
                article_source=r["article_source"],
                etag=r["etag"],
                last_modified=r["last_modified"],
                content_hash=r["content_hash"],
            )
            for r in rows
        }

    async def store_page(self, tx: Tx, source_id: int, page: StoredPage) -> None:
        await tx.execute(
            "INSERT INTO kb_source_pages(source_id, key, article_source, etag, last_modified,"
            " content_hash, synced_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(source_id, key) DO UPDATE SET article_source = excluded.article_source,"
            " etag = excluded.etag, last_modified = excluded.last_modified,"
            " content_hash = excluded.content_hash, synced_at = excluded.synced_at",
            (
                source_id,
                page.key,
                page.article_source,
                page.etag,
                page.last_modified,
                page.content_hash,
                now(),
            ),
        )

    async def forget_pages(self, tx: Tx, source_id: int, keys: list[str]) -> None:
        for key in keys:
            await tx.execute(
                "DELETE FROM kb_source_pages WHERE source_id = ? AND key = ?", (source_id, key)
            )
