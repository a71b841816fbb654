"""What every format module shares: the result type, the refusal, and the section collector.

``Sections`` is the one heading-path model: Markdown, reStructuredText and HTML all file their
text through it, so a chunk's heading reads the same ("Setup › Install") whatever the format.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from persistence.records import ArticleInput, KnowledgeChunkInput

# Joins a heading path, the same in every format.
PATH_SEPARATOR = " › "
_BLANK_RUNS = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class ParsedSource:
    articles: list[ArticleInput]
    problems: list[str] = field(default_factory=list)


class UnsupportedSource(ValueError):
    """The whole file was refused; the message says why, in words for the importing user."""


def sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def split_lines(text: str) -> list[str]:
    # Only real line breaks: form feeds and Unicode separators stay inside their line.
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def whole_file(
    path_label: str, raw: bytes, title: str, chunks: list[KnowledgeChunkInput]
) -> ParsedSource:
    """One article for the whole file, hashed over its raw bytes."""
    if not chunks:
        # An article without chunks can never be found by search; storing it would hide the
        # fact that nothing was imported.
        raise UnsupportedSource("no text to import (only headings, markup or navigation)")
    return ParsedSource(
        articles=[
            ArticleInput(source=path_label, title=title, content_hash=sha256(raw), chunks=chunks)
        ],
        problems=[],
    )


class Sections:
    """Collects body lines under a heading path: every format's sections, Markdown's included.

    The first level-1 heading seen before any text or other heading names the article and is
    not a section; text with no heading above it is filed under the article title.
    """

    def __init__(self, *, squeeze_blank_lines: bool = True) -> None:
        # Markup the parsers drop leaves runs of blank lines behind; Markdown keeps its own.
        self.squeeze_blank_lines = squeeze_blank_lines
        self.first_title: str | None = None
        self.path: list[tuple[int, str]] = []
        # None stands for "the article title", which HTML only knows at the end.
        self.chunks: list[tuple[str | None, str]] = []
        self.body: list[str] = []

    def flush(self) -> None:
        # Dropped blocks leave their blank lines behind; one blank line is enough.
        content = "\n".join(self.body)
        if self.squeeze_blank_lines:
            content = _BLANK_RUNS.sub("\n\n", content)
        content = content.strip()
        if content:
            heading = PATH_SEPARATOR.join(h for _, h in self.path) or None
            self.chunks.append((heading, content))
        self.body.clear()

    def heading(self, level: int, text: str) -> None:
        self.flush()
        if level == 1 and self.first_title is None and not self.chunks and not self.path:
            self.first_title = text
            return
        self.path = [(lvl, h) for lvl, h in self.path if lvl < level] + [(level, text)]

    def finish(self, title: str) -> list[KnowledgeChunkInput]:
        self.flush()
        return [KnowledgeChunkInput(heading=h or title, text=t) for h, t in self.chunks]
