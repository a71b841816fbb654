"""The knowledge base: importing help articles and FAQ tables, and looking answers up.

Parsing lives in ``formats`` (one file's bytes to articles), ranking in ``retrieval``; this
module owns the import policy (what is new, changed, unchanged or gone) and the public facade
the CLI, the workflow and the Slack commands use.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.kb.formats.files import SUPPORTED_SUFFIXES, UnsupportedSource, parse_source
from bot.kb.formats.markdown import chunk_markdown
from bot.kb.provenance import customer_citable
from bot.kb.retrieval import Lookup, Mode, Retriever
from persistence.knowledge import KnowledgeRepository
from persistence.records import (
    ArticleInput,
    KnowledgeArticle,
    KnowledgeChunkInput,
    KnowledgeHit,
)

UPSERT_BATCH = 500

Progress = Callable[[int, int], None]


@dataclass
class ImportSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.added + self.updated + self.unchanged > 0

    def describe(self) -> str:
        lines = [
            f"added {self.added}, updated {self.updated}, unchanged {self.unchanged},"
            f" removed {self.removed}, skipped {len(self.skipped)}"
        ]
        lines += [f"  skipped {path}: {reason}" for path, reason in self.skipped]
        lines += [f"  {path}: {problem}" for path, problem in self.problems]
        return "\n".join(lines)


def _citable(hit: KnowledgeHit) -> bool:
    return customer_citable(hit.origin or hit.source)


def _under(source: str, roots: list[str]) -> bool:
    for root in roots:
        if source == root or source.startswith(root.rstrip("/") + "/"):
            return True
        if source.startswith(root + "#"):
            return True
    return False


class KnowledgeBase:
    def __init__(self, repo: KnowledgeRepository, retriever: Retriever | None = None) -> None:
        self.repo = repo
        self.retriever = retriever or Retriever(repo)

    # -- import -------------------------------------------------------------------------

    async def import_paths(
        self, paths: list[Path], *, prune: bool = False, progress: Progress | None = None
    ) -> ImportSummary:
        summary = ImportSummary()
        files, roots = await asyncio.to_thread(self._files, paths, summary)
        known = await self.repo.content_hashes()
        seen: set[str] = set()
        pending: list[ArticleInput] = []
        for done, file in enumerate(files, start=1):
            for article in await self._parse(file, summary):
                seen.add(article.source)
                previous = known.get(article.source)
                if previous == article.content_hash:
                    summary.unchanged += 1
                    continue
                pending.append(article)
                if previous is None:
                    summary.added += 1
                else:
                    summary.updated += 1
                if len(pending) >= UPSERT_BATCH:
                    await self.repo.upsert_many(pending)
                    pending.clear()
            if progress is not None:
                progress(done, len(files))
        if pending:
            await self.repo.upsert_many(pending)
        if prune:
            gone = [s for s in known if s not in seen and _under(s, roots)]
            summary.removed = await self.repo.remove(await self.repo.ids_for_sources(gone))
        await self.retriever.embed_missing()
        return summary

    @staticmethod
    def _files(paths: list[Path], summary: ImportSummary) -> tuple[list[Path], list[str]]:
        files: list[Path] = []
        roots: list[str] = []
        for path in paths:
            if path.is_dir():
                roots.append(str(path.resolve()))
                files += sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file()
                    and p.suffix.lower() in SUPPORTED_SUFFIXES
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)
                )
            elif path.is_file():
                roots.append(str(path.resolve()))
                if path.suffix.lower() in SUPPORTED_SUFFIXES:
                    files.append(path)
                else:
                    kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
                    summary.skipped.append((str(path), f"not a supported file ({kinds})"))
            else:
                summary.skipped.append((str(path), "no such file or folder"))
        return files, roots

    async def _parse(self, file: Path, summary: ImportSummary) -> list[ArticleInput]:
        try:
            label = str(await asyncio.to_thread(file.resolve))
            raw = await asyncio.to_thread(file.read_bytes)
            # Off the event loop: a large file takes seconds to parse (docutils above all).
            parsed = await asyncio.to_thread(parse_source, label, raw, suffix=file.suffix.lower())
        except OSError as exc:
            summary.skipped.append((str(file), f"unreadable: {exc.strerror}"))
            return []
        except UnsupportedSource as exc:
            summary.skipped.append((str(file), str(exc)))
            return []
        summary.problems += [(str(file), problem) for problem in parsed.problems]
        return parsed.articles

    async def remove_under(self, paths: list[str]) -> int:
        """Remove the articles imported from these files and folders (a ``files`` source's)."""
        roots = list(paths)  # stored resolved (``support-bot kb source add``)
        known = await self.repo.content_hashes()
        gone = [source for source in known if _under(source, roots)]
        return await self.repo.remove(await self.repo.ids_for_sources(gone))

    async def add_article(
        self, *, title: str, body: str, url: str | None, author: str, source: str | None = None
    ) -> int:
        """An article written in Slack: ``/support kb add``, or "Save as article" on a card,
        whose ``source`` names the card (``bot/kb/provenance.py``)."""
        text = body.strip()
        _, chunks = chunk_markdown(text, fallback_title=title)
        digest = hashlib.sha256(f"{title}\n{text}\n{url or ''}".encode()).hexdigest()
        article = ArticleInput(
            source=source or f"slack:{author}:{digest[:16]}",
            title=title.strip(),
            content_hash=digest,
            chunks=chunks or [KnowledgeChunkInput(heading=title.strip(), text=text)],
            url=url or None,
        )
        article_id = await self.repo.upsert(article)
        await self.retriever.embed_missing()
        return article_id

    # -- reading ------------------------------------------------------------------------

    async def lookup(
        self,
        query: str,
        *,
        limit: int = 5,
        mode: Mode | None = None,
        judged: int = 1,
        customers: bool = False,
    ) -> Lookup:
        """The best passages for a query; ``customers``: only those customers may be answered
        from (``bot/kb/provenance.py``)."""
        only = _citable if customers else None
        return await self.retriever.lookup(query, limit=limit, mode=mode, judged=judged, only=only)

    async def search(self, query: str, *, limit: int = 5) -> list[KnowledgeHit]:
        return (await self.lookup(query, limit=limit)).hits

    async def articles(self) -> list[KnowledgeArticle]:
        return await self.repo.articles()

    async def article(self, article_id: int) -> tuple[KnowledgeArticle, list[KnowledgeHit]] | None:
        return await self.repo.article(article_id)

    async def remove(self, article_id: int) -> bool:
        return await self.repo.remove([article_id]) == 1

    async def stats(self) -> dict[str, int]:
        return await self.repo.stats()
