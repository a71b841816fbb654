"""Markdown and plain text: the one Markdown section splitter.

``chunk_markdown`` splits along ATX headings ("## Install") into heading-path chunks; the first
top-level heading names the article, and headings inside code fences are text. Plain text is
read the same way (a text file without headings is one chunk under the file's title).
"""

from __future__ import annotations

import re

from bot.kb.formats.common import ParsedSource, Sections, whole_file
from persistence.records import KnowledgeChunkInput

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)(?:\s+#+)?\s*$")


def chunk_markdown(text: str, *, fallback_title: str) -> tuple[str, list[KnowledgeChunkInput]]:
    """Split along headings; each chunk keeps its heading path ("Setup › Install"). The first
    top-level heading names the article; headings inside code fences are text."""
    sections = Sections(squeeze_blank_lines=False)
    in_fence = False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match is None:
            sections.body.append(line)
        else:
            sections.heading(len(match.group(1)), match.group(2).strip())
    title = sections.first_title or fallback_title
    return title, sections.finish(title)


def parse_markdown(path_label: str, raw: bytes, text: str, fallback: str) -> ParsedSource:
    title, chunks = chunk_markdown(text, fallback_title=fallback)
    return whole_file(path_label, raw, title, chunks)
