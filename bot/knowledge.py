"""The first knowledge base: import Markdown and text files, chunk them by heading, search BM25.

Search text comes from customers, so it is never handed to FTS5 as query syntax: it is cut into
words, each word quoted, and the words OR-ed, so quotes, ``NEAR``, ``*``, ``-`` and brackets in a
question are just characters.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from persistence.knowledge import KnowledgeRepository
from persistence.records import ArticleInput, KnowledgeChunkInput, KnowledgeHit

SUPPORTED_SUFFIXES = {".md", ".markdown", ".txt", ".text"}
MAX_FILE_BYTES = 2_000_000
# ATX headings; a closing run of '#' counts only after a space ("## Using C#" keeps its '#').
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)(?:\s+#+)?\s*$")
_WORD = re.compile(r"\w+", re.UNICODE)
# Words that match nearly every chunk and so only add noise to an OR query.
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "this",
        "to",
        "us",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "hi",
        "hello",
        "thanks",
        "please",
    ]
)


@dataclass
class ImportSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def describe(self) -> str:
        lines = [
            f"added {self.added}, updated {self.updated}, unchanged {self.unchanged},"
            f" skipped {len(self.skipped)}"
        ]
        lines += [f"  skipped {path}: {reason}" for path, reason in self.skipped]
        return "\n".join(lines)


def chunk_markdown(text: str, *, fallback_title: str) -> tuple[str, list[KnowledgeChunkInput]]:
    """Split along headings; each chunk keeps its heading path ("Setup › Install")."""
    title = fallback_title
    path: list[tuple[int, str]] = []
    chunks: list[KnowledgeChunkInput] = []
    body: list[str] = []
    in_fence = False

    def flush() -> None:
        content = "\n".join(body).strip()
        if content:
            heading = " › ".join(h for _, h in path) or title
            chunks.append(KnowledgeChunkInput(heading=heading, text=content))
        body.clear()

    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match is None:
            body.append(line)
            continue
        flush()
        level, heading = len(match.group(1)), match.group(2).strip()
        if level == 1 and title == fallback_title and not chunks and not path:
            # The first top-level heading names the article; it is not a section of it.
            title = heading
            continue
        path = [(lvl, h) for lvl, h in path if lvl < level] + [(level, heading)]
    flush()
    return title, chunks


def fts_query(text: str) -> str:
    """A safe FTS5 MATCH expression: quoted words OR-ed together, stopwords dropped."""
    words = [w.lower() for w in _WORD.findall(text)]
    terms = [w for w in words if w not in _STOPWORDS] or words
    unique = list(dict.fromkeys(terms))[:32]
    return " OR ".join(f'"{w}"' for w in unique)


class KnowledgeBase:
    def __init__(self, repo: KnowledgeRepository) -> None:
        self.repo = repo

    async def import_paths(self, paths: list[Path]) -> ImportSummary:
        summary = ImportSummary()
        for file in self._files(paths, summary):
            await self._import_file(file, summary)
        return summary

    def _files(self, paths: list[Path], summary: ImportSummary) -> list[Path]:
        files: list[Path] = []
        for path in paths:
            if path.is_dir():
                files += sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
                )
            elif path.is_file():
                if path.suffix.lower() in SUPPORTED_SUFFIXES:
                    files.append(path)
                else:
                    summary.skipped.append((str(path), "not a .md or .txt file"))
            else:
                summary.skipped.append((str(path), "no such file or folder"))
        return files

    async def _import_file(self, file: Path, summary: ImportSummary) -> None:
        source = str(await asyncio.to_thread(file.resolve))
        try:
            raw = await asyncio.to_thread(file.read_bytes)
        except OSError as exc:
            summary.skipped.append((str(file), f"unreadable: {exc.strerror}"))
            return
        if len(raw) > MAX_FILE_BYTES:
            summary.skipped.append((str(file), f"larger than {MAX_FILE_BYTES} bytes"))
            return
        if b"\x00" in raw:
            summary.skipped.append((str(file), "binary file"))
            return
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            summary.skipped.append((str(file), "not UTF-8 text"))
            return
        if not text.strip():
            summary.skipped.append((str(file), "empty file"))
            return
        digest = hashlib.sha256(raw).hexdigest()
        previous = await self.repo.content_hash(source)
        if previous == digest:
            summary.unchanged += 1
            return
        fallback = file.stem.replace("-", " ").replace("_", " ").strip().capitalize()
        title, chunks = chunk_markdown(text, fallback_title=fallback)
        await self.repo.upsert(
            ArticleInput(source=source, title=title, content_hash=digest, chunks=chunks)
        )
        if previous is None:
            summary.added += 1
        else:
            summary.updated += 1

    async def search(self, query: str, *, limit: int = 5) -> list[KnowledgeHit]:
        return await self.repo.search(fts_query(query), limit=limit)
